"""Stage `normalize`: NFC, whitespace, math delimiters, quality signals, exact de-dup.

    python stages/normalize.py data/extract data/normalize

Reads `<in>/docs.parquet`, writes `<out>/docs.parquet`, `rejected.parquet`, `stats.json`.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from arxiv2lm.io import ParquetBatchWriter, atomic_dir, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.pool import map_ordered
from arxiv2lm.text.quality import check, normalize_doc

DOCS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("text", pa.string()),
        ("chars", pa.int64()),
        ("words", pa.int64()),
        ("math_fraction", pa.float64()),
        ("command_density", pa.float64()),
        ("alpha_ratio", pa.float64()),
        ("dup_line_fraction", pa.float64()),
        ("bytes", pa.int64()),
    ]
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("in_dir", type=Path, help="extract output folder (docs.parquet)")
    ap.add_argument("out_dir", type=Path, help="normalize output folder")
    args = ap.parse_args(argv)
    src = args.in_dir / "docs.parquet"
    if not src.exists():
        raise SystemExit(f"normalize: {src} does not exist (run the extract stage first)")
    try:
        params = load_params("normalize")
    except ParamsError as err:
        raise SystemExit(f"normalize: {err}") from None
    for key in ("max_command_density", "min_alpha_ratio", "max_dup_line_fraction"):
        if not 0 <= getattr(params, key) <= 1:
            raise SystemExit(f"normalize: {key} {getattr(params, key)} must be in [0, 1]")
    workers = resolve_workers(params.workers)

    domains: deque[str] = deque()  # domain of each doc in flight, in input order

    def items() -> Iterator[tuple[str, str]]:
        for row in iter_parquet(src, ["id", "domain", "text"]):
            domains.append(row["domain"])
            yield row["id"], row["text"]

    ledger = Ledger("normalize")
    seen: set[str] = set()
    with (
        atomic_dir(args.out_dir) as out,
        ParquetBatchWriter(out / "docs.parquet", DOCS_SCHEMA) as writer,
    ):
        for doc in map_ordered(normalize_doc, items(), workers):
            domain = domains.popleft()  # map_ordered keeps input order
            nbytes = len(doc.text.encode("utf-8"))
            drop = check(doc.signals, params)
            if drop is None and doc.digest in seen:
                ledger.drop(doc.id, "exact_duplicate", nbytes, doc.digest)
                continue
            if drop is not None:
                ledger.drop(doc.id, drop.reason, nbytes, drop.detail)
                continue
            seen.add(doc.digest)
            ledger.keep(doc.id, nbytes)
            writer.write(
                {"id": doc.id, "domain": domain, "text": doc.text, "bytes": nbytes}
                | doc.signals.as_dict()
            )
        summary = ledger.write(out)
    print(
        f"normalize: kept {summary['kept']['papers']} of {summary['in']['papers']} papers "
        f"with {workers} workers"
    )


if __name__ == "__main__":
    main()
