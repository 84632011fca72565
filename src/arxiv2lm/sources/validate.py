"""Validate a whole mirror: per chunk, a classify unit and a selection unit, computed or reused.

1. The classify unit of a chunk (`chunks.classify_chunk`, in the supervised pool of
   `arxiv2lm.units`) reads the chunk once: its md5, and EVERY paper member classified under
   its member id. Its key is the chunk's manifest md5 and month, the validate params that
   change results and the code of the classifier, not the selection: adding a chunk to a
   month computes that chunk alone, and changing the filter re-reads no chunk. The cost:
   members of papers not selected are classified too. The chunk is read whole for its md5
   anyway; the extra is their gunzip and tar walk (and their TeX in the cache), in proportion
   to the share of the mirror the filter leaves out.
2. The selection unit of a chunk (`selection.py`, in this process, nothing decompressed)
   keeps the classified papers the filter wants, under their metadata ids and with their
   domain, in `<out>/parts/<chunk>.parquet`. Its key is the classify key and the selected
   (id, domain) pairs whose members are in the chunk, so a changed selection writes new parts
   only for the chunks holding the changed papers (and extract recomputes only those).

Parts are hard links into the work cache, in manifest order. A worker that dies (OOM kill) or
is killed at a member's hard time limit stops the stage with a UnitError naming the chunk,
and every classify unit finished before it is already in the cache for the rerun.
`compute_units` puts the classify and selection units of named chunks into the cache (no
part, no ledger), `list_units` says which chunks have both; the units are built as
`validate_corpus` builds them (`_units`, `_select_one`).

>>> ledger, extra, run = validate_corpus(ingest, wanted, params, out, cache)  # doctest: +SKIP
>>> run["units_computed"], run["units_reused"], run["select_computed"]  # doctest: +SKIP
(1, 5, 1)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
from collections import defaultdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

from arxiv2lm.io import ParquetBatchWriter, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ValidateParams, resolve_workers
from arxiv2lm.sources import chunks, manifest, selection
from arxiv2lm.sources.archives import Caps
from arxiv2lm.sources.chunks import ChunkJob, ChunkResult, chunk_stem, strip_version
from arxiv2lm.units import Done, Unit, code_digest, only_named, run_units, scratch, unit_key
from arxiv2lm.workcache import PARTS, WorkCache

CLASSIFIED = "classified.parquet"  # a classify unit's file in the work cache
PART = "part.parquet"  # a selection unit's file
_SCRATCH = ".classified"  # classified parts of this run, under the output until selected


def yymm_of(arxiv_id: str) -> str:
    """The month an id belongs to, which is the month of the chunk that holds it.

    >>> yymm_of("2301.01234"), yymm_of("hep-th/9901001")
    ('2301', '9901')
    """
    if "/" in arxiv_id:
        return arxiv_id.split("/", 1)[1][:4]
    return arxiv_id[:4]


def _run_job(job: ChunkJob, caps: Caps, timeout_s: float) -> dict:
    """One chunk in a worker: writes its classified part, returns its result (picklable)."""
    return chunks.classify_chunk(job, caps, timeout_s).to_json()


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


def _units(
    ingest: Path, params: ValidateParams, scratch_dir: Path, only: Collection[str] | None = None
) -> list[Unit]:
    """One classify unit per manifest chunk, named by its file name (`arXiv_src_2301_001.tar`),
    writing its classified part under `scratch_dir`; only the chunks named in `only` when
    given. A listed chunk missing from `ingest` is an error."""
    entries = manifest.read_manifest(ingest / manifest.MANIFEST)
    entries = only_named(entries, [Path(e.filename).name for e in entries], only)
    missing = [e.filename for e in entries if not (ingest / e.filename).exists()]
    if missing:
        raise FileNotFoundError(f"chunks listed in the manifest are missing: {missing[:5]}")
    result_params = dataclasses.replace(params, workers=0)  # workers never change a result
    code = code_digest(chunks.__name__)
    units = []
    for e in entries:
        job = ChunkJob(
            path=str(ingest / e.filename),
            md5=e.md5sum if params.verify_md5 else None,
            part=str(scratch_dir / f"{chunk_stem(e.filename)}.parquet"),
            yymm=e.yymm,
        )
        key = unit_key("validate-classify", f"{e.md5sum}:{e.yymm}", result_params, code)
        units.append(Unit(Path(e.filename).name, key, {CLASSIFIED: Path(job.part)}, job))
    return units


def _classify(units: list[Unit], params: ValidateParams, cache: WorkCache) -> list[Done]:
    """Compute the classify units of `units` the cache lacks; the others are not touched
    (their parts are linked only if a selection needs them)."""
    caps = Caps(
        max_bytes=int(params.max_paper_mb * (1 << 20)),
        max_ratio=params.max_ratio,
        max_member_bytes=int(params.max_member_mb * (1 << 20)),
    )
    todo = [u for u in units if not cache.has(u.key)]
    return run_units(
        todo,
        functools.partial(_run_job, caps=caps, timeout_s=params.timeout_s),
        lambda u: [(u.source, None)],
        lambda u: _ChunkSink(),
        cache,
        min(resolve_workers(params.workers), len(todo)),
        "validate",
        "chunks",
    )


def list_units(
    ingest: Path, wanted: dict[str, str], params: ValidateParams, cache: WorkCache
) -> list[tuple[str, bool]]:
    """Each chunk's name and whether the cache has both its classify and selection units,
    in manifest order (a chunk classified under another selection is not `cached`)."""
    by_month, code = _by_month(wanted), code_digest(selection.__name__)
    states = []
    for u in _units(ingest, params, Path()):
        cached = cache.has(u.key)
        if cached:  # the selection key is made from the classify result
            cached = cache.has(_select_key(u, cache.link(u.key, {}), by_month, code)[0])
        states.append((u.name, cached))
    return states


def compute_units(
    ingest: Path,
    wanted: dict[str, str],
    params: ValidateParams,
    cache: WorkCache,
    only: Collection[str],
) -> dict[str, int]:
    """Put the classify and selection units of the chunks named in `only` into the cache
    (those it has are skipped); no part or ledger written. Returns what was done, named as
    in `validate_corpus`'s run facts."""
    with scratch(cache) as tmp:
        units = _units(ingest, params, tmp / _SCRATCH, only)
        computed = _classify(units, params, cache)
        fresh = {d.unit.key: d.result for d in computed}
        by_month, code = _by_month(wanted), code_digest(selection.__name__)
        select_computed = sum(
            _select_one(u, fresh, by_month, code, tmp / PARTS, cache)[1] for u in units
        )
    return {
        "units_computed": len(computed),
        "units_reused": len(units) - len(computed),
        "select_computed": select_computed,
        "select_reused": len(units) - select_computed,
        "bytes_read": sum(d.result["bytes_read"] for d in computed),
    }


