"""Content-addressed work units: a stage's result for one chunk, reused across runs.

DVC reruns a stage when any input changes; a monthly arXiv update adds one chunk and
changes nothing else. Stages therefore split their work into units (one per source chunk),
key each unit by what determines its result (the unit's input digest, the stage params, the
code of the cores it runs), and keep finished units in a store outside DVC's outputs. A rerun
computes only the units whose key is new and hard-links the rest into its output.

The unit runner that uses this store is `arxiv2lm.units`.

>>> key = unit_key("validate", "949ae880...", params, code)  # doctest: +SKIP
>>> WorkCache(".arxiv2lm/work/validate").has(key)            # doctest: +SKIP
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
from typing import Any

import pyarrow.parquet as pq

from arxiv2lm.io import (
    atomic_path,
    file_sha256,
    iter_parquet,
    link_or_copy,
    read_json,
    write_json,
)
from arxiv2lm.sources.manifest import yymm_order

PARTS = "parts"  # per-chunk outputs live in <stage dir>/parts/<chunk>.parquet
RESULT = "result.json"  # a unit's JSON result, kept beside its files
DIGESTS = "digests.json"  # sha256 of input files by (device, inode, size, mtime)


def unit_key(stage: str, input_digest: str, params: Any, code: str) -> str:
    """The key of one unit: stage, input, params (a dataclass or JSON value) and code."""
    p = dataclasses.asdict(params) if dataclasses.is_dataclass(params) else params
    blob = json.dumps([stage, input_digest, p, code], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


class WorkCache:
    """A folder of finished units, `<key>/<file>`; a unit exists only once complete.
    `WorkCache(None)` stores nothing (every unit is computed)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(root) if root else None
        self._digests: dict[str, str] | None = None  # loaded on first use
        self._used: dict[str, str] = {}

    def digest(self, path: Path) -> str:
        """sha256 of an input file, remembered by its (device, inode, size, mtime) as DVC
        remembers its hashes: a part hard-linked from a cache keeps its inode and mtime, so
        a monthly run hashes only the new parts instead of reading the whole corpus."""
        if self.root is None:
            return file_sha256(path)
        if self._digests is None:
            memo = self.root / DIGESTS
            self._digests = read_json(memo) if memo.exists() else {}
        st = os.stat(path)
        stamp = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        sha = self._digests.get(stamp) or file_sha256(path)
        self._used[stamp] = sha
        return sha

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def _dir(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / key

    def has(self, key: str) -> bool:
        return self.root is not None and (self._dir(key) / "COMPLETE").exists()

    def record_run(self, run: dict[str, Any]) -> None:
        """Write what this run did (units computed/reused) to `<root>/last_run.json`. It
        depends on the cache, so it is never part of a stage's outputs."""
        if self.root is not None:
            write_json(run, self.root / "last_run.json")
            if self._used:  # the digests of this run's inputs; older ones are forgotten
                write_json(self._used, self.root / DIGESTS)

    def put(self, key: str, files: dict[str, Path], result: Any = None) -> None:
        """Store finished files (hard-linked in) and a JSON `result` under `key`, then mark
        the unit complete; a unit is never seen half-written."""
        if self.root is None:
            return
        with atomic_path(self._dir(key)) as tmp:
            tmp.mkdir(parents=True)
            for name, path in files.items():
                link_or_copy(path, tmp / name)
            write_json(result, tmp / RESULT)
            (tmp / "COMPLETE").write_text("")
            if self._dir(key).exists():  # another run finished it first
                shutil.rmtree(self._dir(key))

    def link(self, key: str, files: dict[str, Path]) -> Any:
        """Hard-link the files of a complete unit to where they are wanted (`name -> path`);
        returns its JSON result."""
        for name, path in files.items():
            link_or_copy(self._dir(key) / name, path)
        return read_json(self._dir(key) / RESULT)


def chunk_order(stem: str) -> tuple[str, str]:
    """Sort key of `arXiv_src_YYMM_NNN` in time order across 1999/2000.

    >>> sorted(["arXiv_src_2301_001", "arXiv_src_9901_001"], key=chunk_order)
    ['arXiv_src_9901_001', 'arXiv_src_2301_001']
    """
    parts = stem.split("_")
    yymm, seq = (parts[2], parts[3]) if len(parts) >= 4 else ("", stem)
    return (yymm_order(yymm), seq)


def part_files(stage_dir: str | os.PathLike[str]) -> list[Path]:
    """A stage's per-chunk parts, `<dir>/parts/<chunk>.parquet`, in chunk (time) order."""
    return sorted((Path(stage_dir) / PARTS).glob("*.parquet"), key=lambda p: chunk_order(p.stem))


def iter_parts(
    stage_dir: str | os.PathLike[str], columns: list[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of every part in chunk order, a bounded batch at a time."""
    for part in part_files(stage_dir):
        yield from iter_parquet(part, columns, batch_rows=64)


def iter_parts_where(
    stage_dir: str | os.PathLike[str], ids: set[str], columns: list[str]
) -> Iterator[dict[str, Any]]:
    """The rows of every part whose `id` is in `ids`, in chunk order. Only the row groups
    holding one are read (their `id` column first), so picking a few thousand papers out of
    a corpus reads those papers' row groups, not every text."""
    cols = list(dict.fromkeys(["id", *columns]))
    for part in part_files(stage_dir):
        pf = pq.ParquetFile(part)
        for group in range(pf.num_row_groups):
            if ids.isdisjoint(pf.read_row_group(group, columns=["id"]).column(0).to_pylist()):
                continue
            for row in pf.read_row_group(group, columns=cols).to_pylist():
                if row["id"] in ids:
                    yield {k: row[k] for k in columns}
