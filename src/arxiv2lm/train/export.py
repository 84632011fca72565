"""The exported model: `model.safetensors` + `config.json` + `tokenizer.model`, no DeepSpeed.

>>> model, config = load_export(Path("models/export"))        # doctest: +SKIP
>>> config["eos_id"], model.cfg.n_layer                         # doctest: +SKIP
(2, 4)
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from arxiv2lm.io import atomic_path, read_json, write_json
from arxiv2lm.train.model import GPT, ModelConfig

FORMAT_VERSION = 1
TIED = "head.weight"  # shares storage with embed.weight; safetensors stores it once


def save_export(model: GPT, out_dir: Path, tokenizer_model: Path, info: dict[str, Any]) -> Path:
    """Write the weights (in their training dtype), the config and the tokenizer to `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != TIED}
    dtype = str(next(iter(state.values())).dtype).removeprefix("torch.")
    with atomic_path(out_dir / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "pt"})
    with atomic_path(out_dir / "tokenizer.model") as tmp:
        shutil.copyfile(tokenizer_model, tmp)
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": "llama-style decoder (RMSNorm, rotary, SwiGLU, tied embeddings)",
        "model": dataclasses.asdict(model.cfg),
        "dtype": dtype,
        **info,
    }
    write_json(config, out_dir / "config.json")
    return out_dir


def load_export(export_dir: Path, dtype: torch.dtype | None = None) -> tuple[GPT, dict[str, Any]]:
    """Rebuild the model from an export folder (eval mode); `dtype` None keeps the stored one."""
    config_path = export_dir / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path} not found (did the pretrain stage run?)")
    config = read_json(config_path)
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{config_path}: format_version {config.get('format_version')} != {FORMAT_VERSION}"
        )
    cfg = ModelConfig(**config["model"])
    state = load_file(str(export_dir / "model.safetensors"))
    state[TIED] = state["embed.weight"]
    model = GPT(cfg)
    model.to(next(iter(state.values())).dtype)
    model.load_state_dict(state, strict=True)
    model.head.weight = model.embed.weight  # load_state_dict copies; keep the tie explicit
    if dtype is not None:
        model.to(dtype)
    model.eval()
    return model, config
