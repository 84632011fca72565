"""Validate a whole mirror: one work unit per chunk, computed in parallel or reused.

A unit's key is the chunk's manifest md5, the (id, domain) pairs the filter selected in the
chunk's month, the validate params and the code of the cores; adding a month's chunk computes
one unit, and changing the filter for one month recomputes only that month's chunks.
Output: `<out>/parts/<chunk>.parquet` (hard links into the work cache) in manifest order.
Chunks run in supervised workers (`pool.map_supervised`): a worker that dies (OOM kill) or
is killed at a member's hard time limit stops the stage with a ChunkError naming the chunk,
and every unit finished before it is already in the cache for the rerun.

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter, iter_parquet, write_json
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ValidateParams, resolve_workers
from arxiv2lm.sources import archives, chunks, manifest
from arxiv2lm.sources.archives import Caps
from arxiv2lm.sources.chunks import (
    SOURCES_SCHEMA,
    ChunkError,
    ChunkJob,
    ChunkResult,
    chunk_stem,
    strip_version,
)
from arxiv2lm.workcache import (
    PARTS,
    WorkCache,
    code_digest,
    link_or_copy_file,
    unit_key,
)


def yymm_of(arxiv_id: str) -> str:
    """The month an id belongs to, which is the month of the chunk that holds it.

    >>> yymm_of("2301.01234"), yymm_of("hep-th/9901001")
    ('2301', '9901')
    """
    if "/" in arxiv_id:
        return arxiv_id.split("/", 1)[1][:4]
    return arxiv_id[:4]


def _run_job(item: tuple[ChunkJob, dict[str, str]], caps: Caps, timeout_s: float) -> ChunkResult:
    """One chunk in a worker: its part, and its result beside it (picklable for the pool)."""
    job, wanted = item
    res = chunks.validate_chunk(job, wanted, caps, timeout_s)
    write_json(res.to_json(), Path(job.part).with_suffix(".json"))
    return res


def _compute(
    todo: list[ChunkJob],
    by_month: dict[str, dict[str, str]],
    caps: Caps,
    workers: int,
    timeout_s: float,
) -> Iterator[tuple[ChunkJob, ChunkResult]]:
    """(job, result) as each chunk finishes, in order; a lost worker is a ChunkError."""
    items = ((job, by_month.get(job.yymm, {})) for job in todo)
    run = functools.partial(_run_job, caps=caps, timeout_s=timeout_s)
    results = pool.map_supervised(run, items, workers)
    try:
        for job, res in zip(todo, results, strict=True):
            if isinstance(res, pool.WorkerLost):
                raise ChunkError(f"worker died ({res}) while reading {Path(job.path).name}")
            yield job, res  # a ChecksumError from the worker is raised by map_supervised
    finally:
        results.close()  # kill the other workers now, not when the generator is collected


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
    code = code_digest(archives, chunks, manifest, pool)
    result_params = dataclasses.replace(params, workers=0)  # workers never change a result
    (out / PARTS).mkdir(parents=True)

    jobs, keys, todo = [], {}, []
    for e in entries:
        month = json.dumps(sorted(by_month.get(e.yymm, {}).items()))
        digest = f"{e.md5sum}:{hashlib.sha256(month.encode()).hexdigest()}"
        key = unit_key("validate", digest, result_params, code)
        job = ChunkJob(
            path=str(ingest / e.filename),
            md5=e.md5sum if params.verify_md5 else None,
            part=str(out / PARTS / f"{chunk_stem(e.filename)}.parquet"),
            yymm=e.yymm,
        )
        jobs.append(job)
        keys[job.part] = key
        if not cache.has(key):
            todo.append(job)

    caps = Caps(max_bytes=int(params.max_paper_mb * (1 << 20)), max_ratio=params.max_ratio)
    computed: dict[str, ChunkResult] = {}
    workers = min(resolve_workers(params.workers), len(todo))
    for job, res in _compute(todo, by_month, caps, workers, params.timeout_s) if todo else ():
        # committed at once: a run stopped by a later chunk keeps this one for the rerun
        sidecar = Path(job.part).with_suffix(".json")
        cache.put(keys[job.part], {"part.parquet": Path(job.part), "result.json": sidecar})
        computed[job.part] = res
    results = []
    for job in jobs:
        part, sidecar = Path(job.part), Path(job.part).with_suffix(".json")
        if job.part in computed:
            results.append(computed[job.part])
        else:
            key = keys[job.part]
            link_or_copy_file(cache.files(key) / "part.parquet", part)
            data = json.loads((cache.files(key) / "result.json").read_text())
            results.append(ChunkResult.from_json(job, data))
        sidecar.unlink(missing_ok=True)

    ledger, duplicates = _account(results, wanted)
    extra = {
        "duplicate_members": duplicates,
        "chunks": len(jobs),
        "members_not_selected": sum(r.not_selected for r in results),
        "bad_member_names": sum(r.bad_member_names for r in results),
    }
    run = {
        "units_computed": len(computed),
        "units_reused": len(jobs) - len(computed),
        "bytes_read": sum(r.bytes_read for r in results if r.job.part in computed),
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
