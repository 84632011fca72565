"""The DeepSpeed configuration, generated from params (never a second hand-kept file).

Pure functions: no DeepSpeed import here, so the config can be built and tested anywhere.

>>> deepspeed_config(params, 1, False)["zero_optimization"]["stage"]  # doctest: +SKIP
2
"""

from __future__ import annotations

import re
from typing import Any

import torch

from arxiv2lm.params import PretrainParams

_ARCH_SUFFIX = re.compile(r"^(\d+\.\d+)[a-z]+")  # "9.0a", "10.0f": arch-specific variants


def deepspeed_config(params: PretrainParams, world_size: int, on_gpu: bool) -> dict[str, Any]:
    """The DeepSpeed JSON, generated from params (the LR is set by our schedule each step).

    >>> deepspeed_config(params, 1, False)["zero_optimization"]["stage"]   # doctest: +SKIP
    2
    """
    if params.zero_stage not in (0, 1, 2):
        raise ValueError(f"zero_stage {params.zero_stage}: the export supports ZeRO 0, 1 or 2")
    cfg: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": params.micro_batch,
        "gradient_accumulation_steps": params.grad_accum,
        "train_batch_size": params.micro_batch * params.grad_accum * world_size,
        "gradient_clipping": params.grad_clip,
        "bf16": {"enabled": params.bf16},
        "zero_optimization": {
            "stage": params.zero_stage,
            "contiguous_gradients": on_gpu,
            "overlap_comm": on_gpu,  # CUDA streams; nothing to overlap on CPU
        },
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }
    if on_gpu:
        cfg["optimizer"] = {
            "type": "Adam",  # FusedAdam; needs TORCH_CUDA_ARCH_LIST=9.0 on the H100 image
            "params": {
                "lr": params.lr,
                "betas": [0.9, 0.95],
                "eps": 1e-8,
                "weight_decay": params.weight_decay,
                "adam_w_mode": True,
            },
        }
    else:
        # DeepSpeed's CPU Adam op compiles for minutes; a client torch AdamW needs this flag.
        cfg["zero_force_ds_cpu_optimizer"] = False
    return cfg


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices only (nanoGPT): norms' gains stay undecayed."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def deepspeed_arch_list(value: str) -> str:
    """TORCH_CUDA_ARCH_LIST as DeepSpeed's JIT builder can read it: no arch-specific suffixes.

    DeepSpeed 0.19.8 parses each entry as integers, so the "9.0a" that CUDA images set fails
    FusedAdam's build with `invalid literal for int() with base 10: '0a'`; "9.0" runs on H100.

    >>> deepspeed_arch_list("8.0;9.0a 10.0+PTX")
    '8.0;9.0;10.0+PTX'
    """
    return ";".join(_ARCH_SUFFIX.sub(r"\1", cc) for cc in value.replace(" ", ";").split(";") if cc)
