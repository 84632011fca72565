"""`bench/fidelity.py`'s counters, on tiny hand-written TeX and text."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.fidelity import (
    Fidelity,
    conditionals_left,
    expected_mains,
    measure,
    own_macros_left,
    own_names,
    prose_commands,
    reachable,
    strip_verbatim,
    summary,
    title_abstract,
    verbatim_bodies,
)


@pytest.mark.parametrize(
    "definition",
    [r"\newcommand{\X}{x}", r"\renewcommand*\X{x}", r"\providecommand{\X}[1]{#1}",
     r"\DeclareRobustCommand{\X}{x}", r"\NewDocumentCommand{\X}{m}{#1}",
     r"\RenewDocumentCommand\X{m}{#1}", r"\NewExpandableDocumentCommand{\X}{m}{#1}",
     r"\DeclarePairedDelimiter\X{\lvert}{\rvert}", r"\DeclarePairedDelimiterX{\X}[1]{(}{)}{#1}",
     r"\DeclarePairedDelimiterXPP{\X}[1]{}{(}{)}{}{#1}", r"\DeclareMathOperator*{\X}{x}",
     r"\def\X{x}", r"\gdef\X#1{#1}", r"\edef\X{x}", r"\xdef\X{x}", r"\let\X\relax"],
)  # fmt: skip
def test_each_definer_defines(definition):
    assert own_names([definition])[0] == {"X"}


def test_lookalikes_define_nothing():
    assert own_names([r"\default \letter \definecolor{red}{rgb}{1,0,0}"]) == (set(), set())


@pytest.mark.parametrize(
    "definition",
    [r"\acro{K}{kay}", r"\acrodef{K}{kay}", r"\DeclareAcronym{K}{short=k, long=kay}",
     r"\newacronym{K}{k}{kay}", r"\newacronym[plural=ks]{K}{k}{kay}",
     r"\newglossaryentry{K}{name=k, description=kay}"],
)  # fmt: skip
def test_each_acronym_definer(definition):
    assert own_names([definition]) == (set(), {"K"})


def test_paper_defined_definer():
    src = r"\newcommand\newmeta[2]{\def#1##1{#2_{##1}}} \newmeta\ep{e'} \newmeta{\s}{x}"
    assert own_names([src])[0] == {"newmeta", "ep", "s"}


def test_own_macros_left_counts_whole_names_in_text_and_math():
    text = r"Let $\R^n \Rightarrow \R$ and \ep{} with \ac{DNN}, \gls{dnn}, \acp{CNN} \Acl*{DNN}."
    left = own_macros_left(text, {"R", "ep"}, {"DNN", "dnn"})
    assert left == Counter({r"\R": 2, r"\ep": 1, "{DNN}": 2, "{dnn}": 1})


@pytest.mark.parametrize(
    "source,body",
    [("\\begin{verbatim}\n\\foo x\n\\end{verbatim}", "\\foo x"),
     ("\\begin{lstlisting}[language=C]\n\\bar\n\\end{lstlisting}", "\\bar"),
     ("\\begin{minted}{python}\nprint('\\\\n')\n\\end{minted}", "print('\\\\n')"),
     ("\\verb|\\baz|", "\\baz"),
     ("\\verb*+\\baz+", "\\baz"),
     ("\\lstinline{\\qux}", "\\qux"),
     ("\\lstinline!\\qux!", "\\qux"),
     ("\\url{http://a.b/\\c}", "http://a.b/\\c")],
)  # fmt: skip
def test_each_verbatim_form(source, body):
    assert verbatim_bodies(source) == [body]


def test_verbatim_without_backslash_is_not_stripped():
    assert verbatim_bodies(r"\verb|x| \url{http://a.b}") == []
    assert strip_verbatim(r"keep \foo and \bar x", [r"\bar x"]) == r"keep \foo and  "


@pytest.mark.parametrize(
    "token", [r"\if", r"\ifx", r"\ifnum", r"\iffalse", r"\ifdefined", r"\if@twocolumn",
              r"\ifthenelse", r"\else", r"\fi", r"\or"],
)  # fmt: skip
def test_each_conditional_token(token):
    assert conditionals_left(f"a {token} b") == 1


def test_not_conditionals():
    assert conditionals_left(r"$a \iff b$ \figure \fix \elsewhere \order \iffy") == 1  # \iffy


def test_prose_commands_outside_math():
    cmds, prose = prose_commands(r"A \foo{} $\alpha \bar$ costs \$5, $$\beta$$ \baz.")
    assert cmds == [r"\foo", r"\baz"] and prose == len(r"A \foo{}   costs \$5,   \baz.")


@pytest.mark.parametrize(
    "text,source,marks",
    [("# T\n\n## Abstract\n\nA.\n\nBody", r"\title{T}\begin{abstract}A.\end{abstract}", "TA"),
     ("Body", r"\title[s]{T}\abstract{A.}", "!!"),
     ("Body", r"\section{x} body", "--"),
     ("# T\n\nBody", r"\title{T} body", "T-")],
)  # fmt: skip
def test_title_abstract(text, source, marks):
    assert title_abstract(text, source) == marks


def test_measure_skips_verbatim_and_counts_the_rest():
    source = (
        r"\newcommand{\R}{\mathbb{R}}\title{T}"
        "\n\\begin{lstlisting}\n\\R \\ifx\n\\end{lstlisting}\n"
    )
    text = "# T\n\n\\R \\ifx\n\nwords $\\R$ and \\R, \\fi, \\emph x"
    fid = measure(text, source, [r"\def\emph{}"], main_ok=True)
    assert fid.own_left == Counter({r"\R": 2, r"\emph": 1})
    assert fid.conditionals == 1
    assert fid.commands == [r"\R", r"\fi", r"\emph"]
    assert fid.title_abstract == "T-" and fid.main_ok is True


def _row(own: int = 0, cmds: int = 0, cond: int = 0, ta: str = "TA", ok: bool | None = True):
    return Fidelity(Counter({r"\X": own}) if own else Counter(), cond, [r"\c"] * cmds, 1000, ta,
                    ok)  # fmt: skip


def test_summary_all_targets_met():
    line = summary([_row() for _ in range(20)], dropped=0)
    assert "MISS" not in line and "own macros 0 in 20/20 papers (100%" in line
    assert "main file right 20/20 ok" in line


def test_summary_each_target_can_miss():
    rows = [_row() for _ in range(18)] + [_row(own=1), _row(own=2, cmds=30, cond=1, ta="!-",
                                                            ok=False)]  # fmt: skip
    line = summary(rows, dropped=1)
    assert "own macros 0 in 18/20 papers (90%, target >= 95%) MISS" in line
    assert "leftover non-math commands 1.50/1k chars mean (target <= 0.5) MISS" in line
    assert "conditional tokens 1 (target 0) MISS" in line
    assert "title kept 19/20, abstract kept 19/19 where the source has them MISS" in line
    assert "main file right 19/20 MISS" in line and "1 paper(s) dropped MISS" in line


def test_expected_mains(tmp_path: Path):
    (tmp_path / "SOURCES.tsv").write_text("folder\tmain_tex\tnotes\np1\tms.tex\tx\n")
    assert expected_mains(tmp_path) == {"p1": "ms.tex"}
    assert expected_mains(tmp_path / "none") == {}


def test_reachable_reads_the_include_chain_only():
    files = {
        "main.tex": b"\\documentclass{my}\\usepackage{mine}\\begin{document}\\input{sec}"
        b"\\end{document}",
        "sec.tex": b"Section % comment\n text.",
        "decoy.tex": b"\\documentclass{article}\\begin{document}No.\\end{document}",
        "mine.sty": b"\\newcommand{\\R}{R}",
        "my.cls": b"\\def\\editor#1{#1}",
        "letter.sty": b"\\newcommand{\\Q}{Q}",  # shipped, never loaded: defines nothing here
        "junk.tex": b"\x00\x01\x02\x03" * 50,
    }
    reach = reachable(list(files), list(files.values()), "main.tex", max_depth=5)
    assert reach.nbytes == len(files["main.tex"]) + len(files["sec.tex"])
    assert "Section" in reach.source and "comment" not in reach.source
    assert "No." not in reach.source and reach.sty == ["\\newcommand{\\R}{R}"]
    assert reach.cls == ["\\def\\editor#1{#1}"]


def test_a_class_redefining_latex_commands_owns_only_its_new_ones():
    cls = r"\def\editor#1{#1}\renewcommand\section{S}\def\begin{B}\let\text\mbox"
    assert own_names([""], [cls])[0] == {"editor"}
