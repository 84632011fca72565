"""Atomic writes and bounded-batch Parquet I/O.

Everything a stage writes goes to a temporary name in the same folder and is moved into
place with `os.replace`, so DVC never caches a half-written file.

>>> with atomic_path("out.json") as tmp:          # doctest: +SKIP
...     tmp.write_text("{}")
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 256


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; move it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces `path` whole if the block succeeds.

    A stage that fails half-way leaves its previous output untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def fresh_dir(path: str | os.PathLike[str]) -> Path:
    """Empty (or create) an output folder: a stage rewrites its outputs whole."""
    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_csv(rows: list[dict[str, Any]], fields: list[str], path: str | os.PathLike[str]) -> None:
    """A small CSV (DVC plot data), atomically."""
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def write_parquet(table: pa.Table, path: str | os.PathLike[str]) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


class ParquetBatchWriter:
    """Append rows (dicts) to a Parquet file in bounded batches; atomic on `close()`.

    >>> with ParquetBatchWriter("docs.parquet", schema) as w:   # doctest: +SKIP
    ...     w.write({"id": "2301.00001", "text": "..."})
    """

    def __init__(
        self, path: str | os.PathLike[str], schema: pa.Schema, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        self._buf: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._buf.append(row)
        if len(self._buf) >= self.batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._buf:
            self._writer.write_table(pa.Table.from_pylist(self._buf, schema=self.schema))
            self.rows += len(self._buf)
            self._buf = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self._writer.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ParquetBatchWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def iter_parquet(
    path: str | os.PathLike[str],
    columns: Sequence[str] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[dict[str, Any]]:
    """Stream the rows of a Parquet file as dicts, `batch_rows` at a time in memory."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist (did the previous stage run?)")
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns) if columns else None):
        yield from batch.to_pylist()
