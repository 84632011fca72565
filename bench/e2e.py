"""Time a full `dvc repro` of the bundled sample from scratch, stage by stage.

    python bench/e2e.py            # prints seconds per stage and the total

Works on a temporary git copy of the project (tracked and untracked files, no data), so
the workspace and its DVC cache are untouched. Target on the 2-core dev machine: <= 180 s.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
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


def main() -> None:
    env = dict(
        os.environ,
        DVC_NO_ANALYTICS="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    with tempfile.TemporaryDirectory(prefix="arxiv2lm-e2e-") as tmp:
        dest = Path(tmp) / "proj"
        copy_project(dest)
        times = {}
        for stage in STAGES:
            t0 = time.perf_counter()
            proc = subprocess.run(
                ["dvc", "repro", "--force", "--single-item", stage],
                cwd=dest,
                env=env,
                text=True,
                capture_output=True,
            )
            times[stage] = time.perf_counter() - t0
            if proc.returncode:
                sys.exit(f"stage {stage} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"{'stage':<10} {'seconds':>8}")
    for stage, s in times.items():
        print(f"{stage:<10} {s:8.1f}")
    print(f"{'total':<10} {sum(times.values()):8.1f}   (target <= 180 s)")


if __name__ == "__main__":
    main()
