"""Checkpoint folders: `step_000100/` written whole or not at all, tagged with a run hash.

A checkpoint is written into `partial-step_000100/`, gets `meta.json`, then the `COMPLETE`
marker last, and is renamed to `step_000100/` with `os.replace`; a folder without the marker
(a run killed mid-save) is never resumed from.

>>> finalize(run, 100, run_hash="ab12", extra={})            # doctest: +SKIP
PosixPath('.../<run>/step_000100')
>>> latest_complete(tmp)                                      # doctest: +SKIP
(100, PosixPath('.../step_000100'), {'step': 100, 'run_hash': 'ab12'})
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from arxiv2lm.io import read_json, write_json

MARKER = "COMPLETE"
META = "meta.json"
STEP_DIR = re.compile(r"^step_(\d{6,})$")
RUN_DIR = re.compile(r"^[0-9a-f]{16}$")
# Params that define the trajectory besides the recipe's numbers. Everything else (gpus,
# processes, threads, micro-batch split, activation checkpointing, compile, logging and
# checkpoint cadence) is how a run executes: changing it continues the same run.
HASHED = ("weight_decay", "grad_clip", "zero_stage", "bf16", "optimizer", "seed", "resume_from")


def tag(step: int) -> str:
    return f"step_{step:06d}"


def partial_tag(step: int) -> str:
    return f"partial-{tag(step)}"


def run_hash(
    params: Any, recipe: Any, data_meta: dict[str, Any], layout: list[Any] | None = None
) -> str:
    """sha256 over what defines the run: the recipe (model, global batch in sequences,
    schedule, phases), the HASHED params, the data identity and the parameter layout (names
    and shapes: a checkpoint of an older model code is never loaded into a new one).

    >>> len(run_hash(params, recipe, meta))                   # doctest: +SKIP
    64
    """
    train = data_meta.get("splits", {}).get("train", {})
    doc = {
        "recipe": recipe.defining(),
        "params": {k: getattr(params, k) for k in HASHED},
        "tokenizer_sha256": data_meta.get("tokenizer_sha256"),
        "train_tokens": train.get("tokens"),
        "train_docs": train.get("docs"),
        "layout": layout,
    }
    blob = json.dumps(doc, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def run_dir(ckpt_dir: Path, run_hash: str) -> Path:
    """Each run keeps its checkpoints in its own folder: `<ckpt_dir>/<run_hash[:16]>/`."""
    return ckpt_dir / run_hash[:16]


def _complete(path: Path) -> dict[str, Any] | None:
    """The meta of a complete checkpoint folder, or None for a half-written one."""
    if not (path / MARKER).is_file() or not (path / META).is_file():
        return None
    try:
        return read_json(path / META)
    except json.JSONDecodeError:
        return None


def list_complete(ckpt_dir: Path) -> list[tuple[int, Path, dict[str, Any]]]:
    """Complete checkpoints in `ckpt_dir`, oldest first."""
    out = []
    if ckpt_dir.is_dir():
        for child in ckpt_dir.iterdir():
            m = STEP_DIR.match(child.name)
            meta = _complete(child) if m and child.is_dir() else None
            if meta is not None:
                out.append((int(m.group(1)), child, meta))
    return sorted(out, key=lambda t: t[0])


def latest_complete(
    ckpt_dir: Path, run_hash: str | None = None
) -> tuple[int, Path, dict[str, Any]] | None:
    """The newest complete checkpoint (of run `run_hash` when given), or None."""
    found = [c for c in list_complete(ckpt_dir) if run_hash is None or c[2]["run_hash"] == run_hash]
    return found[-1] if found else None


def prepare(ckpt_dir: Path, run_hash: str) -> Path:
    """Make this run's folder, clean its half-written saves, and return it.

    Checkpoints of other runs (other params, model or data) are never touched: they stay in
    their own folders, listed once so the user knows the disk they hold.
    """
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    mine = run_dir(ckpt_dir, run_hash)
    mine.mkdir(exist_ok=True)
    for child in sorted(mine.iterdir()):
        if child.is_dir() and child.name.startswith("partial-"):
            shutil.rmtree(child)
        elif child.is_dir() and STEP_DIR.match(child.name) and _complete(child) is None:
            print(f"pretrain: removing half-written checkpoint {child}")
            shutil.rmtree(child)
    others = [c for c in sorted(ckpt_dir.iterdir()) if c.is_dir() and c != mine]
    for other in others:
        saved = list_complete(other) if RUN_DIR.match(other.name) else []
        if saved:
            print(
                f"pretrain: keeping {other} (another run's checkpoints, latest step "
                f"{saved[-1][0]}); delete it yourself when it is no longer needed"
            )
    return mine


def finalize(
    ckpt_dir: Path, step: int, run_hash: str, extra: dict[str, Any], keep: int = 0
) -> Path:
    """Seal `partial-step_N/` (already holding the engine's files) as `step_N/`; keep the last K."""
    staging = ckpt_dir / partial_tag(step)
    final = ckpt_dir / tag(step)
    if not staging.is_dir():
        raise FileNotFoundError(f"checkpoint staging folder {staging} is missing")
    write_json({"step": step, "run_hash": run_hash, **extra}, staging / META)
    with (staging / MARKER).open("w") as fh:  # the marker is written last, then fsynced
        fh.write("ok\n")
        fh.flush()
        os.fsync(fh.fileno())
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    if keep > 0:
        prune(ckpt_dir, keep)
    return final


def prune(ckpt_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` complete checkpoints; returns what was removed."""
    done = list_complete(ckpt_dir)
    removed = [path for _, path, _ in done[:-keep]] if keep > 0 else []
    for path in removed:
        shutil.rmtree(path)
    return removed