def validate_corpus(
    ingest: Path, wanted: dict[str, str], params: ValidateParams, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Returns the ledger, corpus facts for stats.json, and what this run did (classify units
    computed/reused as `units_*`, selection units as `select_*`, member bytes read), which
    depends on the cache and so stays out of outputs."""
    units = _units(ingest, params, out / _SCRATCH)
    computed = _classify(units, params, cache)
    (out / PARTS).mkdir(parents=True)
    try:
        results, select_computed = _select_all(units, computed, _by_month(wanted), out, cache)
    finally:
        shutil.rmtree(out / _SCRATCH, ignore_errors=True)
    ledger, duplicates = _account(results, wanted)
    extra = {
        "duplicate_members": duplicates,
        "chunks": len(units),
        "members_not_selected": sum(r.not_selected for r in results),
        "bad_member_names": sum(r.bad_member_names for r in results),
    }
    run = {  # units_*: the classify units (chunks read), named as in every unit stage
        "units_computed": len(computed),
        "units_reused": len(units) - len(computed),
        "select_computed": select_computed,
        "select_reused": len(units) - select_computed,
        "bytes_read": sum(d.result["bytes_read"] for d in computed),
    }
    return ledger, extra, run


def _by_month(wanted: dict[str, str]) -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Month -> member id -> the wanted (id, domain) pairs of that paper (its versions)."""
    months: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for arxiv_id, domain in wanted.items():
        months[yymm_of(arxiv_id)][strip_version(arxiv_id)].append((arxiv_id, domain))
    return months


def _select_key(
    unit: Unit, data: dict, by_month: dict[str, dict[str, list[tuple[str, str]]]], code: str
) -> tuple[str, ChunkResult, list[tuple[str, str]]]:
    """A chunk's selection key, from its classify result `data`: the classify key and the
    selected (id, domain) pairs whose members are in it. Also the result and the pairs."""
    job: ChunkJob = unit.source
    classified = ChunkResult.from_json(job, data)
    month = by_month.get(job.yymm, {})
    pairs = sorted(p for i in set(classified.seen) for p in month.get(i, ()))
    digest = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()
    return unit_key("validate-select", f"{unit.key}:{digest}", {}, code), classified, pairs


def _select_one(
    unit: Unit,
    fresh: dict[str, dict],
    by_month: dict[str, dict[str, list[tuple[str, str]]]],
    code: str,
    parts_dir: Path,
    cache: WorkCache,
) -> tuple[ChunkResult, bool]:
    """A chunk's selection: its part `parts_dir/<chunk>.parquet` linked from the cache or
    written from its classified part (`fresh` holds the classify results of this run).
    Returns the selected result and whether the part was written."""
    job: ChunkJob = unit.source
    # a reused classify unit: only its JSON result (its part is linked if needed below)
    data = fresh[unit.key] if unit.key in fresh else cache.link(unit.key, {})
    key, classified, pairs = _select_key(unit, data, by_month, code)
    part = parts_dir / f"{chunk_stem(job.path)}.parquet"
    res = selection.select(classified, pairs, dataclasses.replace(job, part=str(part)))
    if cache.has(key):
        cache.link(key, {PART: part})
        return res, False
    if unit.key not in fresh:
        cache.link(unit.key, {CLASSIFIED: Path(job.part)})
    selection.write_part(job.part, part, pairs)
    cache.put(key, {PART: part}, res.to_json())
    return res, True


def _select_all(
    units: list[Unit],
    computed: list[Done],
    by_month: dict[str, dict[str, list[tuple[str, str]]]],
    out: Path,
    cache: WorkCache,
) -> tuple[list[ChunkResult], int]:
    """Each chunk's selection, in manifest order. Returns the selected results and the
    parts written."""
    fresh = {d.unit.key: d.result for d in computed}
    code = code_digest(selection.__name__)
    results, written = [], 0
    for unit in units:
        res, wrote = _select_one(unit, fresh, by_month, code, out / PARTS, cache)
        results.append(res)
        written += wrote
    return results, written


def _account(results: list[ChunkResult], wanted: dict[str, str]) -> tuple[Ledger, int]:
    """Ledger in manifest order. A paper in two chunks counts once, at its first member;
    later members are removed from their parts and counted as duplicates (a second member in
    the same chunk never was in its part). A paper wanted under two versions (`2402.00093v2`,
    `v3`) counts under one; the other is `duplicate_version`, not `missing_source`."""
    ledger = Ledger("validate")
    seen: set[str] = set()
    duplicates = 0
    for res in results:
        here: set[str] = set()  # counted at a member of this chunk
        earlier, again = set(), set()  # kept here, counted before / in this chunk
        for arxiv_id, nbytes, _ in res.kept:
            if arxiv_id in seen:
                (again if arxiv_id in here else earlier).add(arxiv_id)
                continue
            seen.add(arxiv_id)
            here.add(arxiv_id)
            ledger.keep(arxiv_id, nbytes)
        for arxiv_id, reason, nbytes, detail in res.drops:
            if arxiv_id in seen:
                duplicates += 1
                continue
            seen.add(arxiv_id)
            ledger.drop(arxiv_id, reason, nbytes, detail)
        duplicates += len(earlier) + len(again)
        if earlier:
            _rewrite_without(Path(res.job.part), earlier)
    counted = {strip_version(i): i for i in seen}
    for arxiv_id in sorted(set(wanted) - seen):
        if (other := counted.get(strip_version(arxiv_id))) is not None:
            ledger.drop(arxiv_id, "duplicate_version", 0, f"counted as {other}")
        else:
            ledger.drop(arxiv_id, "missing_source", 0, "no member in any chunk")
    return ledger, duplicates


def _rewrite_without(part: Path, ids: set[str]) -> None:
    """Drop rows from a (hard-linked) part: a new file replaces the link, the cache is intact."""
    with ParquetBatchWriter(part, selection.SOURCES_SCHEMA) as w:
        for row in iter_parquet(part, batch_rows=64):
            if row["id"] not in ids:
                w.write(row)
