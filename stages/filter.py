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

import pyarrow as pa

from arxiv2lm.io import ParquetBatchWriter, atomic_dir
from arxiv2lm.ledger import Drop, Ledger
from arxiv2lm.params import FilterParams, ParamsError, load_params
from arxiv2lm.sources.metadata import MetadataError, iter_snapshot, parse_record, select

SNAPSHOT = "metadata/arxiv-metadata-oai-snapshot.json"
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("categories", pa.string()),
        ("primary_category", pa.string()),
        ("created", pa.string()),
        ("license", pa.string()),
        ("title", pa.string()),
        ("abstract", pa.string()),
    ]
)


def filter_snapshot(snapshot: Path, params: FilterParams, out: Path) -> Ledger:
    """Stream the snapshot once; write the kept papers and return the ledger."""
    ledger = Ledger("filter")
    seen: set[str] = set()
    with ParquetBatchWriter(out / "papers.parquet", SCHEMA) as writer:
        for lineno, raw in iter_snapshot(snapshot):
            if isinstance(raw, Drop):  # its detail already names the line
                ledger.drop(f"line:{lineno}", raw.reason, 0, raw.detail)
                continue
            rec = parse_record(raw)
            if isinstance(rec, Drop):
                ledger.drop(f"line:{lineno}", rec.reason, 0, f"line {lineno}: {rec.detail}")
                continue
            if rec.id in seen:
                ledger.drop(rec.id, "duplicate_id", 0, f"line {lineno}")
                continue
            seen.add(rec.id)
            domain = select(rec, params)
            if isinstance(domain, Drop):
                ledger.drop(rec.id, domain.reason, 0, domain.detail)
                continue
            ledger.keep(rec.id, 0)
            writer.write(
                {
                    "id": rec.id,
                    "domain": domain,
                    "categories": " ".join(rec.categories),
                    "primary_category": rec.categories[0],
                    "created": rec.created,
                    "license": rec.license,
                    "title": rec.title,
                    "abstract": rec.abstract,
                }
            )
    return ledger


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
