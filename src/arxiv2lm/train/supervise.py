"""The pretrain stage's supervision of its training processes, Linux only.

The stage process takes a lock beside the checkpoint folder (a rerun never races a survivor),
then runs the training as its child (one process, or torchrun and its workers); every child
asks the kernel to SIGKILL it when its parent dies (PR_SET_PDEATHSIG), so `kill -9` of the
stage leaves no worker writing checkpoints, and a child killed by SIGKILL (what the OOM
killer sends) is named with the preset and its memory estimate.

>>> lock = lock_run_folder(Path("models/pretrain"))       # doctest: +SKIP
>>> rc = supervise(params, child_command(params, script, argv), memory)  # doctest: +SKIP
"""

from __future__ import annotations

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

from arxiv2lm.params import PretrainParams
from arxiv2lm.train.recipe import GiB

WORKER_ENV = "ARXIV2LM_PRETRAIN_WORKER"  # set for the children the stage starts
PR_SET_PDEATHSIG = 1
_KILLED = re.compile(r"exitcode\s*:\s*-9\b|Signal 9 \(SIGKILL\)")


class RunLocked(RuntimeError):
    """Another training process holds the checkpoint folder."""


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
    """An exclusive lock beside the checkpoint folder, held while the returned file is open."""
    path = ckpt_dir.parent / f".{ckpt_dir.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = path.open("a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "unknown"
        fh.close()
        raise RunLocked(
            f"{ckpt_dir} is in use by another training process (pid {holder}); "
            "stop it first, or wait for it to finish"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def processes(params: PretrainParams) -> int:
    return params.gpus if params.gpus > 0 else params.cpu_processes


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


def child_command(params: PretrainParams, script: Path, argv: list[str]) -> list[str]:
    """The stage's own `script` again, as one process or under torchrun (N processes)."""
    n = processes(params)
    if n == 1:
        return [sys.executable, str(script), *argv]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={n}", str(script), *argv]  # fmt: skip


def supervise(params: PretrainParams, cmd: list[str], memory: dict[str, float]) -> int:
    """Run the training child `cmd`, forward SIGTERM/SIGINT to it, and explain how it ended:
    a SIGKILL (the OOM killer's signal) is named with the preset and its memory estimate."""
    env = dict(os.environ, **{WORKER_ENV: str(os.getpid())})
    if params.gpus == 0:  # idle OpenMP threads spin for ms by default: poison on a busy box
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
