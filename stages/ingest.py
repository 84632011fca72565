"""Stage `ingest`: lay an arXiv mirror out under the output folder.

    python stages/ingest.py data/ingest

Reads the `ingest:` section of ./params.yaml. `source: sample` generates the synthetic
sample from `seed`, `n_papers` and `papers_per_chunk`; `source: local` hard-links (or copies)
`local_dir`'s `src/arXiv_src_manifest.xml`, every chunk it lists, and the `snapshot` file;
`source: s3` downloads the manifest and the selected chunks (md5-verified, resumable,
chunks already present and verified are not fetched again) and writes a manifest of just
those chunks. The output holds `metadata/arxiv-metadata-oai-snapshot.json`,
`src/arXiv_src_YYMM_NNN.tar` and `src/arXiv_src_manifest.xml` (plus `sample.json`, what the
sample holds). Sample and local outputs are built aside and moved into place whole; s3
updates the folder in place, since no file appears there before it is verified.

Every name and number a manifest gives is checked before any file is touched (see
`arxiv2lm.sources.manifest`): a bad entry stops the stage with a one-line error naming it,
and the previous output stays as it was (s3 reads the new manifest under its own name,
`src/arXiv_src_manifest.full.xml`, so the previous `arXiv_src_manifest.xml` survives).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arxiv2lm.io import atomic_dir
from arxiv2lm.params import IngestParams, ParamsError, load_params
from arxiv2lm.sources.manifest import (
    MANIFEST,
    SNAPSHOT,
    chunk_path,
    link_mirror,
    link_or_copy,
    read_manifest,
    write_manifest,
)
from arxiv2lm.sources.remote import (
    ChecksumError,
    S3Location,
    check_selection,
    fetch_chunks,
    fetch_manifest,
    fetch_snapshot,
    make_client,
    s3_errors,
    select_chunks,
)
from arxiv2lm.sources.sample import generate_sample

FULL_MANIFEST = "src/arXiv_src_manifest.full.xml"  # the bucket's, all months


def ingest_s3(p: IngestParams, out: Path) -> str:
    """Fetch the selected chunks into `out` in place; returns the summary line."""
    if not p.snapshot:
        raise ValueError("source s3 needs ingest.snapshot (a path or s3://bucket/key)")
    s3 = p.s3
    client = make_client(s3.endpoint_url, s3.region)
    loc = S3Location(s3.bucket, s3.prefix, s3.requester_pays)  # checks bucket and prefix
    check_selection(s3.yymm_from, s3.yymm_to, s3.yymm_list)  # before any request
    # Read into its own name: if it is bad, the stage stops with the previous manifest intact.
    full = fetch_manifest(client, loc, out, FULL_MANIFEST)
    chosen = select_chunks(
        read_manifest(full), s3.yymm_from, s3.yymm_to, s3.yymm_list, s3.max_chunks
    )
    if not chosen:
        raise ValueError(f"no chunk of s3://{s3.bucket}/{loc.key(MANIFEST)} matches the selection")
    got = fetch_chunks(client, loc, chosen, out, workers=s3.download_workers)
    keep = {chunk_path(out, e.filename) for e in chosen}
    for stale in (out / "src").glob("arXiv_src_*.tar"):
        if stale not in keep:
            stale.unlink()
    write_manifest(chosen, out / MANIFEST)
    if p.snapshot.startswith("s3://"):
        fetch_snapshot(client, p.snapshot, out / SNAPSHOT, s3.requester_pays)
    else:
        (out / SNAPSHOT).unlink(missing_ok=True)
        link_or_copy(Path(p.snapshot), out / SNAPSHOT)
    return (
        f"s3: {len(chosen)} chunks ({got['fetched']} fetched, {got['present']} already "
        f"present, {got['bytes']} bytes) from s3://{s3.bucket}/{loc.key('src/')}"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output folder, e.g. data/ingest")
    args = ap.parse_args(argv)
    try:
        p = load_params("ingest")
    except ParamsError as err:
        sys.exit(f"ingest: {err}")
    out: Path = args.out
    try:
        if p.source == "s3":
            out.mkdir(parents=True, exist_ok=True)
            try:
                line = ingest_s3(p, out)
            except s3_errors() as err:
                sys.exit(f"ingest: S3 error: {err}")
        elif p.source == "sample":
            with atomic_dir(out) as tmp:
                s = generate_sample(tmp, p.seed, p.n_papers, p.papers_per_chunk)
            line = (
                f"sample: {s['papers']} papers, {s['members']} members in "
                f"{s['chunks']} chunks, seed {s['seed']}"
            )
        else:
            if not p.local_dir or not p.snapshot:
                sys.exit("ingest: source local needs ingest.local_dir and ingest.snapshot")
            with atomic_dir(out) as tmp:
                s = link_mirror(Path(p.local_dir), Path(p.snapshot), tmp)
            line = (
                f"local: {s['chunks']} chunks ({s['linked']} linked, {s['copied']} "
                f"copied, {s['bytes']} bytes) from {p.local_dir}"
            )
    except (FileNotFoundError, ValueError, ChecksumError) as err:
        sys.exit(f"ingest: {err}")
    print(f"ingest -> {out}: {line}")


if __name__ == "__main__":
    main()
