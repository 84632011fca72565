"""Print extraction fidelity per real paper, and the data stages' throughput on one core.

    .venv/bin/python bench/fidelity.py [papers_dir] [--sample N]

`papers_dir` defaults to ../shared/realdata/papers (one unpacked project per folder).

Each paper folder is packed as arXiv ships it (a gzipped tar of its files, untimed), then
timed doing exactly the per-paper work of the stages: validate's `classify_member` (gunzip,
tar, keep TeX files), extract's `extract_paper`, normalize's `not_text`, `normalize_doc`
(NFC, whitespace, quality signals, digest) and MinHash `signature`. Throughput is per CPU
second (`time.process_time`, best of REPEATS) and per MB of *reachable* TeX: the bytes of
the main file and of the files its `\\input`/`\\include`/`\\subfile`/`\\import` chain reads,
not every .sty/.cls/.bbl/decoy .tex shipped beside it. `--sample N` adds N papers of the
bundled synthetic sample (`sources.sample_tex`).

Columns: main file and rule, inputs resolved/missing, macros defined, leftover non-math
commands per 1000 chars, math segments, title/abstract present, reachable KB, chars out per
reachable byte, MB/s of reachable TeX per core.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import re
import tarfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path

from arxiv2lm.latex import comments, encoding, includes
from arxiv2lm.latex.project import COMMENTED_EXTS, ExtractResult, extract_paper
from arxiv2lm.params import load_params
from arxiv2lm.sources.archives import Caps, Paper, classify_member
from arxiv2lm.sources.sample_tex import make_paper
from arxiv2lm.text.minhash import signature
from arxiv2lm.text.nontext import not_text
from arxiv2lm.text.quality import normalize_doc

PARAMS_YAML = Path(__file__).resolve().parent.parent / "params.yaml"
_MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$(?:\\.|[^$\\])+?\$", re.S)
_CMD = re.compile(r"\\[A-Za-z]+")
REPEATS = 3  # timing: best of 3 runs


class _Reads(Mapping[str, str]):
    """A mapping that records which keys were read (`files[path]`), not merely tested."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files, self.read = files, {}

    def __getitem__(self, key: str) -> str:
        self.read[key] = None
        return self.files[key]

    def __contains__(self, key: object) -> bool:
        return key in self.files

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


def reachable_bytes(paths: list[str], contents: list[bytes], main: str, max_depth: int) -> int:
    """Bytes of `main` and of every file its include chain reads (extract's own resolver)."""
    files = {
        p: comments.strip_comments(encoding.decode(c)[0])
        for p, c in zip(paths, contents, strict=True)
        if p.lower().endswith(COMMENTED_EXTS)
    }
    reads = _Reads(files)
    includes.expand_includes(main, reads, max_depth, 1 << 62)
    size = dict(zip(paths, map(len, contents), strict=True))
    return sum(size[p] for p in reads.read)


def pack(files: dict[str, bytes]) -> bytes:
    """`files` as an arXiv source member: a gzipped tar (level 6, like the sample)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)


def _folder_papers(root: Path) -> Iterator[tuple[str, bytes]]:
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = {
            f.relative_to(folder).as_posix(): f.read_bytes()
            for f in sorted(folder.rglob("*"))
            if f.is_file()
        }
        yield folder.name, pack(files)


def _sample_papers(n: int) -> Iterator[tuple[str, bytes]]:
    for i in range(n):
        rng = random.Random(f"fidelity:{i}")
        domain = ("math", "cs", "physics")[i % 3]
        layout = "project" if i % 5 < 3 else "single"  # sample.PROJECT_SHARE
        paper = make_paper(rng, domain, layout)
        data = (
            pack(paper.files)
            if layout == "project"
            else gzip.compress(paper.files[paper.main], compresslevel=6, mtime=0)
        )
        yield f"sample-{domain}-{layout}-{i:03d}", data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("papers_dir", nargs="?", default="../shared/realdata/papers")
    ap.add_argument("--sample", type=int, default=0, help="also N synthetic sample papers")
    args = ap.parse_args()
    root = Path(args.papers_dir)
    if not root.is_dir():
        raise SystemExit(f"fidelity: {root} is not a folder of papers")
    xp = load_params("extract", PARAMS_YAML)
    np_ = load_params("normalize", PARAMS_YAML)
    caps = Caps(64 << 20, 200.0)
    head = f"{'paper':34} {'main (rule)':32} {'in/miss':>7} {'macros':>6} {'cmd/1k':>6}"
    print(head + f" {'math':>5} {'T/A':>4} {'reachKB':>7} {'out/in':>6} {'MB/s':>5}")
    reach_total, project_total, cpu_total = 0, 0, 0.0
    leftovers: Counter[str] = Counter()
    papers = [*_folder_papers(root), *_sample_papers(args.sample)]
    for name, gz in papers:
        best = float("inf")
        for _ in range(REPEATS):
            t0 = time.process_time()
            paper = classify_member(f"2301/{name}.gz", gz, caps)
            r = (
                extract_paper(paper.paths, paper.contents, xp)
                if isinstance(paper, Paper)
                else paper
            )
            if isinstance(r, ExtractResult) and (junk := not_text(r.text)) is None:
                text = normalize_doc((name, r.text)).text
                signature(text, np_.minhash_perm, np_.shingle_words)
            best = min(best, time.process_time() - t0)
        drop = r if not isinstance(r, ExtractResult) else junk
        if drop is not None:
            print(f"{name[:34]:34} DROP {drop.reason}: {drop.detail}")
            continue
        assert isinstance(paper, Paper) and isinstance(r, ExtractResult)
        reach = reachable_bytes(paper.paths, paper.contents, r.main_file, xp.max_input_depth)
        prose = _MATH.sub(" ", text)
        cmds = _CMD.findall(prose)
        leftovers.update(cmds)
        title = "T" if text.startswith("# ") else "-"
        abstract = "A" if "## Abstract\n\n" in text else "-"
        reach_total += reach
        project_total += r.bytes_in
        cpu_total += best
        print(
            f"{name[:34]:34} {f'{r.main_file} ({r.main_rule})'[:32]:32} "
            f"{f'{r.inputs_resolved}/{r.inputs_missing}':>7} {r.macros_defined:>6} "
            f"{1000 * len(cmds) / max(1, len(text)):>6.2f} {len(_MATH.findall(text)):>5} "
            f"{title + abstract:>4} {reach / 1e3:>7.1f} {len(text) / reach:>6.2f} "
            f"{reach / best / 1e6:>5.2f}"
        )
    if cpu_total:
        print(
            f"\ngunzip+extract+normalize+MinHash, one core: {reach_total / cpu_total / 1e6:.2f}"
            f" MB/s of reachable TeX ({reach_total / 1e6:.2f} MB in {cpu_total:.2f} CPU s;"
            f" {project_total / cpu_total / 1e6:.2f} MB/s of all TeX-relevant project bytes;"
            f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"
        )
        print("most common leftover commands:", leftovers.most_common(12))


if __name__ == "__main__":
    main()
