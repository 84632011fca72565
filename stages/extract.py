"""Stage `extract`: LaTeX projects -> plain text with verbatim math.

    python stages/extract.py data/validate data/extract

Reads `<in>/parts/*.parquet` (validate's per-chunk parts, in chunk order), writes
`<out>/docs.parquet`, `rejected.parquet`, `stats.json`; the folder is replaced whole.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path

from arxiv2lm.io import ParquetBatchWriter, atomic_dir
from arxiv2lm.latex.project import DOCS_SCHEMA, ExtractResult, extract_guarded
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.pool import map_ordered
from arxiv2lm.sources.validate import iter_sources


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("in_dir", type=Path, help="validate output folder (parts/*.parquet)")
    ap.add_argument("out_dir", type=Path, help="extract output folder")
    args = ap.parse_args(argv)
    if not (args.in_dir / "stats.json").exists():
        raise SystemExit(f"extract: {args.in_dir} has no validate output (run validate first)")
    try:
        params = load_params("extract")
    except ParamsError as err:
        raise SystemExit(f"extract: {err}") from None
    for key in ("max_input_depth", "max_expanded_mb", "max_macro_expansions"):
        if getattr(params, key) <= 0:
            raise SystemExit(f"extract: {key} {getattr(params, key)} must be > 0")
    if params.timeout_s < 0:
        raise SystemExit(f"extract: timeout_s {params.timeout_s} must be >= 0 (0 = no limit)")
    workers = resolve_workers(params.workers)

    ledger = Ledger("extract")
    pending: deque[tuple[str, str, int]] = deque()  # (id, domain, bytes), in input order
    rules: Counter[str] = Counter()
    encodings: Counter[str] = Counter()
    totals: Counter[str] = Counter()

    def items() -> Iterator[tuple[str, list[str], list[bytes]]]:
        for row in iter_sources(args.in_dir, ["id", "domain", "paths", "contents", "bytes"]):
            pending.append((row["id"], row["domain"], int(row["bytes"])))
            yield row["id"], row["paths"], row["contents"]

    start = time.perf_counter()
    fn = functools.partial(extract_guarded, params=params)
    with (
        atomic_dir(args.out_dir) as out,
        ParquetBatchWriter(out / "docs.parquet", DOCS_SCHEMA) as writer,
    ):
        for paper_id, res in map_ordered(fn, items(), workers):
            expected, domain, nbytes = pending.popleft()
            assert expected == paper_id, (expected, paper_id)  # map_ordered keeps order
            if not isinstance(res, ExtractResult):
                ledger.drop(paper_id, res.reason, nbytes, res.detail)
                if res.reason == "timeout":
                    print(f"extract: {paper_id} dropped: {res.detail}", file=sys.stderr)
                continue
            ledger.keep(paper_id, nbytes)
            rules[res.main_rule] += 1
            encodings[res.encoding] += 1
            totals.update(
                inputs_resolved=res.inputs_resolved,
                inputs_missing=res.inputs_missing,
                macros_defined=res.macros_defined,
                chars_out=res.chars_out,
                expansions_capped=int(res.expansions_capped),
            )
            writer.write(res.row(paper_id, domain))
        # stats.json stays a function of the inputs (no timings, no worker count), so the
        # stage's output hash is the same on every machine
        summary = ledger.write(
            out,
            extra={
                "main_rules": dict(sorted(rules.items())),
                "encodings": dict(sorted(encodings.items())),
                "totals": dict(sorted(totals.items())),
            },
        )
    seconds = time.perf_counter() - start
    print(
        f"extract: kept {summary['kept']['papers']} of {summary['in']['papers']} papers "
        f"in {seconds:.1f} s with {workers} workers"
    )


if __name__ == "__main__":
    main()
