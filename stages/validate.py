"""Stage `validate`: check source chunks against the manifest and classify every paper.

    python stages/validate.py data/ingest data/filter data/validate [--work-cache DIR]
    python stages/validate.py ... --work-cache DIR --unit NAME [--unit ...] | --list-units

Writes `<out>/parts/<chunk>.parquet` (per chunk, one row per paper with its TeX-relevant
files and bytes), `<out>/rejected.parquet` and `<out>/stats.json`. Chunks already classified
in the work cache (same md5, params and code) are not read again, whatever the selection;
only chunks whose selected papers changed get a new part. A chunk whose md5 does not match
the manifest, that cannot be read to its end, or whose worker died (OOM kill) stops the stage
with a one-line message naming it; the previous output is left as it was, and the chunks
finished before it are reused by the rerun.

`--unit arXiv_src_2301_001.tar` (a chunk's file name, as `--list-units` and the manifest
name it) classifies and selects only that chunk into the work cache and writes no output
folder, so a driver can run the chunks on many machines, then this stage once to link them
(README, "All of arXiv"). `--list-units` prints every chunk with `cached` or `missing`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir, iter_parquet
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.sources.chunks import ChunkError
from arxiv2lm.sources.manifest import MANIFEST
from arxiv2lm.sources.validate import compute_units, list_units, validate_corpus
from arxiv2lm.units import UnitError, listing, parse_unit_args
from arxiv2lm.workcache import WorkCache


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ingest_dir", type=Path)
    ap.add_argument("filter_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = parse_unit_args("validate", ap, argv)
    try:
        params = load_params("validate")
    except ParamsError as err:
        sys.exit(f"validate: {err}")
    papers = args.filter_dir / "papers.parquet"
    for need in (args.ingest_dir / MANIFEST, papers):
        if not need.exists():
            sys.exit(f"validate: input {need} not found (run the previous stages first)")
    wanted = {r["id"]: r["domain"] for r in iter_parquet(papers, ["id", "domain"])}
    cache = WorkCache(Path(args.work_cache) / "validate" if args.work_cache else None)
    if args.list_units or args.unit:
        try:
            if args.list_units:
                sys.stdout.write(listing(list_units(args.ingest_dir, wanted, params, cache)))
                return
            run = compute_units(args.ingest_dir, wanted, params, cache, args.unit)
        except (ChunkError, UnitError, FileNotFoundError, ValueError) as err:
            sys.exit(f"validate: {err}")
        print(
            f"validate: {run['units_computed']} chunks classified, {run['units_reused']} "
            f"already in {cache.root} ({run['bytes_read']:,} member bytes read; selected "
            f"{run['select_computed']}, reused {run['select_reused']})"
        )
        return
    try:
        with atomic_dir(args.out_dir) as out:
            ledger, extra, run = validate_corpus(args.ingest_dir, wanted, params, out, cache)
            summary = ledger.write(out, extra=extra)
            if summary["kept"]["papers"] == 0:
                sys.exit(f"validate: no paper has usable TeX sources ({summary['dropped']})")
    except (ChunkError, UnitError, FileNotFoundError, ValueError) as err:
        sys.exit(f"validate: {err}")
    cache.record_run(run)
    print(
        f"validate: kept {summary['kept']['papers']} of {summary['in']['papers']} papers "
        f"from {extra['chunks']} chunks (classified {run['units_computed']}, reused "
        f"{run['units_reused']}, {run['bytes_read']:,} member bytes read; selected "
        f"{run['select_computed']}, reused {run['select_reused']})"
    )


if __name__ == "__main__":
    main()
