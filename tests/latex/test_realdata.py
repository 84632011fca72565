"""Every real paper in shared/realdata/papers: main file, macros, comments, abstract.

Skipped when the folder is absent. These papers check generality; no rule is tuned to them.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from arxiv2lm.latex.comments import strip_comments
from arxiv2lm.latex.definitions import iter_definitions
from arxiv2lm.latex.encoding import decode
from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.sources.archives import read_folder

from .conftest import make_params

PAPERS = Path(__file__).resolve().parents[2].parent / "shared/realdata/papers"
_COMMENT = re.compile(r"(?<!\\)%(.*)$", re.M)


# Papers added to the dev set after this extractor was written that it still gets wrong;
# each is a case of the open "Extraction II" issue (main file chosen by name over content,
# `%` inside a verbatim listing). strict: a fix turns the mark into a failure to remove it.
KNOWN_FAILURES = {}


def _folders() -> list[tuple[str, str] | object]:
    if not (PAPERS / "SOURCES.tsv").exists():
        return []
    with (PAPERS / "SOURCES.tsv").open(encoding="utf-8") as fh:
        rows = [(r["folder"], r["main_tex"]) for r in csv.DictReader(fh, delimiter="\t")]
    return [
        pytest.param(*row, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[row[0]], strict=True))
        if row[0] in KNOWN_FAILURES
        else row
        for row in rows
    ]


@pytest.mark.skipif(not _folders(), reason=f"{PAPERS} absent")
@pytest.mark.parametrize("folder,main_tex", _folders() or [("none", "none")])
def test_real_paper(folder: str, main_tex: str) -> None:
    paths, contents = read_folder(PAPERS / folder)
    r = extract_paper(paths, contents, make_params())
    assert isinstance(r, ExtractResult), r
    assert r.text.strip()
    assert r.main_file == main_tex
    # abstract kept, and non-trivial
    assert "## Abstract\n\n" in r.text
    abstract = r.text.split("## Abstract\n\n", 1)[1].split("\n\n## ", 1)[0]
    assert len(abstract.split()) >= 30
    # every usable \newcommand/\def of the paper's own .tex files is expanded away
    tex = {p: decode(c)[0] for p, c in zip(paths, contents, strict=True) if p.endswith(".tex")}
    names = {
        d.name
        for t in tex.values()
        for d in iter_definitions(strip_comments(t))
        if d.usable and d.kind != "env" and d.name.isalpha()
    }
    left = sorted(n for n in names if re.search(r"\\" + n + r"(?![A-Za-z])", r.text))
    assert left == []
    # no comment text: a comment of 5+ words must not reappear verbatim (unless the same
    # words are also live text of the source, in any of its files, as when a heading is
    # commented out and rewritten, or a sentence commented out in a chapter is live in the
    # arXiv version's main file)
    out = " ".join(r.text.split())
    live = " ".join(" ".join(strip_comments(t).split()) for t in tex.values())
    for t in tex.values():
        for m in _COMMENT.finditer(t):
            said = " ".join(m.group(1).split())
            if len(said.split()) >= 5 and said not in live:
                assert said not in out, said
