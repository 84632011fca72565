"""Atomic writes and bounded-batch Parquet I/O.

Everything a stage writes goes to a temporary name in the same folder and is moved into
place with `os.replace`, so DVC never caches a half-written file. A process killed with
SIGKILL cannot remove its temporaries (`.<name>.tmp-<pid>@<host>`, `.<name>.old-<pid>@<host>`);
the next atomic write into that folder on the same host does (`clean_stale_temps`).

>>> with atomic_path("out.json") as tmp:          # doctest: +SKIP
...     tmp.write_text("{}")
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

BATCH_ROWS = 256
_HASH_BLOCK = 1 << 20  # bytes per read when hashing a file
# The temporaries this module (and every writer that copies its naming) makes.
# `@<host>`: a folder shared by several hosts (a work cache on NFS) holds temporaries of
# processes this host cannot see; a name without it is this host's.
_TEMP_NAME = re.compile(r"^\..+\.(?:tmp|old)-(?P<pid>[0-9]+)(?:@(?P<host>[A-Za-z0-9._-]+))?$")
HOST = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"
# Slack between a process's start time (from /proc, whole-second boot time) and a temp's
# ctime before a live pid is judged a reuse; clock steps of a second or two are common.
_START_SLACK_S = 2.0
_cleaned: set[Path] = set()  # folders already cleaned by this process


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False  # 0 and below name process groups, never a temp's writer
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    except OverflowError:
        return False  # no pid is that large
    return True


def _start_time(pid: int) -> float | None:
    """Wall-clock start of process `pid` (Linux /proc), or None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        btime = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        # field 22, starttime in clock ticks after boot; the name (field 2) may hold spaces
        ticks = float(stat.rsplit(")", 1)[1].split()[19])
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _is_stale(pid: int, changed: float) -> bool:
    """Whether a temp named for `pid`, whose inode last changed at `changed`, has no writer.

    A dead pid has none. A live pid may be a reuse: if that process started after the
    temp's ctime it cannot have made it (a writer starts before its temp exists, and an
    inode's ctime is never before its creation; unlike mtime, copy2/utime/tar cannot set
    it back). Without /proc a live pid is trusted.
    """
    if not _pid_alive(pid):
        return True
    start = _start_time(pid)
    return start is not None and start > changed + _START_SLACK_S


def temp_sibling(path: Path, kind: str = "tmp") -> Path:
    """The temporary name of `path` for this process: `.<name>.<kind>-<pid>@<host>`."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}@{HOST}")


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporaries in `folder` whose writing process is gone; return their names.

    Runs once per folder per process (atomic writers call it before making their temp).
    Only this host's temporaries are judged (pids are per host): in a folder shared by
    several hosts (NFS), another host's live writer is never touched.

    >>> clean_stale_temps(tmp_path)  # doctest: +SKIP
    ['.filter.tmp-4242@node1']
    """
    folder = Path(folder)
    removed: list[str] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        m = _TEMP_NAME.match(entry.name)
        if m is None or m.group("host") not in (None, HOST):
            continue
        try:
            changed = entry.stat(follow_symlinks=False).st_ctime
        except FileNotFoundError:
            continue  # its writer finished meanwhile
        if not _is_stale(int(m.group("pid")), changed):
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            Path(entry.path).unlink(missing_ok=True)
        removed.append(entry.name)
    return removed


def _prepare(folder: Path) -> None:
    """Create `folder` and, the first time this process writes there, clean it."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if key not in _cleaned:
        clean_stale_temps(folder)
        _cleaned.add(key)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; move it onto `path` only if the block succeeds."""
    path = Path(path)
    _prepare(path.parent)
    tmp = temp_sibling(path)
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
    _prepare(path.parent)
    tmp, old = temp_sibling(path), temp_sibling(path, "old")
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
        _prepare(self.path.parent)
        self.schema = schema
        self.batch_rows = batch_rows
        self.rows = 0
        self._tmp = temp_sibling(self.path)
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


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex digest of a file, read in 1 MiB blocks (memory stays flat).

    >>> file_sha256("tokenizer.model")  # doctest: +SKIP
    'a3f1...'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def link_or_copy(src: Path, dst: Path) -> str:
    """Put `src` at `dst` (replacing it): a hard link (no second copy on disk), else a copy
    (another filesystem). Returns "link" or "copy".

    >>> link_or_copy(Path("a.tar"), Path("out/a.tar"))  # doctest: +SKIP
    'link'
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)
        return "copy"
    return "link"
