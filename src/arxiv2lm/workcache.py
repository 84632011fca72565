"""Content-addressed work units: a stage's result for one chunk, reused across runs.

DVC reruns a stage when any input changes; a monthly arXiv update adds one chunk and
changes nothing else. Stages therefore split their work into units (one per source chunk),
key each unit by what determines its result (the unit's input digest, the stage params, the
code of the cores it runs), and keep finished units in a store outside DVC's outputs. A rerun
computes only the units whose key is new and hard-links the rest into its output.

>>> key = unit_key("validate", "949ae880...", params, code_digest(archives))  # doctest: +SKIP
>>> WorkCache(".arxiv2lm/work/validate").has(key)                           # doctest: +SKIP
False
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from arxiv2lm.io import atomic_path, iter_parquet, write_json

PARTS = "parts"  # per-chunk outputs live in <stage dir>/parts/<chunk>.parquet


def code_digest(*modules: ModuleType) -> str:
    """sha256 over the source bytes of the given modules (the code version of a unit)."""
    h = hashlib.sha256()
    for mod in sorted(modules, key=lambda m: m.__name__):
        h.update(mod.__name__.encode())
        h.update(Path(mod.__file__ or "").read_bytes())
    return h.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, read in 1 MiB blocks: the input digest of a unit made from a part."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def unit_key(stage: str, input_digest: str, params: Any, code: str) -> str:
    """The key of one unit: stage, input, params (a dataclass or JSON value) and code."""
    p = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else params
    blob = json.dumps([stage, input_digest, p, code], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def link_or_copy_file(src: Path, dst: Path) -> None:
    """Hard-link (no second copy on disk), copying across filesystems."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


class WorkCache:
    """A folder of finished units, `<key>/<file>`; a unit exists only once complete."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root else None

    def _dir(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return self.root is not None and (self._dir(key) / "COMPLETE").exists()

    def files(self, key: str) -> Path:
        return self._dir(key)

    def record_run(self, run: dict[str, Any]) -> None:
        """Write what this run did (units computed/reused) to `<root>/last_run.json`. It
        depends on the cache, so it is never part of a stage's outputs."""
        if self.root is not None:
            write_json(run, self.root / "last_run.json")

    def put(self, key: str, files: dict[str, Path]) -> None:
        """Store finished files under `key` (moved in, then marked complete)."""
        if self.root is None:
            return
        with atomic_path(self._dir(key)) as tmp:
            tmp.mkdir(parents=True)
            for name, path in files.items():
                link_or_copy_file(path, tmp / name)
            (tmp / "COMPLETE").write_text("")
            if self._dir(key).exists():  # another run finished it first
                shutil.rmtree(self._dir(key))


def chunk_order(stem: str) -> tuple[str, str]:
    """Sort key of `arXiv_src_YYMM_NNN` in time order across 1999/2000.

    >>> sorted(["arXiv_src_2301_001", "arXiv_src_9901_001"], key=chunk_order)
    ['arXiv_src_9901_001', 'arXiv_src_2301_001']
    """
    parts = stem.split("_")
    yymm, seq = (parts[2], parts[3]) if len(parts) >= 4 else ("", stem)
    return (("19" if yymm >= "91" else "20") + yymm, seq)


def part_files(stage_dir: str | os.PathLike[str]) -> list[Path]:
    """A stage's per-chunk parts, `<dir>/parts/<chunk>.parquet`, in chunk (time) order."""
    return sorted((Path(stage_dir) / PARTS).glob("*.parquet"), key=lambda p: chunk_order(p.stem))


def iter_parts(
    stage_dir: str | os.PathLike[str], columns: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of every part in chunk order, a bounded batch at a time."""
    for part in part_files(stage_dir):
        yield from iter_parquet(part, columns, batch_rows=64)
