"""Classify one source chunk: its manifest md5, then every paper member in it.

Each chunk is a classify unit: a worker streams it (`tarfile`'s stream mode through
`GuardedTarFile`, never unpacked to disk) and writes the kept papers of ALL its members to
its own Parquet part, under their versionless member ids and without a domain: the filter's
selection is applied afterwards (`selection.py`), so changing it re-reads no chunk. A member
is classified straight from the chunk stream (`archives.classify_stream`), and what it does
not read (figures, the rest after a drop) is skipped by the next header's seek, so memory
holds one paper's TeX and a few MiB whatever the member and chunk sizes. Each member has
`MEMBER_TIMEOUT_S` for its classification, reading it from the chunk included (past it: a
`timeout` drop), and for the header after it (past it: the chunk stalled, a ChunkError).

>>> job = ChunkJob("src/arXiv_src_2301_001.tar", md5, "out.parquet", "2301")  # doctest: +SKIP
>>> classify_chunk(job, Caps(64 << 20, 200.0)).seen  # doctest: +SKIP
['2301.00001', '2301.00002']
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
import signal
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple, TypeVar

import pyarrow as pa

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter
from arxiv2lm.ledger import Drop
from arxiv2lm.sources.archives import Caps, Paper, classify_stream
from arxiv2lm.sources.manifest import ChecksumError, ChunkError, id_from_member
from arxiv2lm.sources.targuard import STREAM_BUFSIZE, GuardedTarFile, safe_name

# Per member (classification, and the header after it). A 64 MiB project gunzips and parses
# in about a second; only hostile input (a chain of pax headers costing seconds each) nears it.
MEMBER_TIMEOUT_S = 60.0
_VERSION = re.compile(r"(?<=\d)v\d+$")
T = TypeVar("T")

CLASSIFIED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),  # the member's id, without version
        ("yymm", pa.string()),
        ("kind", pa.string()),
        ("paths", pa.list_(pa.string())),
        ("contents", pa.list_(pa.binary())),
        ("bytes", pa.int64()),
        ("nested_archives", pa.int32()),
    ]
)


def strip_version(arxiv_id: str) -> str:
    """The id without its version, as chunk members are named.

    >>> strip_version("hep-th/0501002v2"), strip_version("2402.00093v3")
    ('hep-th/0501002', '2402.00093')
    """
    return _VERSION.sub("", arxiv_id)


def member_id(name: str) -> str | None:
    """The versionless paper id of a chunk member, or None if it is not a paper member.

    >>> member_id("2301/2301.00001v2.gz"), member_id("9901/hep-th9901001.pdf"), member_id("README")
    ('2301.00001', 'hep-th/9901001', None)
    """
    stem = posixpath.basename(name).split(".gz")[0].removesuffix(".pdf")
    try:
        return id_from_member(strip_version(stem))
    except ValueError:
        return None


@dataclass(frozen=True)
class ChunkJob:
    path: str
    md5: str | None  # None: do not verify
    part: str  # where the kept papers of this chunk go (Parquet)
    yymm: str


@dataclass
class ChunkResult:
    """What a chunk gave: ids are member ids (classify) or the metadata's (`selection`)."""

    job: ChunkJob
    kept: list[tuple[str, int, int]] = field(default_factory=list)  # id, member bytes, tex
    drops: list[tuple[str, str, int, str]] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)
    not_selected: int = 0
    bad_member_names: int = 0
    bytes_read: int = 0

    def to_json(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "job"}

    @classmethod
    def from_json(cls, job: ChunkJob, data: dict) -> ChunkResult:
        res = cls(job=job, **data)
        res.kept = [tuple(k) for k in res.kept]
        res.drops = [tuple(d) for d in res.drops]
        return res


class HashingReader:
    """A read-only file wrapper that feeds every byte read through md5 (one pass, not two)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.md5 = hashlib.md5()
        self.hashed = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.md5.update(data)
        self.hashed += len(data)
        return data

    def hexdigest(self) -> str:
        while self.read(1 << 20):  # the tail tarfile never asks for (end-of-archive zeros)
            pass
        if self.hashed != self.fh.tell():  # a time limit struck between read and update
            self.fh.seek(0)
            self.md5, self.hashed = hashlib.md5(), 0
            while self.read(1 << 20):
                pass
        return self.md5.hexdigest()


class ChunkMember(NamedTuple):
    name: str  # printable (safe_name)
    size: int  # stored bytes
    data: BinaryIO | Drop | None  # its stored bytes, readable until the next member; None: unread


def _want_all(name: str) -> bool:
    return True


def iter_chunk(
    fh: BinaryIO, archive_size: int, want: Callable[[str], bool] = _want_all
) -> Iterator[ChunkMember]:
    """Stream the regular-file members of a chunk of `archive_size` bytes, one at a time.

    A member's data is a stream of its stored bytes, valid until the next member is asked
    for (what is left unread is then skipped, still through `fh`); a Drop when its header is
    refused (`bad_header`, `sparse_member`); None when `want(name)` is false. Raises
    TarBroken, naming the offset, when the chunk cannot be read to its end-of-archive block.

    >>> [m.name for m in iter_chunk(io.BytesIO(chunk), len(chunk))]  # doctest: +SKIP
    ['2301/2301.00001.gz', '2301/2301.00002.pdf']
    """
    with GuardedTarFile.open(
        fileobj=fh, mode="r|", archive_size=archive_size, bufsize=STREAM_BUFSIZE
    ) as tar:
        for member in tar:
            name = safe_name(member.name)
            if member.refusal is not None:
                yield ChunkMember(name, member.size, member.refusal)
            elif not member.isfile():
                continue
            elif not want(name):
                yield ChunkMember(name, member.size, None)
            else:
                stored = tar.extractfile(member)
                assert stored is not None  # a regular, non-sparse member
                yield ChunkMember(name, member.size, _StoredStream(stored, name))
        tar.check_end()


class _ChunkUnreadable(Exception):
    """Reading a member's bytes from the chunk failed: the chunk, not the paper, is bad."""


