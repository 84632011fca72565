"""Stage `normalize`: NFC, whitespace, math delimiters, quality signals, exact and near de-dup.

    python stages/normalize.py data/extract data/normalize [--work-cache DIR]
    python stages/normalize.py ... --work-cache DIR --unit NAME [--unit ...] | --list-units

Reads extract's per-chunk parts `<in>/parts/*.parquet`; writes `<out>/parts/<chunk>.parquet`
(the kept papers of each chunk, chunk order is time order), `rejected.parquet` and
`stats.json`; the folder is replaced whole.
Binary junk is dropped as `not_text`, a paper over `timeout_s` as `timeout`. Chunks whose
unit (normalized text, signals, MinHash) is in the work cache (same part, MinHash params,
`timeout_s` and code) are not normalized again; thresholds only rerun the global pass, and
a chunk whose kept papers did not change keeps its part (linked from the work cache).

`--unit arXiv_src_2301_001` (a chunk, as `--list-units` names it: the extract part's stem)
computes only that chunk's unit into the work cache, with no global pass and no output
folder, so a driver can run the units on many machines, then this stage once for the
global pass (README, "All of arXiv"). `--list-units` prints every unit with `cached` or
`missing`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.text.corpus import compute_units, list_units, normalize_corpus
from arxiv2lm.units import UnitError, listing, parse_unit_args
from arxiv2lm.workcache import WorkCache


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("in_dir", type=Path, help="extract output folder (parts/*.parquet)")
    ap.add_argument("out_dir", type=Path, help="normalize output folder")
    args = parse_unit_args("normalize", ap, argv)
    if not (args.in_dir / "parts").is_dir():
        sys.exit(f"normalize: {args.in_dir}/parts does not exist (run the extract stage first)")
    try:
        params = load_params("normalize")
        workers = resolve_workers(params.workers)
    except ParamsError as err:
        sys.exit(f"normalize: {err}")
    cache = WorkCache(Path(args.work_cache) / "normalize" if args.work_cache else None)
    if args.list_units:
        sys.stdout.write(listing(list_units(args.in_dir, params, cache)))
        return
    if args.unit:
        try:
            run = compute_units(args.in_dir, params, workers, cache, args.unit)
        except UnitError as err:
            sys.exit(f"normalize: {err}")
        print(
            f"normalize: {run['units_computed']} units computed, {run['units_reused']} "
            f"already in {cache.root} (no global pass: run the stage to write its output)"
        )
        return
    try:
        with atomic_dir(args.out_dir) as out:
            ledger, extra, run = normalize_corpus(args.in_dir, params, workers, out, cache)
            summary = ledger.write(out, extra=extra)
            if summary["kept"]["papers"] == 0:
                sys.exit(
                    f"normalize: no paper of {summary['in']['papers']} passed "
                    f"({summary['dropped']}); check the normalize thresholds"
                )
    except (FileNotFoundError, UnitError) as err:
        sys.exit(f"normalize: {err}")
    cache.record_run(run)
    print(
        f"normalize: kept {summary['kept']['papers']} of {summary['in']['papers']} papers "
        f"from {extra['parts']} chunks ({run['units_computed']} computed, "
        f"{run['units_reused']} reused; {run['parts_written']} parts written)"
    )


if __name__ == "__main__":
    main()
