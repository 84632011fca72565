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
import ctypes
import fcntl
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from typing import IO

import torch

from arxiv2lm.io import read_json
from arxiv2lm.params import ParamsError, PretrainParams, load_params
from arxiv2lm.tokens.loader import ShardError
from arxiv2lm.train.recipe import GiB, Recipe, describe, estimate_memory, resolve_recipe

WORKER_ENV = "ARXIV2LM_PRETRAIN_WORKER"  # set for the children this process starts
PR_SET_PDEATHSIG = 1
_KILLED = re.compile(r"exitcode\s*:\s*-9\b|Signal 9 \(SIGKILL\)")


def die_with_parent(expected_parent: int | None = None) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a SIGKILLed stage or agent).

    If the parent is already gone (the race before prctl), exit at once.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:  # pragma: no cover
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    parent = os.getppid()
    if parent == 1 or (expected_parent is not None and parent != expected_parent):
        os._exit(1)


def lock_run_folder(ckpt_dir: Path) -> IO[str]:
    """An exclusive lock beside the checkpoint folder, held while this stage lives."""
    path = ckpt_dir.parent / f".{ckpt_dir.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise SystemExit(
            f"pretrain: {ckpt_dir} is in use by another training process (pid {holder}); "
            "stop it first, or wait for it to finish"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def processes(params: PretrainParams) -> int:
    return params.gpus if params.gpus > 0 else params.cpu_processes


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


def available_memory() -> float | None:
    """MemAvailable of this machine in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        return None
    return None


def child_command(params: PretrainParams, argv: list[str]) -> list[str]:
    script = str(Path(__file__).resolve())
    n = processes(params)
    if n == 1:
        return [sys.executable, script, *argv]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={n}", script, *argv]  # fmt: skip


def supervise(params: PretrainParams, argv: list[str], memory: dict[str, float]) -> int:
    """Run the training child, forward SIGTERM/SIGINT to it, and explain how it ended."""
    env = dict(os.environ, **{WORKER_ENV: str(os.getpid())})
    if params.gpus == 0:  # idle OpenMP threads spin for ms by default: poison on a busy box
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    cmd = child_command(params, argv)
    print("pretrain: running", " ".join(cmd), flush=True)
    child = subprocess.Popen(
        cmd, env=env, preexec_fn=die_with_parent, stderr=subprocess.PIPE, text=True
    )

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, forward)
    killed = False
    assert child.stderr is not None
    for line in child.stderr:  # passed through; torchrun names a SIGKILLed worker here
        sys.stderr.write(line)
        killed = killed or bool(_KILLED.search(line))
    rc = child.wait()
    if rc == -signal.SIGKILL or (rc != 0 and killed):
        print(
            f"pretrain: the training process was killed (SIGKILL), most likely by the "
            f"out-of-memory killer: preset {params.preset!r} needs about "
            f"{memory['total'] / GiB:.1f} GiB per process (estimate), this machine had "
            f"{(available_memory() or 0) / GiB:.1f} GiB available at the end. Lower "
            "micro_batch, keep activation_checkpointing on, or use a smaller preset.",
            file=sys.stderr,
        )
    return rc


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
    lock = lock_run_folder(args.ckpt_dir)
    try:
        rc = supervise(params, [a for a in argv if a != "--recipe"], memory)
    finally:
        lock.close()
    if rc:
        sys.exit(rc if rc > 0 else 128 - rc)
    return None


if __name__ == "__main__":
    main()
