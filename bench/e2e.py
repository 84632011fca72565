"""Time a full `dvc repro` of the bundled sample from scratch, stage by stage.

    python bench/e2e.py            # prints wall and CPU seconds per stage and the total

Works on a temporary git copy of the project (tracked and untracked files, no data), so
the workspace and its DVC cache are untouched. Target on the 2-core dev machine: <= 180 s.

The machine is shared, so wall time alone is noisy: each stage also reports its CPU
seconds (user + sys of `dvc` and every process it waited for) and the load average is
printed at start and end; a wall time far above CPU / cores on a loaded machine is
contention, not the pipeline.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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


def child_cpu_s() -> float:
    """User + sys seconds of every terminated child this process has waited for, so far.

    >>> child_cpu_s() >= 0.0
    True
    """
    # RUSAGE_CHILDREN includes grandchildren (the stage command, its worker pool) once
    # their own parent has waited for them; a daemon nobody waits for is not counted.
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. "0.52 0.40 0.33"."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_stage(stage: str, cwd: Path, env: dict[str, str]) -> StageTime:
    """`dvc repro --force` one stage; exit with its output if it fails.

    >>> run_stage("ingest", proj, env).cpu_s  # doctest: +SKIP
    4.1
    """
    cpu0, t0 = child_cpu_s(), time.perf_counter()
    proc = subprocess.run(
        ["dvc", "repro", "--force", "--single-item", stage],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
    )
    wall_s, cpu_s = time.perf_counter() - t0, child_cpu_s() - cpu0
    if proc.returncode:
        sys.exit(f"stage {stage} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
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
