"""Stage `pretrain`: token shards -> checkpoints, the exported model, DVCLive metrics.

    python stages/pretrain.py data/shard data/tokenizer models/pretrain models/export \\
        reports/pretrain
    python stages/pretrain.py --recipe data/shard data/tokenizer ...   # print the recipe only

Reads `<shard>/{train,val}.*` + `meta.json` and `<tokenizer>/tokenizer.model`; writes
checkpoints `<ckpt>/<run>/step_NNNNNN/` (one folder per run hash; DVC keeps `<ckpt>`
`persist: true`), the export `<export>/{model.safetensors,config.json,tokenizer.model}` and
the DVCLive folder `<live>/` (metrics.json, plots/metrics/*.tsv).

This process supervises: it prints the resolved recipe, checks memory, takes a lock on the
checkpoint folder (so a rerun never races a survivor), and runs the training in a child, one
process or `torchrun --nproc_per_node N` (`pretrain.gpus: N`, or `cpu_processes: N` on a
CPU). Children die with it (PR_SET_PDEATHSIG), and an out-of-memory kill is named.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import read_json
from arxiv2lm.params import ParamsError, PretrainParams, load_params
from arxiv2lm.tokens.loader import ShardError
from arxiv2lm.train.recipe import GiB, Recipe, describe, estimate_memory, resolve_recipe
from arxiv2lm.train.supervise import (
    WORKER_ENV,
    RunLocked,
    available_memory,
    child_command,
    die_with_parent,
    lock_run_folder,
    processes,
    supervise,
)


def plan(params: PretrainParams, shard_dir: Path) -> tuple[Recipe, dict[str, float]]:
    """The recipe on this machine's process count, and its memory estimate per process."""
    meta_path = shard_dir / "meta.json"
    if not meta_path.is_file():
        raise ShardError(f"{meta_path} does not exist (did the shard stage run?)")
    recipe = resolve_recipe(params, int(read_json(meta_path)["vocab_size"]), processes(params))
    memory = estimate_memory(
        recipe, params.zero_stage, params.activation_checkpointing,
        params.activation_checkpoint_every,
    )  # fmt: skip
    return recipe, memory


def run_worker(params: PretrainParams, args: argparse.Namespace) -> None:
    """Inside the child: die with the parent, train, print the summary (rank 0)."""
    from arxiv2lm.train.engine import train  # DeepSpeed loads here, in the worker only

    die_with_parent(int(os.environ[WORKER_ENV]) if "LOCAL_RANK" not in os.environ else None)
    summary = train(
        params, args.shard_dir, args.tokenizer_dir, args.ckpt_dir, args.export_dir, args.live_dir
    )
    if summary["rank"] == 0:
        print(
            f"pretrain: {summary['steps']} steps, {summary['tokens']:,} tokens, "
            f"val loss {summary['val_loss']:.4f}, {summary['tokens_per_s_avg']:,.0f} tok/s "
            f"on average ({summary['tokens_per_s']:,.0f} in the last window), "
            f"{summary['wall_s']:.1f} s in the loop, {summary['loss_spikes']} loss spikes"
        )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", action="store_true", help="print the resolved recipe and exit")
    for name in ("shard_dir", "tokenizer_dir", "ckpt_dir", "export_dir", "live_dir"):
        ap.add_argument(name, type=Path)
    args = ap.parse_args(argv)
    try:
        params = load_params("pretrain")
        if WORKER_ENV in os.environ:
            return run_worker(params, args)
        recipe, memory = plan(params, args.shard_dir)
    except (ParamsError, ShardError, ValueError) as err:
        sys.exit(f"pretrain: {err}")
    on_gpu = params.gpus > 0
    print(describe(recipe, memory, "GPU" if on_gpu else "process"), flush=True)
    if args.recipe:
        return None
    if on_gpu and torch.cuda.device_count() < params.gpus:
        sys.exit(f"pretrain: gpus {params.gpus} but {torch.cuda.device_count()} CUDA devices")
    have = available_memory()
    need = memory["total"] * (1 if on_gpu else processes(params))
    if not on_gpu and have is not None and need > have:
        sys.exit(
            f"pretrain: preset {params.preset!r} needs about {need / GiB:.1f} GiB of memory "
            f"(estimate) and this machine has {have / GiB:.1f} GiB available; use GPUs "
            "(pretrain.gpus), a smaller micro_batch or a smaller preset"
        )
    tok = args.tokenizer_dir / "tokenizer.model"
    if not tok.is_file():
        sys.exit(f"pretrain: {tok} not found (run the tokenizer stage first)")
    try:
        lock = lock_run_folder(args.ckpt_dir)
    except RunLocked as err:
        sys.exit(f"pretrain: {err}")
    try:
        cmd = child_command(params, Path(__file__).resolve(), [a for a in argv if a != "--recipe"])
        rc = supervise(params, cmd, memory)
    finally:
        lock.close()
    if rc:
        sys.exit(rc if rc > 0 else 128 - rc)
    return None


if __name__ == "__main__":
    main()