class _ReadStalled(Exception):
    """Reading the chunk itself (not classifying a member) ran past the time limit."""


class _StoredStream:
    """A member's stored bytes from the chunk stream. Each read is whole or not at all under
    the time limit, so a member stopped at its limit leaves tarfile's offset and the md5 in
    step and the chunk goes on after it."""

    def __init__(self, fh: BinaryIO, name: str) -> None:
        self.fh = fh
        self.name = name

    def read(self, n: int) -> bytes:
        try:
            return _uninterrupted(self.fh.read, n)
        except (tarfile.TarError, EOFError) as err:
            raise _ChunkUnreadable(f"member {self.name!r}: {err}") from None


def _uninterrupted(fn: Callable[[int], T], n: int) -> T:
    """`fn(n)` with the SIGALRM of `pool.call_with_timeout` held until it returns (a read of
    at most a few hundred KiB), then raised."""
    if threading.current_thread() is not threading.main_thread():
        return fn(n)  # no alarm there (call_with_timeout)
    struck: list[object] = []
    old = signal.signal(signal.SIGALRM, lambda signum, frame: struck.append(frame))
    try:
        return fn(n)
    finally:
        signal.signal(signal.SIGALRM, old)
        if struck and callable(old):
            old(signal.SIGALRM, struck[0])


def classify_chunk(job: ChunkJob, caps: Caps, timeout_s: float = MEMBER_TIMEOUT_S) -> ChunkResult:
    """Classify every paper member of the chunk, checking its md5 on the way; kept papers go
    to `job.part` under their member ids.

    The md5 is computed from the same single read; a mismatch raises ChecksumError after the
    pass, and the caller discards everything this chunk produced. A chunk that cannot be read
    to its end raises ChunkError naming it (after the md5 check, which explains most).
    """
    res = ChunkResult(job=job)
    with (
        open(job.path, "rb") as raw,
        ParquetBatchWriter(job.part, CLASSIFIED_SCHEMA, batch_rows=64) as writer,
    ):
        fh = HashingReader(raw)
        members = iter_chunk(
            fh, os.fstat(raw.fileno()).st_size, want=lambda name: member_id(name) is not None
        )
        try:
            _classify_all(members, job, caps, timeout_s, res, writer)
        except tarfile.TarError as err:
            broken = f"not a readable tar ({err})"
        except (_ReadStalled, _ChunkUnreadable) as err:
            broken = str(err)
        else:
            broken = ""
        if job.md5 is not None and (actual := fh.hexdigest()) != job.md5:
            raise ChecksumError(
                f"chunk {job.path}: md5 {actual} does not match the manifest's {job.md5}; "
                "re-download it (ingest) before anything runs on it"
            )
        if broken:
            raise ChunkError(f"chunk {job.path}: {broken}")
    return res


def _next_member(members: Iterator[ChunkMember]) -> ChunkMember | None:
    return next(members, None)


def _classify_all(
    members: Iterator[ChunkMember],
    job: ChunkJob,
    caps: Caps,
    timeout_s: float,
    res: ChunkResult,
    writer: ParquetBatchWriter,
) -> None:
    where = "the first header"
    while True:
        try:
            member = pool.call_with_timeout(_next_member, members, timeout_s, label=where)
        except pool.ItemTimeout:
            raise _ReadStalled(f"reading {where} took over {timeout_s:g} s") from None
        if member is None:
            return
        where = f"the header after {member.name}"
        res.bytes_read += member.size
        base = member_id(member.name)
        if base is None:
            res.bad_member_names += 1  # not a paper member (e.g. a stray README)
            continue
        res.seen.append(base)
        paper = _classify(member, caps, timeout_s)
        if isinstance(paper, Drop):
            res.drops.append((base, paper.reason, member.size, paper.detail))
            continue
        res.kept.append((base, member.size, paper.nbytes))
        writer.write(
            {
                "id": base,
                "yymm": job.yymm,
                "kind": paper.kind,
                "paths": paper.paths,
                "contents": paper.contents,
                "bytes": paper.nbytes,
                "nested_archives": paper.nested_archives,
            }
        )


def _classify(member: ChunkMember, caps: Caps, timeout_s: float) -> Paper | Drop:
    """The member's paper or drop, within the time limit (`timeout` past it)."""
    data = member.data
    assert data is not None  # iter_chunk gives every paper member's stream
    if isinstance(data, Drop):
        return data
    try:
        return pool.call_with_timeout(
            lambda fh: classify_stream(member.name, member.size, fh, caps),
            data,
            timeout_s,
            label=f"member {member.name}",
        )
    except pool.ItemTimeout:
        return Drop("timeout", f"over {timeout_s:g} s")


def chunk_stem(chunk_path: str | Path) -> str:
    return Path(chunk_path).name.removesuffix(".tar")
