"""Wrapper documents: a main that only sets a flag or opens a document and includes the paper.

The inner paper's preamble (definitions, `\\title`, `\\author`) must survive into the text.
"""

import pytest

from arxiv2lm.latex.includes import expand_includes
from arxiv2lm.latex.project import ExtractResult, extract_paper

from .conftest import doc, make_params

PREAMBLE = "\\newcommand{\\N}{Nine}\\title{The Inner Title}\\author{A. Person}"
BODY = "\\maketitle\\begin{abstract}We count.\\end{abstract}\\section{Intro} \\N apples."
PAPER = doc(BODY, PREAMBLE)
FLAG = "\\def\\isarxiv{1}\n\\input{paper}\n"
OPEN = "\\documentclass{article}\n\\begin{document}\n\\input{paper}\n\\end{document}\n"


def run(files: dict[str, str]) -> ExtractResult:
    r = extract_paper(list(files), [v.encode() for v in files.values()], make_params())
    assert isinstance(r, ExtractResult), r
    return r


def assert_inner_paper_kept(r: ExtractResult) -> None:
    assert r.text == "# The Inner Title\n\n## Abstract\n\nWe count.\n\n## Intro\n\nNine apples."


@pytest.mark.parametrize("wrapper", [FLAG, OPEN], ids=["flag", "open_document"])
def test_wrapper_keeps_inner_preamble_and_body(wrapper: str) -> None:
    r = run({"arxiv.tex": wrapper, "paper.tex": PAPER})
    assert (r.main_file, r.main_rule) == ("arxiv.tex", "single_candidate")
    assert_inner_paper_kept(r)


@pytest.mark.parametrize(
    ("outer", "middle"),
    [(FLAG, FLAG), (FLAG, OPEN), (OPEN, FLAG), (OPEN, OPEN)],
    ids=["flag-flag", "flag-open", "open-flag", "open-open"],
)
def test_wrapper_in_wrapper(outer: str, middle: str) -> None:
    files = {"top.tex": outer.replace("{paper}", "{mid}"), "mid.tex": middle, "paper.tex": PAPER}
    r = run(files)
    assert r.main_file == "top.tex"
    assert_inner_paper_kept(r)


def test_innermost_title_is_the_one_kept():
    mid = OPEN.replace("\\begin{document}", "\\title{Wrapper}\\begin{document}")
    r = run({"top.tex": OPEN.replace("{paper}", "{mid}"), "mid.tex": mid, "paper.tex": PAPER})
    assert r.text.startswith("# The Inner Title\n")


def test_paper_including_its_wrapper_back_terminates():
    paper = doc(BODY + " \\input{arxiv}", PREAMBLE)
    r = run({"arxiv.tex": OPEN, "paper.tex": paper})
    assert r.text.count("Nine apples.") == 1


def test_wrapper_flag_stays_before_the_inner_document():
    r = expand_includes("arxiv.tex", {"arxiv.tex": FLAG, "paper.tex": PAPER}, 8, 10**6)
    assert r.text == "\\def\\isarxiv{1}\n" + PAPER + "\n"


def test_open_wrapper_moves_inner_preamble_in_front():
    r = expand_includes("arxiv.tex", {"arxiv.tex": OPEN, "paper.tex": PAPER}, 8, 10**6)
    assert r.text.index("\\newcommand{\\N}") < r.text.index("\\begin{document}")
    assert r.text.count("\\documentclass") == 1 and r.text.count("\\begin{document}") == 1


def test_inner_documentstyle_is_dropped_with_the_rest_kept():
    paper = PAPER.replace("\\documentclass{article}", "\\documentstyle[12pt]{article}")
    r = expand_includes("arxiv.tex", {"arxiv.tex": OPEN, "paper.tex": paper}, 8, 10**6)
    assert "\\documentstyle" not in r.text and r.text.startswith("\\newcommand{\\N}")


def test_standalone_figure_preamble_does_not_override_the_papers_macro():
    fig = "\\documentclass{standalone}\\usepackage{tikz}\\newcommand{\\N}{Zero}"
    fig += "\\begin{document}[\\N]\\end{document}"
    main = doc("\\section{Intro} \\N apples. \\input{fig}", "\\newcommand{\\N}{Nine}")
    r = run({"main.tex": main, "fig.tex": fig})
    assert r.text == "## Intro\n\nNine apples. [Nine]"
