"""Stage `validate`: check source chunks against the manifest and classify every paper.

    python stages/validate.py data/ingest data/filter data/validate

Writes `<out>/sources.parquet` (one row per paper with its TeX-relevant files and bytes),
`<out>/rejected.parquet` and `<out>/stats.json`. A chunk whose md5 does not match the
manifest stops the stage with its name, and the previous output is left as it was.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from multiprocessing import Pool
from pathlib import Path

from arxiv2lm.io import ParquetBatchWriter, atomic_dir, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ParamsError, ValidateParams, load_params, resolve_workers
from arxiv2lm.sources.archives import Caps
from arxiv2lm.sources.chunks import (
    SOURCES_SCHEMA,
    ChecksumError,
    ChunkJob,
    ChunkResult,
    part_name,
    validate_chunk,
)
from arxiv2lm.sources.manifest import read_manifest

MANIFEST = "src/arXiv_src_manifest.xml"


def run(ingest: Path, papers: Path, params: ValidateParams, out: Path) -> tuple[Ledger, dict]:
    entries = read_manifest(ingest / MANIFEST)
    missing = [e.filename for e in entries if not (ingest / e.filename).exists()]
    if missing:
        raise FileNotFoundError(f"chunks listed in the manifest are missing: {missing[:5]}")
    wanted = {r["id"]: r["domain"] for r in iter_parquet(papers, ["id", "domain"])}
    parts = out / "parts"
    parts.mkdir()
    jobs = [
        ChunkJob(
            path=str(ingest / e.filename),
            md5=e.md5sum if params.verify_md5 else None,
            part=str(parts / part_name(e.filename)),
            yymm=e.yymm,
        )
        for e in entries
    ]
    caps = Caps(max_bytes=int(params.max_paper_mb * (1 << 20)), max_ratio=params.max_ratio)
    work = partial(validate_chunk, wanted=wanted, caps=caps)
    workers = min(resolve_workers(params.workers), max(1, len(jobs)))
    ledger = Ledger("validate")
    written: set[str] = set()
    not_selected = 0
    with Pool(workers) as pool, ParquetBatchWriter(out / "sources.parquet", SOURCES_SCHEMA) as w:
        for res in pool.imap(work, jobs):  # in manifest order: deterministic output
            not_selected += res.not_selected
            _merge(res, ledger, written, w)
    for arxiv_id in sorted(set(wanted) - written - {row[0] for row in ledger.rows}):
        ledger.drop(arxiv_id, "missing_source", 0, "no member in any chunk")
    for job in jobs:
        Path(job.part).unlink()
    parts.rmdir()
    return ledger, {"chunks": len(jobs), "members_not_selected": not_selected}


def _merge(res: ChunkResult, ledger: Ledger, written: set[str], w: ParquetBatchWriter) -> None:
    member_bytes = {arxiv_id: nbytes for arxiv_id, nbytes, _ in res.kept}
    for arxiv_id, reason, nbytes, detail in res.drops:
        ledger.drop(arxiv_id, reason, nbytes, detail)
    for row in iter_parquet(res.job.part, batch_rows=64):
        if row["id"] in written:
            ledger.drop(row["id"], "duplicate_member", member_bytes[row["id"]], res.job.path)
            continue
        written.add(row["id"])
        ledger.keep(row["id"], member_bytes[row["id"]])
        w.write(row)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ingest_dir", type=Path)
    ap.add_argument("filter_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    try:
        params = load_params("validate")
    except ParamsError as err:
        sys.exit(f"validate: {err}")
    papers = args.filter_dir / "papers.parquet"
    for need in (args.ingest_dir / MANIFEST, papers):
        if not need.exists():
            sys.exit(f"validate: input {need} not found (run the previous stages first)")
    try:
        with atomic_dir(args.out_dir) as out:
            ledger, extra = run(args.ingest_dir, papers, params, out)
            summary = ledger.write(out, extra=extra)
    except (ChecksumError, FileNotFoundError, ValueError) as err:
        sys.exit(f"validate: {err}")
    if summary["kept"]["papers"] == 0:
        sys.exit(f"validate: no paper has usable TeX sources ({summary['dropped']})")
    print(
        f"validate: kept {summary['kept']['papers']} of {summary['in']['papers']} papers "
        f"from {summary['chunks']} chunks"
    )


if __name__ == "__main__":
    main()
