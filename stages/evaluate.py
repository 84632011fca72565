"""Stage `evaluate`: the exported model on the val split -> reports/evaluate.json.

    python stages/evaluate.py data/shard models/export reports/evaluate.json \
        --hf models/hf --yield-json reports/yield.json

Loads `<export>/model.safetensors` + `config.json` (no DeepSpeed), checks that the export's
tokenizer hash matches the shards, scores every val document (or `max_docs` of them, a
seeded sample across the split) at `seq_len` (null: the model's context length), and
writes loss, bits per byte over the scored bytes, perplexity and next-token accuracy,
overall, inside math vs prose and per domain (a DVC metrics file).

With `--hf`, it then writes the model in the ecosystem's format: a Hugging Face Llama folder
(`AutoModelForCausalLM` / `AutoTokenizer`) with a model card holding the architecture, the
tokens seen, the data lineage (git revision, dvc.lock hashes, params, the yield funnel of
`--yield-json`) and these evaluation results.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import torch

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import read_json, write_json
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.tokens.loader import ShardError, ShardSet
from arxiv2lm.train.card import lineage, model_card
from arxiv2lm.train.evaluate import PieceTable, evaluate
from arxiv2lm.train.export import load_export
from arxiv2lm.train.hf_export import save_hf
from arxiv2lm.train.model import GPT


def _bpb(group: dict[str, Any]) -> str:
    return f"{group['bits_per_byte']:.3f}" if "bits_per_byte" in group else "n/a"


def export_hf(
    model: GPT, config: dict[str, Any], args: argparse.Namespace, metrics: dict[str, Any]
) -> None:
    """The Hugging Face folder and its card; a tokenizer HF cannot mirror exactly is named."""
    yield_json = args.yield_json
    info = {
        "name": f"arxiv2lm-{config.get('preset', 'model')}",
        "model": dataclasses.asdict(model.cfg),
        "n_params": model.num_params(),
        "steps": config.get("steps"),
        "train_tokens": config.get("train_tokens"),
        "pretrain_params": {
            "resolved": config.get("recipe"),
            "params.yaml": config.get("pretrain_params"),
        },
        "lineage": {**lineage(Path.cwd()), "tokenizer_sha256": config.get("tokenizer_sha256")},
        "yield": read_json(yield_json) if yield_json and yield_json.is_file() else None,
        "evaluation": {k: v for k, v in metrics.items() if k != "model"},
    }
    tokenizer = args.export_dir / "tokenizer.model"
    try:
        save_hf(model.to("cpu", config_dtype(config)), args.hf, tokenizer, model_card(info))
    except ValueError as err:  # e.g. a unigram tokenizer: HF's would not give the same ids
        sys.exit(f"evaluate: no Hugging Face export: {err}")


def config_dtype(config: dict[str, Any]) -> torch.dtype:
    """The dtype the weights were exported in (bf16 after bf16 training)."""
    return getattr(torch, str(config.get("dtype", "float32")))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shard_dir", type=Path)
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("out_json", type=Path)
    ap.add_argument("--hf", type=Path, help="write the Hugging Face export (with its card) here")
    ap.add_argument("--yield-json", type=Path, help="the report stage's yield, for the card")
    args = ap.parse_args(argv)
    try:
        params = load_params("evaluate")
    except ParamsError as err:
        sys.exit(f"evaluate: {err}")
    try:
        model, config = load_export(args.export_dir, dtype=torch.float32)
        val = ShardSet.open(args.shard_dir, "val", config["tokenizer_sha256"])
        table = PieceTable.from_model_file(args.export_dir / "tokenizer.model")
    except (FileNotFoundError, OSError, ShardError, ValueError) as err:
        sys.exit(f"evaluate: {err}")
    # The whole split is a lot of forward passes: use the GPU when there is one.
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    try:
        metrics = evaluate(
            model, val, table, params.seq_len, params.batch_size, params.max_docs, params.seed
        )
    except ValueError as err:
        sys.exit(f"evaluate: {err}")
    metrics["model"] = {
        "params": model.num_params(),
        "steps": config.get("steps"),
        "train_tokens": config.get("train_tokens"),
        "seq_len": model.cfg.seq_len,
    }
    if "bits_per_byte" not in metrics:
        sys.exit(f"evaluate: the val split of {args.shard_dir} has no bytes to score")
    write_json(metrics, args.out_json)
    if args.hf is not None:
        export_hf(model, config, args, metrics)
    print(
        f"evaluate: {metrics['docs']} docs, {metrics['tokens']} tokens at seq_len "
        f"{metrics['seq_len']}: loss {metrics['loss']:.4f}, "
        f"{metrics['bits_per_byte']:.3f} bits/byte (math {_bpb(metrics['math'])}, "
        f"prose {_bpb(metrics['prose'])}), accuracy {metrics['accuracy']:.3f}"
        + (f"; Hugging Face export in {args.hf}" if args.hf is not None else "")
    )


if __name__ == "__main__":
    main()
