"""Stage `filter`: arXiv metadata -> the papers to process, by category group, date, licence.

    python stages/filter.py data/ingest data/filter

Reads `<in>/metadata/arxiv-metadata-oai-snapshot.json` (plain, gzip or zstd); writes
`<out>/papers.parquet` (ids kept as strings), `<out>/rejected.parquet` and `<out>/stats.json`.
A line that cannot be used (not UTF-8, not JSON, a field of the wrong type, over
`MAX_LINE_BYTES`) is a `bad_metadata` drop with its line number, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.sources.manifest import SNAPSHOT
from arxiv2lm.sources.metadata import MetadataError, filter_snapshot


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ingest_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    try:
        params = load_params("filter")
    except ParamsError as err:
        sys.exit(f"filter: {err}")
    snapshot = args.ingest_dir / SNAPSHOT
    if not snapshot.exists():
        sys.exit(f"filter: metadata snapshot {snapshot} not found (run the ingest stage first)")
    try:
        with atomic_dir(args.out_dir) as out:
            ledger = filter_snapshot(snapshot, params, out)
            if ledger.kept_papers == 0:
                sys.exit(
                    f"filter: no paper of {ledger.dropped_papers} passed the filter "
                    f"(reasons: {ledger.summary()['dropped']}); check filter.groups and dates"
                )
            summary = ledger.write(out)
    except MetadataError as err:
        sys.exit(f"filter: {err}")
    print(f"filter: kept {summary['kept']['papers']} of {summary['in']['papers']} papers")


if __name__ == "__main__":
    main()
