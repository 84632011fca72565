"""Real paper folders (unpacked LaTeX projects) run through extract and normalize in-process.

>>> domain_of("hep-ph / physics.data-an (arXiv 1803.07574)")
'physics'

A papers folder holds one subfolder per paper. With a `SOURCES.tsv` (tab-separated, with at
least the columns `folder` and `field`) the papers are its rows, each in the arXiv group of
the first category of its `field` (`domain_of`); without one, every subfolder is a paper of
domain "unknown". Everything read is untrusted: a row naming anything but a direct
subfolder, a missing or unreadable folder, a folder over `max_paper_bytes` of TeX-relevant
files, or a paper that extract or `not_text` drops comes back as a named drop, never as an
exception. Symlinks are not followed. The tokenizer stage scores its model on these papers;
bench/tokenizer_study.py and bench/tokenizer_bpb.py train and score on them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.ledger import Drop
from arxiv2lm.params import ExtractParams
from arxiv2lm.sources.archives import is_tex_relevant
from arxiv2lm.text.nontext import not_text
from arxiv2lm.text.quality import normalize_doc

SOURCES = "SOURCES.tsv"
# arXiv's groups (arxiv.org/category_taxonomy): eess sits with cs, stat with math, and
# every physics archive (astro-ph, cond-mat, hep-*, quant-ph, physics...) is physics.
DOMAIN_GROUPS = {"cs": "cs", "eess": "cs", "math": "math", "stat": "math"}
UNKNOWN = "unknown"
# The TeX-relevant bytes one paper folder may hold: arXiv's own limit on a submission is
# 50 MB, figures included; extract caps what it expands on top of this.
MAX_PAPER_BYTES = 64 * 2**20
MAX_SOURCES_BYTES = 4 * 2**20  # SOURCES.tsv: a few hundred bytes a row


class RealPaper(NamedTuple):
    folder: str
    domain: str
    text: str  # normalized, as the normalize stage writes it


class RealDrop(NamedTuple):
    folder: str
    reason: str
    detail: str


def domain_of(field: str) -> str:
    """`"hep-ph / physics.data-an (...)"` -> "physics"; `"stat.ML cs.LG"` -> "math"."""
    first = field.split()[0] if field.split() else ""
    archive = first.split(".")[0]
    return DOMAIN_GROUPS.get(archive, "physics" if archive else UNKNOWN)


def paper_rows(root: Path) -> list[tuple[str, str]]:
    """(folder, domain) of each paper in `root`, in SOURCES.tsv's order or by name.

    Raises ValueError on a SOURCES.tsv that is not a readable table with `folder` and
    `field` columns: a broken listing is the caller's to fix, not a paper to drop."""
    sources = root / SOURCES
    if not sources.is_file():
        subs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink())
        return [(name, UNKNOWN) for name in subs]
    size = sources.stat().st_size
    if size > MAX_SOURCES_BYTES:
        raise ValueError(f"{sources} has {size} bytes (> {MAX_SOURCES_BYTES})")
    try:
        with sources.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            missing = {"folder", "field"} - set(reader.fieldnames or [])
            if missing:
                raise ValueError(f"{sources} lacks the column(s) {sorted(missing)}")
            return [(row["folder"] or "", domain_of(row["field"] or "")) for row in reader]
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValueError(f"{sources} is not a UTF-8 tab-separated table: {err}") from err


def read_paper(folder: Path, max_bytes: int) -> tuple[list[str], list[bytes]] | Drop:
    """The TeX-relevant files of one paper folder (as `sources.archives.read_folder` keeps
    them), sizes checked before anything is read; symlinks are skipped."""
    found: list[tuple[str, Path]] = []
    total = 0
    for top, dirs, files in os.walk(folder):  # os.walk does not descend into symlinked dirs
        dirs.sort()
        for name in sorted(files):
            path = Path(top) / name
            if path.is_symlink() or not is_tex_relevant(name):
                continue
            total += path.stat().st_size
            if total > max_bytes:
                return Drop("too_large", f"more than {max_bytes} bytes of TeX-relevant files")
            found.append((path.relative_to(folder).as_posix(), path))
    found.sort()
    return [rel for rel, _ in found], [path.read_bytes() for _, path in found]


def text_of(paths: list[str], contents: list[bytes], xp: ExtractParams) -> str | Drop:
    """Normalized text of one paper's files, or why extract or `not_text` drops it."""
    r = extract_paper(paths, contents, xp)
    if not isinstance(r, ExtractResult):
        return r
    return not_text(r.text) or normalize_doc(("", r.text)).text


def real_papers(
    root: Path, xp: ExtractParams, max_paper_bytes: int = MAX_PAPER_BYTES
) -> Iterator[RealPaper | RealDrop]:
    """Each paper of `root` (see the module docstring), normalized, or the reason it is not.

    >>> [p.folder for p in real_papers(Path("papers"), xp) if isinstance(p, RealDrop)]
    ... # doctest: +SKIP
    ['withdrawn_paper']
    """
    seen: set[str] = set()
    for name, domain in paper_rows(root):
        # A row names a direct subfolder: no separators, no "..", nothing outside `root`.
        if name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
            yield RealDrop(name, "bad_folder_name", "not a subfolder name")
            continue
        if name in seen:
            yield RealDrop(name, "duplicate", f"listed twice in {SOURCES}")
            continue
        seen.add(name)
        folder = root / name
        try:
            if folder.is_symlink() or not folder.is_dir():
                yield RealDrop(name, "missing_folder", f"no folder {folder}")
                continue
            files = read_paper(folder, max_paper_bytes)
        except OSError as err:  # a file without read permission, a name too long
            yield RealDrop(name, "unreadable", str(err))
            continue
        got = files if isinstance(files, Drop) else text_of(*files, xp)
        if isinstance(got, Drop):
            yield RealDrop(name, got.reason, got.detail)
        else:
            yield RealPaper(name, domain, got)


def load_real_papers(
    root: Path, xp: ExtractParams, max_paper_bytes: int = MAX_PAPER_BYTES
) -> tuple[list[RealPaper], list[RealDrop]]:
    """`real_papers` of `root` as (kept papers, drops), both in listing order."""
    papers: list[RealPaper] = []
    drops: list[RealDrop] = []
    for item in real_papers(root, xp, max_paper_bytes):
        if isinstance(item, RealPaper):
            papers.append(item)
        else:
            drops.append(item)
    return papers, drops
