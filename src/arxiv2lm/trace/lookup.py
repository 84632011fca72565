"""Point lookups of one paper in the pipeline's artifacts, through indexes, never full scans.

A part or ledger is searched by the `id` column's row-group statistics (min/max in each
Parquet footer): only the row groups whose range holds the id are read, and of those only
the `id` column until a row matches. Per-chunk parts are found by name: an arXiv id's month
is its chunks' month (`arXiv_src_YYMM_NNN`), so a paper is looked for in its month's parts
only, a few of thousands. The member of a paper in its chunk is found by walking the chunk
tar's headers (512 bytes each, the data seeked over), in the chunks whose manifest range
(`first_item`..`last_item`) holds its member name first.

>>> find_rows(Path("data/filter/rejected.parquet"), "2301.00029", ["reason"])  # doctest: +SKIP
[{'id': '2301.00029', 'reason': 'withdrawn'}]
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arxiv2lm.sources.chunks import chunk_stem, member_id
from arxiv2lm.sources.manifest import MANIFEST, ChunkEntry, member_name, read_manifest
from arxiv2lm.sources.targuard import GuardedTarFile, TarBroken, safe_name
from arxiv2lm.workcache import PARTS, chunk_order

_ID = "id"


class TraceError(ValueError):
    """An argument that is not an arXiv id, or artifacts that cannot be read."""


def find_rows(
    path: Path,
    lo: str,
    columns: list[str],
    hi: str | None = None,
    match: Callable[[str], bool] | None = None,
) -> list[dict[str, Any]]:
    """The rows of Parquet file `path` whose `id` is in [`lo`, `hi`] (default: equals `lo`)
    and passes `match`, with `id` and `columns`. Row groups whose footer statistics put
    their ids outside the range are not read; [] when the file does not exist."""
    if not path.exists():
        return []
    try:
        return _find_rows(pq.ParquetFile(path), lo, columns, hi, match)
    except (pa.ArrowException, OSError, KeyError) as err:
        raise TraceError(f"{path}: {type(err).__name__}: {err}") from None


def _find_rows(
    pf: pq.ParquetFile,
    lo: str,
    columns: list[str],
    hi: str | None,
    match: Callable[[str], bool] | None,
) -> list[dict[str, Any]]:
    hi = lo if hi is None else hi
    keep = match or (lambda value: value == lo)
    meta = pf.metadata
    leaves = [i for i in range(meta.num_columns) if meta.schema.column(i).path == _ID]
    if not leaves:
        raise KeyError("no id column")
    leaf = leaves[0]
    cols = list(dict.fromkeys([_ID, *columns]))
    rows: list[dict[str, Any]] = []
    for group in range(pf.num_row_groups):
        stats = meta.row_group(group).column(leaf).statistics
        if stats is not None and stats.has_min_max and (stats.max < lo or stats.min > hi):
            continue
        ids = pf.read_row_group(group, columns=[_ID]).column(0).to_pylist()
        hits = [i for i, value in enumerate(ids) if value is not None and keep(value)]
        if hits:
            rows.extend(pf.read_row_group(group, columns=cols).take(hits).to_pylist())
    return rows


def month_parts(stage_dir: Path, yymm: str) -> list[Path]:
    """A per-chunk stage's parts of month `yymm`, `<dir>/parts/arXiv_src_YYMM_*.parquet`, in
    chunk order (a listing of one folder, no file opened)."""
    parts = (stage_dir / PARTS).glob(f"arXiv_src_{yymm}_*.parquet")
    return sorted(parts, key=lambda p: chunk_order(p.stem))


def find_in_parts(
    stage_dir: Path, paper_id: str, yymm: str, columns: list[str]
) -> tuple[str, dict[str, Any]] | None:
    """(chunk, row) of `paper_id` in its month's parts of a per-chunk stage, or None."""
    for part in month_parts(stage_dir, yymm):
        if rows := find_rows(part, paper_id, columns):
            return part.stem, rows[0]
    return None


def month_chunks(ingest_dir: Path, yymm: str, stem: str) -> list[ChunkEntry]:
    """The manifest's chunks of month `yymm`, those whose member range holds `stem` first
    (the range is a hint: the others follow, so a chunk ordered otherwise is still seen)."""
    path = ingest_dir / MANIFEST
    if not path.exists():
        return []
    entries = [e for e in read_manifest(path) if e.yymm == yymm]

    def outside(e: ChunkEntry) -> bool:
        return not (e.first_item <= stem <= e.last_item)

    return sorted(entries, key=outside)  # stable: manifest order within each group


def find_member(ingest_dir: Path, paper_id: str, yymm: str, chunk: str | None = None) -> dict:
    """Where `paper_id`'s member is: `{"chunk", "member", "member_bytes"}`, or `{"note"}`
    saying why it is not known. With `chunk`, only that chunk is walked."""
    try:
        stem = member_name(paper_id)
    except ValueError:
        return {"note": f"{paper_id!r} has no member name"}
    try:
        entries = month_chunks(ingest_dir, yymm, stem)
    except ValueError as err:  # a manifest entry that read_manifest refuses
        return {"note": str(err)[:200]}
    if chunk is not None:
        entries = [e for e in entries if chunk_stem(e.filename) == chunk]
    if not entries:
        return {"note": f"no chunk of month {yymm} in {ingest_dir / MANIFEST}"}
    notes = []
    for entry in entries:
        path = ingest_dir / entry.filename
        if not path.exists():
            notes.append(f"{entry.filename} not present")
            continue
        try:
            found = _walk(path, paper_id)
        except (TarBroken, tarfile.TarError, OSError) as err:
            notes.append(f"{entry.filename} unreadable: {str(err)[:120]}")
            continue
        if found is not None:
            return {
                "chunk": chunk_stem(entry.filename),
                "member": found[0],
                "member_bytes": found[1],
            }
    return {"note": "; ".join(notes) or f"no member of {paper_id} in the chunks of {yymm}"}


def _walk(chunk: Path, paper_id: str) -> tuple[str, int] | None:
    """(name, stored bytes) of the first member of `chunk` that is `paper_id`'s, or None.
    Random access: each header is read and the member's data seeked over."""
    size = chunk.stat().st_size
    with GuardedTarFile.open(chunk, mode="r:", archive_size=size) as tar:
        for member in tar:
            if member.refusal is None and member_id(member.name) == paper_id:
                return safe_name(member.name), member.size
    return None
