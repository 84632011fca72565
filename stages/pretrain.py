"""Stage `pretrain`: token shards -> checkpoints, the exported model, DVCLive metrics.

    python stages/pretrain.py data/shard data/tokenizer models/pretrain models/export \\
        reports/pretrain

Reads `<shard>/{train,val}.*` + `meta.json` and `<tokenizer>/tokenizer.model`; writes
checkpoints `<ckpt>/step_NNNNNN/` (resumed from when the run hash matches; DVC should keep
this folder `persist: true`), the export `<export>/{model.safetensors,config.json,
tokenizer.model}` and the DVCLive folder `<live>/` (metrics.json, plots/metrics/*.tsv).

`pretrain.gpus`: 0 trains in one CPU process (DeepSpeed's CPU accelerator), 1 on one GPU,
N > 1 re-executes this same command under `torchrun --standalone --nproc_per_node N`, so
the dvc.yaml command is the same for every machine.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.tokens.loader import ShardError
from arxiv2lm.train.engine import train


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("shard_dir", "tokenizer_dir", "ckpt_dir", "export_dir", "live_dir"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args(argv)
    try:
        params = load_params("pretrain")
    except ParamsError as err:
        sys.exit(f"pretrain: {err}")
    if params.gpus < 0:
        sys.exit(f"pretrain: gpus {params.gpus} must be >= 0")
    if params.gpus > 0 and torch.cuda.device_count() < params.gpus:
        sys.exit(f"pretrain: gpus {params.gpus} but {torch.cuda.device_count()} CUDA devices")
    if params.gpus > 1 and "LOCAL_RANK" not in os.environ:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={params.gpus}",
            str(Path(__file__).resolve()),
            *argv,
        ]
        print("pretrain: launching", " ".join(cmd), flush=True)
        os.execv(sys.executable, cmd)  # torchrun takes this process's place (and its signals)
    tok = args.tokenizer_dir / "tokenizer.model"
    if not tok.is_file():
        sys.exit(f"pretrain: {tok} not found (run the tokenizer stage first)")
    try:
        summary = train(
            params,
            args.shard_dir,
            args.tokenizer_dir,
            args.ckpt_dir,
            args.export_dir,
            args.live_dir,
        )
    except (ShardError, ValueError) as err:
        sys.exit(f"pretrain: {err}")
    if summary["rank"] == 0:
        print(
            f"pretrain: {summary['steps']} steps, {summary['tokens']:,} tokens, "
            f"val loss {summary['val_loss']:.4f}, {summary['tokens_per_s']:,.0f} tok/s, "
            f"{summary['wall_s']:.1f} s in the loop, {summary['loss_spikes']} loss spikes"
        )


if __name__ == "__main__":
    main()
