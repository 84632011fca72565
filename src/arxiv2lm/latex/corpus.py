"""Extract a whole corpus: one work unit per validated chunk part, computed or reused.

A unit's key is the md5 of validate's part for that chunk, the extract params (but
`workers`) and the code of the LaTeX cores; a new month computes one unit and hard-links
the others from the work cache. Papers of all units to compute go through one ordered
worker pool with the per-paper time limit.

>>> ledger, extra, run = extract_corpus(validate_dir, params, 2, out, cache)  # doctest: +SKIP
>>> run["units_computed"]                                                   # doctest: +SKIP
1
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter, iter_parquet, write_json
from arxiv2lm.latex import (
    comments,
    encoding,
    includes,
    macros,
    mainfile,
    mathmode,
    project,
    scan,
    textrules,
    totext,
)
from arxiv2lm.latex.project import DOCS_SCHEMA, ExtractResult, extract_guarded
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ExtractParams
from arxiv2lm.workcache import (
    PARTS,
    WorkCache,
    code_digest,
    file_digest,
    link_or_copy_file,
    part_files,
    unit_key,
)

CODE = (comments, encoding, includes, macros, mainfile, mathmode, project, scan, textrules,
        totext, pool)  # fmt: skip
COLUMNS = ["id", "domain", "paths", "contents", "bytes"]


def _empty_result() -> dict[str, Any]:
    return {"kept": [], "drops": [], "main_rules": {}, "encodings": {}, "totals": {}}


def _compute(
    todo: list[tuple[Path, Path]], params: ExtractParams, workers: int
) -> dict[Path, dict[str, Any]]:
    """Extract the papers of every (input part, output part) pair; returns unit results."""
    pending: deque[tuple[Path, str, str, int]] = deque()  # (out part, id, domain, bytes)

    def items() -> Iterator[tuple[str, list[str], list[bytes]]]:
        for src, dst in todo:
            for row in iter_parquet(src, COLUMNS, batch_rows=64):
                pending.append((dst, row["id"], row["domain"], int(row["bytes"])))
                yield row["id"], row["paths"], row["contents"]

    results = {dst: _empty_result() for _, dst in todo}
    writers = {dst: ParquetBatchWriter(dst, DOCS_SCHEMA, batch_rows=64) for _, dst in todo}
    fn = functools.partial(extract_guarded, params=params)
    try:
        for paper_id, res in pool.map_ordered(fn, items(), workers):
            dst, expected, domain, nbytes = pending.popleft()
            assert expected == paper_id, (expected, paper_id)  # map_ordered keeps order
            unit = results[dst]
            if not isinstance(res, ExtractResult):
                unit["drops"].append((paper_id, res.reason, nbytes, res.detail))
                if res.reason == "timeout":
                    print(f"extract: {paper_id} dropped: {res.detail}", file=sys.stderr)
                continue
            unit["kept"].append((paper_id, nbytes))
            for key, value in (("main_rules", res.main_rule), ("encodings", res.encoding)):
                unit[key][value] = unit[key].get(value, 0) + 1
            for key in ("inputs_resolved", "inputs_missing", "macros_defined", "chars_out"):
                unit["totals"][key] = unit["totals"].get(key, 0) + getattr(res, key)
            unit["totals"]["expansions_capped"] = unit["totals"].get("expansions_capped", 0) + int(
                res.expansions_capped
            )
            writers[dst].write(res.row(paper_id, domain))
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    for w in writers.values():
        w.close()
    return results


def extract_corpus(
    validate_dir: Path, params: ExtractParams, workers: int, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Write `<out>/parts/<chunk>.parquet`; return the ledger, corpus facts and run facts."""
    code = code_digest(*CODE)
    result_params = dataclasses.replace(params, workers=0)
    (out / PARTS).mkdir(parents=True)
    units, todo = [], []
    for src in part_files(validate_dir):
        dst = out / PARTS / src.name
        key = unit_key("extract", file_digest(src), result_params, code)
        units.append((dst, key))
        if not cache.has(key):
            todo.append((src, dst))
    computed = _compute(todo, params, workers) if todo else {}

    ledger = Ledger("extract")
    rules: Counter[str] = Counter()
    encodings: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for dst, key in units:
        if dst in computed:
            write_json(computed[dst], dst.with_suffix(".json"))
            cache.put(key, {"part.parquet": dst, "result.json": dst.with_suffix(".json")})
            unit = computed[dst]
        else:
            link_or_copy_file(cache.files(key) / "part.parquet", dst)
            unit = json.loads((cache.files(key) / "result.json").read_text())
        dst.with_suffix(".json").unlink(missing_ok=True)
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
    run = {"units_computed": len(computed), "units_reused": len(units) - len(computed)}
    return ledger, extra, run
