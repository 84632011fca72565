"""Apply the filter's selection to a classified chunk, without decompressing anything.

A classify unit (`chunks.classify_chunk`) holds every paper member of a chunk under its
member id. The selection of a chunk is the (wanted id, domain) pairs whose member is in it;
`select` maps the classify result onto those ids (a metadata id keeps its spelling:
`2402.00093v3` is member `2402.00093`) and `write_part` copies the selected rows, with their
domain, into the stage's output part: Arrow batches filtered, no row decoded to Python.

>>> job = ChunkJob("arXiv_src_2301_001.tar", None, "part.parquet", "2301")
>>> classified = ChunkResult(job, kept=[("2301.00001", 10, 5)], seen=["2301.00001"])
>>> select(classified, [("2301.00001v2", "math")], job).kept
[('2301.00001v2', 10, 5)]
"""

from __future__ import annotations

import os

import pyarrow as pa
import pyarrow.parquet as pq

from arxiv2lm.io import atomic_path
from arxiv2lm.sources.chunks import CLASSIFIED_SCHEMA, ChunkJob, ChunkResult, strip_version

SOURCES_SCHEMA = CLASSIFIED_SCHEMA.insert(1, pa.field("domain", pa.string()))


def chosen(pairs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Member id -> the (wanted id, domain) it counts for. Two versions of one paper wanted:
    the first in sorted order counts (the ledger names the other `duplicate_version`).

    >>> chosen([("2301.00001v3", "cs"), ("2301.00001v2", "math")])
    {'2301.00001': ('2301.00001v2', 'math')}
    """
    out: dict[str, tuple[str, str]] = {}
    for arxiv_id, domain in sorted(pairs):
        out.setdefault(strip_version(arxiv_id), (arxiv_id, domain))
    return out


def select(classified: ChunkResult, pairs: list[tuple[str, str]], job: ChunkJob) -> ChunkResult:
    """The classify result of a chunk restricted to the selected papers, under their wanted
    ids; members of papers not selected are counted in `not_selected`."""
    pick = chosen(pairs)
    res = ChunkResult(job=job, bad_member_names=classified.bad_member_names)
    res.kept = [(pick[i][0], n, t) for i, n, t in classified.kept if i in pick]
    res.drops = [(pick[i][0], r, n, d) for i, r, n, d in classified.drops if i in pick]
    res.seen = [pick[i][0] for i in classified.seen if i in pick]
    res.not_selected = len(classified.seen) - len(res.seen)
    res.bytes_read = classified.bytes_read
    return res


def write_part(
    classified: str | os.PathLike[str], part: str | os.PathLike[str], pairs: list[tuple[str, str]]
) -> int:
    """Write the rows of the selected papers of a classified part to `part` (atomically), in
    member order, with their wanted id and domain; a paper's second kept member in the same
    chunk is left out (the ledger counts it as a duplicate). Returns the rows written."""
    pick = chosen(pairs)
    written: set[str] = set()
    with atomic_path(part) as tmp, pq.ParquetWriter(tmp, SOURCES_SCHEMA, compression="zstd") as w:
        source = pq.ParquetFile(classified)
        for group in range(source.num_row_groups):  # 64 rows each (chunks.classify_chunk)
            table = source.read_row_group(group)
            rows = []
            for index, member in enumerate(table.column("id").to_pylist()):
                if member in pick and member not in written:
                    written.add(member)
                    rows.append(index)
            if not rows:
                continue
            table = table.take(rows)
            ids = [pick[m] for m in table.column("id").to_pylist()]
            table = table.set_column(0, "id", pa.array([i for i, _ in ids], pa.string()))
            table = table.add_column(1, "domain", pa.array([d for _, d in ids], pa.string()))
            w.write_table(table.cast(SOURCES_SCHEMA))
    return len(written)
