"""Time a full `dvc repro` of the bundled sample from scratch, stage by stage.

    python bench/e2e.py            # prints wall and CPU seconds per stage and the total

Works on a temporary git copy of the project (tracked and untracked files, no data), so
the workspace and its DVC cache are untouched. Target on the 2-core dev machine: <= 180 s.

The machine is shared, so wall time alone is noisy: each stage also reports its CPU
seconds (user + sys of `dvc` and every process under it, the pool workers included: the
bench adopts and reaps the forkserver a stage never waits for) and the load average is
printed at start and end; a wall time far above CPU / cores on a loaded machine is
contention, not the pipeline.
"""

from __future__ import annotations

import ctypes
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
STAGES = [
    "ingest",
    "filter",
    "validate",
    "extract",
    "normalize",
    "tokenizer",
    "shard",
    "pretrain",
    "evaluate",
    "report",
]


def copy_project(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.split()
    for rel in files:
        if (ROOT / rel).is_file() and not rel.startswith(("data/", "models/")):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "bench"], cwd=dest, check=True)


@dataclass(frozen=True)
class StageTime:
    wall_s: float
    cpu_s: float  # user + sys of the stage's waited-for processes, summed over cores


def adopt_orphans() -> None:
    """Make this process the reaper of its descendants' orphans (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def run_cmd(cmd: str | list[str], cwd: Path, env: dict[str, str] | None, log: Path) -> tuple:
    """Run a command and reap it and every orphan it leaves (after `adopt_orphans`):
    (exit code, wall s, CPU s of all of them, peak RSS KiB of the largest one)."""
    t0 = time.perf_counter()
    cpu_s, rss_kib, status = 0.0, 0, 0
    with open(log, "wb") as out:
        shell = isinstance(cmd, str)
        proc = subprocess.Popen(cmd, shell=shell, cwd=cwd, env=env, stdout=out, stderr=out)
        while True:  # until no child is left: the command, then its adopted forkserver
            try:
                pid, st, ru = os.wait4(-1, 0)
            except ChildProcessError:
                break
            status = st if pid == proc.pid else status
            cpu_s += ru.ru_utime + ru.ru_stime  # each with its reaped descendants
            rss_kib = max(rss_kib, ru.ru_maxrss)  # Linux: KiB, largest single process
    return os.waitstatus_to_exitcode(status), time.perf_counter() - t0, cpu_s, rss_kib


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. "0.52 0.40 0.33"."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_stage(stage: str, cwd: Path, env: dict[str, str]) -> StageTime:
    """`dvc repro --force` one stage; exit with its output if it fails.

    >>> run_stage("ingest", proj, env).cpu_s  # doctest: +SKIP
    4.1
    """
    cmd = ["dvc", "repro", "--force", "--single-item", stage]
    log = cwd.parent / f"{stage}.log"
    code, wall_s, cpu_s, _ = run_cmd(cmd, cwd, env, log)
    if code:
        sys.exit(f"stage {stage} failed:\n{log.read_text()[-3000:]}")
    return StageTime(wall_s, cpu_s)


def table(times: dict[str, StageTime]) -> list[str]:
    """Rows of stage, wall s, CPU s and CPU/wall (about the cores a stage kept busy).

    >>> table({"ingest": StageTime(2.0, 3.0)})[1]
    'ingest        2.0     3.0     1.50'
    """
    rows = [f"{'stage':<10} {'wall s':>6} {'cpu s':>7} {'cpu/wall':>8}"]
    total = StageTime(sum(t.wall_s for t in times.values()), sum(t.cpu_s for t in times.values()))
    for name, t in [*times.items(), ("total", total)]:
        ratio = t.cpu_s / t.wall_s if t.wall_s else 0.0
        rows.append(f"{name:<10} {t.wall_s:6.1f} {t.cpu_s:7.1f} {ratio:8.2f}")
    return rows


def main() -> None:
    env = dict(
        os.environ,
        DVC_NO_ANALYTICS="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    adopt_orphans()  # so the pool workers under each stage's forkserver are counted
    load_start = load_average()
    print(f"load average (1/5/15 min) at start: {load_start}", flush=True)
    with tempfile.TemporaryDirectory(prefix="arxiv2lm-e2e-") as tmp:
        dest = Path(tmp) / "proj"
        copy_project(dest)
        times = {stage: run_stage(stage, dest, env) for stage in STAGES}
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print("\n".join(table(times)) + "   (target: total wall <= 180 s)")
    print(f"load average (1/5/15 min): start {load_start}, end {load_average()}")


if __name__ == "__main__":
    main()
