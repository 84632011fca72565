"""Validate one source chunk: its manifest md5, then each wanted paper's member.

Each chunk is a work unit: a worker streams it and writes the kept papers to its own
Parquet part, so memory holds one member at a time whatever the chunk size.

>>> job = ChunkJob("src/arXiv_src_2301_001.tar", md5, "part.parquet", "2301")  # doctest: +SKIP
>>> res = validate_chunk(job, {"2301.00001": "math"}, Caps(64 << 20, 200.0))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from arxiv2lm.io import ParquetBatchWriter
from arxiv2lm.ledger import Drop
from arxiv2lm.sources.archives import Caps, HashingReader, classify_member, iter_chunk
from arxiv2lm.sources.manifest import id_from_member

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


class ChecksumError(RuntimeError):
    """A chunk whose bytes do not match its manifest md5: nothing may run on it."""


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


def validate_chunk(job: ChunkJob, wanted: dict[str, str], caps: Caps) -> ChunkResult:
    """Classify every member whose paper is in `wanted`, checking the chunk's md5 on the way.

    The md5 is computed from the same single read; a mismatch raises after the pass, and
    the caller discards everything this chunk produced.
    """
    res = ChunkResult(job=job)
    with (
        open(job.path, "rb") as raw,
        ParquetBatchWriter(job.part, SOURCES_SCHEMA, batch_rows=64) as writer,
    ):
        fh = HashingReader(raw)
        try:
            _classify_all(fh, job, wanted, caps, res, writer)
        except (tarfile.TarError, EOFError) as err:
            broken = f"chunk {job.path} is not a readable tar ({err})"
        else:
            broken = ""
        if job.md5 is not None and (actual := fh.hexdigest()) != job.md5:
            raise ChecksumError(
                f"chunk {job.path}: md5 {actual} does not match the manifest's {job.md5}; "
                "re-download it (ingest) before anything runs on it"
            )
        if broken:
            raise ChecksumError(broken)
    return res


def _classify_all(
    fh: HashingReader,
    job: ChunkJob,
    wanted: dict[str, str],
    caps: Caps,
    res: ChunkResult,
    writer: ParquetBatchWriter,
) -> None:
    for name, data in iter_chunk(fh):
        res.bytes_read += len(data)
        stem = posixpath.basename(name).split(".gz")[0].removesuffix(".pdf")
        try:
            arxiv_id = id_from_member(stem)
        except ValueError:
            res.bad_member_names += 1  # not a paper member (e.g. a stray README)
            continue
        domain = wanted.get(arxiv_id)
        if domain is None:
            res.not_selected += 1
            continue
        res.seen.append(arxiv_id)
        paper = classify_member(name, data, caps)
        if isinstance(paper, Drop):
            res.drops.append((arxiv_id, paper.reason, len(data), paper.detail))
            continue
        res.kept.append((arxiv_id, len(data), paper.nbytes))
        writer.write(
            {
                "id": arxiv_id,
                "domain": domain,
                "yymm": job.yymm,
                "kind": paper.kind,
                "paths": paper.paths,
                "contents": paper.contents,
                "bytes": paper.nbytes,
                "nested_archives": paper.nested_archives,
            }
        )


def chunk_stem(chunk_path: str | Path) -> str:
    return Path(chunk_path).name.removesuffix(".tar")
