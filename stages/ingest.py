"""Stage `ingest`: lay an arXiv mirror out under the output folder.

    python stages/ingest.py data/ingest

Reads the `ingest:` section of ./params.yaml. `source: sample` generates the synthetic
sample from `seed`, `n_papers` and `papers_per_chunk`; `source: local` hard-links (or copies)
`local_dir`'s `src/arXiv_src_manifest.xml`, every chunk it lists, and the `snapshot` file.
Either way the output is built in a temporary sibling folder and moved into place whole:
`metadata/arxiv-metadata-oai-snapshot.json`, `src/arXiv_src_YYMM_NNN.tar`,
`src/arXiv_src_manifest.xml` (plus `sample.json`, what the sample holds).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.sources.manifest import link_mirror
from arxiv2lm.sources.sample import generate_sample


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` by the finished `tmp` folder; the old one is removed only afterwards."""
    old = out.with_name(f".{out.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    if old.exists():
        shutil.rmtree(old)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="output folder, e.g. data/ingest")
    args = ap.parse_args(argv)
    try:
        p = load_params("ingest")
    except ParamsError as err:
        sys.exit(f"ingest: {err}")
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the data folder is not
    try:
        if p.source == "sample":
            s = generate_sample(tmp, p.seed, p.n_papers, p.papers_per_chunk)
            line = (
                f"sample: {s['papers']} papers, {s['members']} members in "
                f"{s['chunks']} chunks, seed {s['seed']}"
            )
        else:
            if not p.local_dir or not p.snapshot:
                sys.exit("ingest: source local needs ingest.local_dir and ingest.snapshot")
            s = link_mirror(Path(p.local_dir), Path(p.snapshot), tmp)
            line = (
                f"local: {s['chunks']} chunks ({s['linked']} linked, {s['copied']} "
                f"copied, {s['bytes']} bytes) from {p.local_dir}"
            )
        _swap_in(tmp, out)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"ingest: {err}")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    print(f"ingest -> {out}: {line}")


if __name__ == "__main__":
    main()
