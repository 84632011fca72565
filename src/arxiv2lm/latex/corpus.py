"""Extract a whole corpus: one work unit per validated chunk part, computed or reused.

A unit's key is the md5 of validate's part for that chunk, the extract params (but
`workers`) and the code this module imports (`units.code_digest`); a new month computes one
unit and hard-links the others from the work cache. Papers of all units to compute go
through the unit runner's one supervised pool with the per-paper time limit, and each unit
is committed to the cache as soon as its last paper is in. `compute_units` puts only named
units into the cache (no output), `list_units` says which the cache has; both build the
units as `extract_corpus` does (`_units`).

>>> ledger, extra, run = extract_corpus(validate_dir, params, 2, out, cache)  # doctest: +SKIP
>>> run["units_computed"]                                                   # doctest: +SKIP
1
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections import Counter
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from arxiv2lm.io import ParquetBatchWriter, iter_parquet
from arxiv2lm.latex.project import DOCS_SCHEMA, ExtractResult, extract_guarded
from arxiv2lm.ledger import Drop, Ledger
from arxiv2lm.params import ExtractParams
from arxiv2lm.units import Done, Unit, code_digest, only_named, run_units, scratch, unit_key
from arxiv2lm.workcache import PARTS, WorkCache, part_files

COLUMNS = ["id", "domain", "paths", "contents", "bytes"]
PART = "part.parquet"


class _UnitSink:
    """One extract part written as its papers come back, and the unit's result."""

    def __init__(self, dst: Path) -> None:
        self.writer = ParquetBatchWriter(dst, DOCS_SCHEMA, batch_rows=64)
        self.unit: dict[str, Any] = {
            "kept": [], "drops": [], "main_rules": {}, "encodings": {}, "totals": {}
        }  # fmt: skip

    def add(self, note: tuple[str, str, int], out: tuple[str, ExtractResult | Drop]) -> None:
        expected, domain, nbytes = note
        paper_id, res = out
        assert expected == paper_id, (expected, paper_id)  # the runner keeps order
        unit = self.unit
        if not isinstance(res, ExtractResult):
            unit["drops"].append((paper_id, res.reason, nbytes, res.detail))
            if res.reason == "timeout":
                print(f"extract: {paper_id} dropped: {res.detail}", file=sys.stderr)
            return
        unit["kept"].append((paper_id, nbytes))
        for key, value in (("main_rules", res.main_rule), ("encodings", res.encoding)):
            unit[key][value] = unit[key].get(value, 0) + 1
        counted = ("inputs_resolved", "inputs_missing", "macros_defined", "chars_out")
        for key in (*counted, "figures_uncaptioned", "macros_dropped_unexpandable"):
            unit["totals"][key] = unit["totals"].get(key, 0) + getattr(res, key)
        unit["totals"]["expansions_capped"] = unit["totals"].get("expansions_capped", 0) + int(
            res.expansions_capped
        )
        self.writer.write(res.row(paper_id, domain))

    def close(self) -> dict[str, Any]:
        self.writer.close()
        return self.unit

    def abort(self) -> None:
        self.writer.abort()


def _papers(unit: Unit) -> Iterator[tuple[tuple[str, list[str], list[bytes]], tuple]]:
    """(item for `extract_guarded`, (id, domain, bytes) kept here) per paper of the part."""
    for row in iter_parquet(unit.source, COLUMNS, batch_rows=64):
        yield (
            (row["id"], row["paths"], row["contents"]),
            (
                row["id"],
                row["domain"],
                int(row["bytes"]),
            ),
        )


def _units(
    validate_dir: Path,
    params: ExtractParams,
    dst: Path,
    cache: WorkCache,
    only: Collection[str] | None = None,
) -> list[Unit]:
    """One unit per validate part (named by its chunk, `arXiv_src_2301_001`), writing
    `dst/<chunk>.parquet`; only the parts named in `only` when given (only those are hashed)."""
    code = code_digest(__name__)
    result_params = dataclasses.replace(params, workers=0)
    parts = part_files(validate_dir)
    return [
        Unit(
            src.stem,
            unit_key("extract", cache.digest(src), result_params, code),
            {PART: dst / src.name},
            src,
        )
        for src in only_named(parts, [p.stem for p in parts], only)
    ]


def _run(units: list[Unit], params: ExtractParams, workers: int, cache: WorkCache) -> list[Done]:
    fn = functools.partial(extract_guarded, params=params)
    return run_units(
        units,
        fn,
        _papers,
        lambda u: _UnitSink(u.outputs[PART]),
        cache,
        workers,
        "extract",
        "papers",
    )


def list_units(
    validate_dir: Path, params: ExtractParams, cache: WorkCache
) -> list[tuple[str, bool]]:
    """Each unit's name and whether the work cache has it, in chunk order."""
    return [(u.name, cache.has(u.key)) for u in _units(validate_dir, params, Path(), cache)]


def compute_units(
    validate_dir: Path, params: ExtractParams, workers: int, cache: WorkCache, only: Collection[str]
) -> dict[str, int]:
    """Put the units named in `only` into the work cache (those it has are skipped) and
    write nothing else; an unknown name is an `UnknownUnit`. Returns units computed/reused."""
    with scratch(cache) as tmp:
        units = _units(validate_dir, params, tmp, cache, only)
        todo = [u for u in units if not cache.has(u.key)]
        _run(todo, params, workers, cache)
    return {"units_computed": len(todo), "units_reused": len(units) - len(todo)}


def extract_corpus(
    validate_dir: Path, params: ExtractParams, workers: int, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Write `<out>/parts/<chunk>.parquet`; return the ledger, corpus facts and run facts."""
    (out / PARTS).mkdir(parents=True)
    done = _run(_units(validate_dir, params, out / PARTS, cache), params, workers, cache)

    ledger = Ledger("extract")
    rules: Counter[str] = Counter()
    encodings: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for d in done:
        unit = d.result
        for paper_id, nbytes in unit["kept"]:
            ledger.keep(paper_id, nbytes)
        for paper_id, reason, nbytes, detail in unit["drops"]:
            ledger.drop(paper_id, reason, nbytes, detail)
        rules.update(unit["main_rules"])
        encodings.update(unit["encodings"])
        totals.update(unit["totals"])
    extra = {
        "main_rules": dict(sorted(rules.items())),
        "encodings": dict(sorted(encodings.items())),
        "totals": dict(sorted(totals.items())),
    }
    computed = sum(d.computed for d in done)
    run = {"units_computed": computed, "units_reused": len(done) - computed}
    return ledger, extra, run
