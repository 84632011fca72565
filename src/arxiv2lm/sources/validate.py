"""Validate a whole mirror: one work unit per chunk, computed in parallel or reused.

A unit's key is the chunk's manifest md5, the (id, domain) pairs the filter selected in the
chunk's month, the validate params and the code of the cores; adding a month's chunk computes
one unit, and changing the filter for one month recomputes only that month's chunks.
Output: `<out>/parts/<chunk>.parquet` (hard links into the work cache) in manifest order.
Chunks run through the unit runner (`arxiv2lm.units`, one supervised pool): a worker that
dies (OOM kill) or is killed at a member's hard time limit stops the stage with a UnitError
naming the chunk, and every unit finished before it is already in the cache for the rerun.

>>> ledger, extra, run = validate_corpus(ingest, wanted, params, out, cache)  # doctest: +SKIP
>>> run["units_computed"], run["units_reused"]                              # doctest: +SKIP
(1, 5)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from arxiv2lm.io import ParquetBatchWriter, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ValidateParams, resolve_workers
from arxiv2lm.sources import chunks, manifest
from arxiv2lm.sources.archives import Caps
from arxiv2lm.sources.chunks import (
    SOURCES_SCHEMA,
    ChunkJob,
    ChunkResult,
    chunk_stem,
    strip_version,
)
from arxiv2lm.units import Unit, code_digest, run_units, unit_key
from arxiv2lm.workcache import PARTS, WorkCache


def yymm_of(arxiv_id: str) -> str:
    """The month an id belongs to, which is the month of the chunk that holds it.

    >>> yymm_of("2301.01234"), yymm_of("hep-th/9901001")
    ('2301', '9901')
    """
    if "/" in arxiv_id:
        return arxiv_id.split("/", 1)[1][:4]
    return arxiv_id[:4]


def _run_job(item: tuple[ChunkJob, dict[str, str]], caps: Caps, timeout_s: float) -> dict:
    """One chunk in a worker: writes its part, returns its result (picklable for the pool)."""
    job, wanted = item
    return chunks.validate_chunk(job, wanted, caps, timeout_s).to_json()


class _ChunkSink:
    """A unit's one result: the worker already wrote the part."""

    def __init__(self) -> None:
        self.result: dict | None = None

    def add(self, note: Any, result: dict) -> None:
        self.result = result

    def close(self) -> dict | None:
        return self.result

    def abort(self) -> None:
        pass


def validate_corpus(
    ingest: Path, wanted: dict[str, str], params: ValidateParams, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Returns the ledger, corpus facts for stats.json, and what this run did (units
    computed/reused, bytes read), which depends on the cache and so stays out of outputs."""
    entries = manifest.read_manifest(ingest / manifest.MANIFEST)
    missing = [e.filename for e in entries if not (ingest / e.filename).exists()]
    if missing:
        raise FileNotFoundError(f"chunks listed in the manifest are missing: {missing[:5]}")
    by_month: dict[str, dict[str, str]] = defaultdict(dict)
    for arxiv_id, domain in wanted.items():
        by_month[yymm_of(arxiv_id)][arxiv_id] = domain
    code = code_digest(__name__)
    result_params = dataclasses.replace(params, workers=0)  # workers never change a result
    (out / PARTS).mkdir(parents=True)

    units = []
    for e in entries:
        month = json.dumps(sorted(by_month.get(e.yymm, {}).items()))
        digest = f"{e.md5sum}:{hashlib.sha256(month.encode()).hexdigest()}"
        job = ChunkJob(
            path=str(ingest / e.filename),
            md5=e.md5sum if params.verify_md5 else None,
            part=str(out / PARTS / f"{chunk_stem(e.filename)}.parquet"),
            yymm=e.yymm,
        )
        key = unit_key("validate", digest, result_params, code)
        units.append(Unit(Path(e.filename).name, key, {"part.parquet": Path(job.part)}, job))

    caps = Caps(max_bytes=int(params.max_paper_mb * (1 << 20)), max_ratio=params.max_ratio)
    run_job = functools.partial(_run_job, caps=caps, timeout_s=params.timeout_s)
    done = run_units(
        units,
        run_job,
        lambda u: [((u.source, by_month.get(u.source.yymm, {})), None)],
        lambda u: _ChunkSink(),
        cache,
        min(resolve_workers(params.workers), len(units)),
    )
    results = [ChunkResult.from_json(d.unit.source, d.result) for d in done]
    ledger, duplicates = _account(results, wanted)
    extra = {
        "duplicate_members": duplicates,
        "chunks": len(units),
        "members_not_selected": sum(r.not_selected for r in results),
        "bad_member_names": sum(r.bad_member_names for r in results),
    }
    run = {
        "units_computed": sum(d.computed for d in done),
        "units_reused": sum(not d.computed for d in done),
        "bytes_read": sum(r.bytes_read for r, d in zip(results, done, strict=True) if d.computed),
    }
    return ledger, extra, run


def _account(results: list[ChunkResult], wanted: dict[str, str]) -> tuple[Ledger, int]:
    """Ledger in manifest order. A paper in two chunks counts once, at its first member;
    later members are removed from their parts and counted as duplicates. A paper wanted
    under two versions (`2402.00093v2`, `v3`) counts under one; the other is
    `duplicate_version`, not `missing_source`."""
    ledger = Ledger("validate")
    seen: set[str] = set()
    duplicates = 0
    for res in results:
        dups = set()
        for arxiv_id, nbytes, _ in res.kept:
            if arxiv_id in seen:
                dups.add(arxiv_id)
                continue
            seen.add(arxiv_id)
            ledger.keep(arxiv_id, nbytes)
        for arxiv_id, reason, nbytes, detail in res.drops:
            if arxiv_id in seen:
                duplicates += 1
                continue
            seen.add(arxiv_id)
            ledger.drop(arxiv_id, reason, nbytes, detail)
        if dups:
            duplicates += len(dups)
            _rewrite_without(Path(res.job.part), dups)
    counted = {strip_version(i): i for i in seen}
    for arxiv_id in sorted(set(wanted) - seen):
        if (other := counted.get(strip_version(arxiv_id))) is not None:
            ledger.drop(arxiv_id, "duplicate_version", 0, f"counted as {other}")
        else:
            ledger.drop(arxiv_id, "missing_source", 0, "no member in any chunk")
    return ledger, duplicates


def _rewrite_without(part: Path, ids: set[str]) -> None:
    """Drop rows from a (hard-linked) part: a new file replaces the link, the cache is intact."""
    with ParquetBatchWriter(part, SOURCES_SCHEMA) as w:
        for row in iter_parquet(part, batch_rows=64):
            if row["id"] not in ids:
                w.write(row)
