"""Validate one source chunk: its manifest md5, then each wanted paper's member.

Each chunk is a work unit: a worker streams it (`tarfile`'s stream mode through
`GuardedTarFile`, never unpacked to disk) and writes the kept papers to its own Parquet
part, so memory holds one member at a time whatever the chunk size. Each member has
`MEMBER_TIMEOUT_S` for its header, read and classification: a paper past it is a `timeout`
drop, a chunk whose reading stalls is a ChunkError. Ids match members without their version
(`2402.00093v3` is member `2402/2402.00093.gz`) and keep the spelling the metadata gives.

>>> job = ChunkJob("src/arXiv_src_2301_001.tar", md5, "part.parquet", "2301")  # doctest: +SKIP
>>> res = validate_chunk(job, {"2301.00001": "math"}, Caps(64 << 20, 200.0))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import pyarrow as pa

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter
from arxiv2lm.ledger import Drop
from arxiv2lm.sources.archives import (
    Caps,
    GuardedTarFile,
    Paper,
    TarBroken,
    classify_member,
    member_read_cap,
    safe_name,
)
from arxiv2lm.sources.manifest import ChecksumError, ChunkError, id_from_member

# Per member (header + read + classification). A 64 MiB project gunzips and parses in about
# a second; only hostile input (a chain of pax headers costing seconds each) gets near this.
MEMBER_TIMEOUT_S = 60.0
_VERSION = re.compile(r"(?<=\d)v\d+$")
_READ_PIECE = 1 << 20  # a member is read into its buffer this much at a time

SOURCES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
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

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.md5.update(data)
        return data

    def hexdigest(self) -> str:
        while self.read(1 << 20):  # the tail tarfile never asks for (end-of-archive zeros)
            pass
        return self.md5.hexdigest()


class ChunkMember(NamedTuple):
    name: str  # printable (safe_name)
    size: int  # stored bytes
    data: bytes | bytearray | Drop | None  # None: not wanted, not read


def _want_all(name: str) -> bool:
    return True


def iter_chunk(
    fh: BinaryIO,
    archive_size: int,
    max_member_bytes: int,
    want: Callable[[str], bool] = _want_all,
) -> Iterator[ChunkMember]:
    """Stream the regular-file members of a chunk of `archive_size` bytes, one at a time.

    A member's data is its bytes, read in 1 MiB pieces into one buffer of its size (never
    more than `max_member_bytes` plus a piece in memory); a Drop when its header is refused
    (`bad_header`, `sparse_member`) or it is over `max_member_bytes` (`too_large`, unread);
    None when `want(name)` is false (skipped unread). Raises TarBroken, naming the offset,
    when the chunk cannot be read to its end-of-archive block.

    >>> [m.name for m in iter_chunk(io.BytesIO(chunk), len(chunk), 1 << 20)]  # doctest: +SKIP
    ['2301/2301.00001.gz', '2301/2301.00002.pdf']
    """
    with GuardedTarFile.open(fileobj=fh, mode="r|", archive_size=archive_size) as tar:
        for member in tar:
            name = safe_name(member.name)
            if member.refusal is not None:
                yield ChunkMember(name, member.size, member.refusal)
            elif not member.isfile():
                continue
            elif not want(name):
                yield ChunkMember(name, member.size, None)
            elif member.size > max_member_bytes:
                drop = Drop("too_large", f"{member.size} stored bytes, cap {max_member_bytes}")
                yield ChunkMember(name, member.size, drop)
            else:
                yield ChunkMember(name, member.size, _read_member(tar, member))
        tar.check_end()


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytearray:
    """A member's bytes in one buffer of its size, filled a piece at a time (a plain `read()`
    goes through tarfile's joins and holds about three copies)."""
    fh = tar.extractfile(member)
    assert fh is not None  # a regular, non-sparse member
    buf = bytearray(member.size)
    with memoryview(buf) as view:
        pos = 0
        while pos < member.size:
            n = fh.readinto(view[pos : pos + _READ_PIECE])
            if not n:
                raise TarBroken(f"member {safe_name(member.name)!r} ends after {pos} bytes")
            pos += n
    return buf


def validate_chunk(
    job: ChunkJob, wanted: dict[str, str], caps: Caps, timeout_s: float = MEMBER_TIMEOUT_S
) -> ChunkResult:
    """Classify every member whose paper is in `wanted`, checking the chunk's md5 on the way.

    The md5 is computed from the same single read; a mismatch raises ChecksumError after the
    pass, and the caller discards everything this chunk produced. A chunk that cannot be read
    to its end raises ChunkError naming it (after the md5 check, which explains most).
    """
    res = ChunkResult(job=job)
    by_base: dict[str, str] = {}
    for arxiv_id in sorted(wanted):  # two versions of one paper: the first counts (caller)
        by_base.setdefault(strip_version(arxiv_id), arxiv_id)
    with (
        open(job.path, "rb") as raw,
        ParquetBatchWriter(job.part, SOURCES_SCHEMA, batch_rows=64) as writer,
    ):
        fh = HashingReader(raw)
        members = iter_chunk(
            fh,
            os.fstat(raw.fileno()).st_size,
            member_read_cap(caps),
            want=lambda name: member_id(name) in by_base,
        )
        try:
            _classify_all(members, job, wanted, by_base, caps, timeout_s, res, writer)
        except tarfile.TarError as err:
            broken = f"not a readable tar ({err})"
        except _ReadStalled as err:
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


class _ReadStalled(Exception):
    """Reading the chunk itself (not classifying a member) ran past the time limit."""


def _next_member(members: Iterator[ChunkMember]) -> ChunkMember | None:
    return next(members, None)


def _classify_all(
    members: Iterator[ChunkMember],
    job: ChunkJob,
    wanted: dict[str, str],
    by_base: dict[str, str],
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
        arxiv_id = by_base.get(base)
        if arxiv_id is None:
            res.not_selected += 1
            continue
        res.seen.append(arxiv_id)
        paper = _classify(member, caps, timeout_s)
        if isinstance(paper, Drop):
            res.drops.append((arxiv_id, paper.reason, member.size, paper.detail))
            continue
        res.kept.append((arxiv_id, member.size, paper.nbytes))
        writer.write(
            {
                "id": arxiv_id,
                "domain": wanted[arxiv_id],
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
    assert data is not None  # iter_chunk reads every wanted member
    if isinstance(data, Drop):
        return data
    try:
        return pool.call_with_timeout(
            lambda d: classify_member(member.name, d, caps),
            data,
            timeout_s,
            label=f"member {member.name}",
        )
    except pool.ItemTimeout:
        return Drop("timeout", f"over {timeout_s:g} s")


def chunk_stem(chunk_path: str | Path) -> str:
    return Path(chunk_path).name.removesuffix(".tar")
