"""Stage `extract`: LaTeX projects -> plain text with verbatim math.

    python stages/extract.py data/validate data/extract [--work-cache DIR]
    python stages/extract.py data/validate data/extract --work-cache DIR --unit NAME [--unit ...]
    python stages/extract.py data/validate data/extract --work-cache DIR --list-units

Reads validate's per-chunk parts `<in>/parts/*.parquet`, writes `<out>/parts/<chunk>.parquet`
(one row per paper: text, main file and the rule that chose it, encoding, inputs, macros),
`rejected.parquet` and `stats.json`; the folder is replaced whole. Chunks whose unit is in
the work cache (same part, params and code) are not extracted again.

`--unit arXiv_src_2301_001` (a chunk, as `--list-units` names it: the validate part's stem)
extracts only that chunk into the work cache and writes no output folder, so a driver can
run the units on many machines, then this stage once to link them (README, "All of arXiv").
`--list-units` prints every unit with `cached` or `missing`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir
from arxiv2lm.latex.corpus import compute_units, extract_corpus, list_units
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.units import UnitError, listing, parse_unit_args
from arxiv2lm.workcache import WorkCache


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("in_dir", type=Path, help="validate output folder (parts/*.parquet)")
    ap.add_argument("out_dir", type=Path, help="extract output folder")
    args = parse_unit_args("extract", ap, argv)
    if not (args.in_dir / "stats.json").exists():
        sys.exit(f"extract: {args.in_dir} has no validate output (run validate first)")
    try:
        params = load_params("extract")
    except ParamsError as err:
        sys.exit(f"extract: {err}")
    workers = resolve_workers(params.workers)
    cache = WorkCache(Path(args.work_cache) / "extract" if args.work_cache else None)
    if args.list_units:
        sys.stdout.write(listing(list_units(args.in_dir, params, cache)))
        return
    start = time.perf_counter()
    if args.unit:
        try:
            run = compute_units(args.in_dir, params, workers, cache, args.unit)
        except UnitError as err:
            sys.exit(f"extract: {err}")
        print(
            f"extract: {run['units_computed']} units computed, {run['units_reused']} already "
            f"in {cache.root} ({time.perf_counter() - start:.1f} s, {workers} workers)"
        )
        return
    try:
        with atomic_dir(args.out_dir) as out:
            ledger, extra, run = extract_corpus(args.in_dir, params, workers, out, cache)
            # stats.json is a function of the inputs only (no timings, workers or cache
            # hits), so the stage's output hash is the same on every machine and every rerun
            summary = ledger.write(out, extra=extra)
            if summary["kept"]["papers"] == 0:
                sys.exit(f"extract: no paper yielded text ({summary['dropped']})")
    except UnitError as err:
        sys.exit(f"extract: {err}")
    cache.record_run(run)
    print(
        f"extract: kept {summary['kept']['papers']} of {summary['in']['papers']} papers in "
        f"{time.perf_counter() - start:.1f} s with {workers} workers "
        f"({run['units_computed']} chunks computed, {run['units_reused']} reused)"
    )


if __name__ == "__main__":
    main()
