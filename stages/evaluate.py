"""Stage `evaluate`: the exported model on the val split -> reports/evaluate.json.

    python stages/evaluate.py data/shard models/export reports/evaluate.json

Loads `<export>/model.safetensors` + `config.json` (no DeepSpeed), checks that the export's
tokenizer hash matches the shards, and writes loss, perplexity, bits per byte and
next-token accuracy (inside math vs prose) overall and per domain (a DVC metrics file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from arxiv2lm.io import write_json
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.tokens.loader import ShardError, ShardSet
from arxiv2lm.train.evaluate import MathTracker, evaluate
from arxiv2lm.train.export import load_export


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shard_dir", type=Path)
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("out_json", type=Path)
    args = ap.parse_args(argv)
    try:
        params = load_params("evaluate")
    except ParamsError as err:
        sys.exit(f"evaluate: {err}")
    try:
        model, config = load_export(args.export_dir, dtype=torch.float32)
        val = ShardSet.open(args.shard_dir, "val", config["tokenizer_sha256"])
    except (FileNotFoundError, ShardError, ValueError) as err:
        sys.exit(f"evaluate: {err}")
    tracker = MathTracker.from_model_file(args.export_dir / "tokenizer.model", val.eos_id)
    try:
        metrics = evaluate(model, val, tracker, params.seq_len, params.batch_size, params.batches)
    except ValueError as err:
        sys.exit(f"evaluate: {err}")
    metrics["model"] = {
        "params": model.num_params(),
        "steps": config.get("steps"),
        "train_tokens": config.get("train_tokens"),
        "seq_len": params.seq_len,
    }
    write_json(metrics, args.out_json)
    print(
        f"evaluate: val loss {metrics['loss']:.4f}, ppl {metrics['perplexity']:.1f}, "
        f"{metrics['bits_per_byte']:.3f} bits/byte, accuracy {metrics['accuracy']:.3f}"
    )


if __name__ == "__main__":
    main()
