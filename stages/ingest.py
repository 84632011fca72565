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

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.sources.manifest import ChecksumError, link_mirror
from arxiv2lm.sources.remote import ingest_s3, s3_errors
from arxiv2lm.sources.sample import generate_sample


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
                s = ingest_s3(p.s3, p.snapshot, out)
            except s3_errors() as err:
                sys.exit(f"ingest: S3 error: {err}")
            line = (
                f"s3: {s['chunks']} chunks ({s['fetched']} fetched, {s['present']} already "
                f"present, {s['bytes']} bytes) from {s['source']}"
            )
        elif p.source == "sample":
            with atomic_dir(out) as tmp:
                s = generate_sample(tmp, p.seed, p.n_papers, p.papers_per_chunk)
            line = (
                f"sample: {s['papers']} papers, {s['members']} members in "
                f"{s['chunks']} chunks, seed {s['seed']}"
            )
        else:
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
