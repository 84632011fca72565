"""Own macros the expander cannot run: removed with their arguments (or leaving the text they
print), counted; their arguments read as TeX reads them."""

import pytest

from arxiv2lm.latex.macroargs import Param, Raw
from arxiv2lm.latex.macros import collect, expand
from arxiv2lm.latex.opaque import draws, may_hide, prints, signature
from arxiv2lm.latex.project import ExtractResult, extract_paper

from .conftest import doc, make_params

# a CTAN-style drawing package: xparse, `@` internals, TikZ
DIAGRAMS = r"""
\RequirePackage{tikz}
\NewDocumentCommand\diag@save{}{\xdef\diag@kept{\diag@now}}
\NewDocumentCommand\diagram{O{}mO{0}m}{%
  \diag@save{}\ifdefined\filldraw\relax\@diagram[#1]{#2}[#3]{#4}%
  \else\tikz[baseline]{\@diagram[#1]{#2}[#3]{#4}}\fi}
\NewDocumentCommand\diagLabel{smm}{\node at (#2) {#3};}
\NewDocumentEnvironment{diagramPicture}{O{}m}{\begin{tikzpicture}\@diagram[#1]{#2}}%
  {\end{tikzpicture}}
\def\editor#1{\gdef\@editor{#1}}
"""


def run(body: str, files: dict[str, str], preamble: str = "", **over: object) -> ExtractResult:
    files = {"main.tex": doc(body, preamble), **files}
    r = extract_paper(list(files), [v.encode() for v in files.values()], make_params(**over))
    assert isinstance(r, ExtractResult), r
    return r


def test_drawing_macros_from_a_local_package_go_with_their_arguments():
    body = (
        "Nodes $\\diagram{A}{x}$ and \\diagram[parabolic=1]{B}{**.*x} are marked; "
        "E \\diagram[o=C]E6 here.\n\n"
        "\\begin{diagramPicture}[a]{C}\\diagLabel*{1}{ell}\\end{diagramPicture} End."
    )
    r = run(body, {"diagrams.sty": DIAGRAMS}, "\\usepackage{diagrams}")
    assert r.text == "Nodes  and  are marked; E  here.\n\nEnd."
    assert r.macros_dropped_unexpandable == 4


def test_a_macro_that_stores_its_argument_goes_whole():
    r = run("\\editor{Jane Roe}Text.", {"diagrams.sty": DIAGRAMS}, "\\usepackage{diagrams}")
    assert r.text == "Text." and r.macros_dropped_unexpandable == 1


def test_internals_in_the_document_itself():
    pre = "\\makeatletter\\newcommand\\setcapfont[1]{\\def\\cap@font{#1}}\\makeatother"
    r = run("A \\setcapfont{\\small} B.", {}, pre)
    assert r.text == "A  B." and r.macros_dropped_unexpandable == 1


# a proof-tree package: `\infer*[label]{premises}{conclusion}` through LaTeX 2e's idioms
PROOFS = r"""
\def\pt@infer{\@ifnextchar*{\pt@star}{\pt@rule}}
\def\pt@star*{\@ifnextchar[{\pt@rule@}{\pt@rule@[]}}
\def\pt@rule{\@ifnextchar[{\pt@rule@}{\pt@rule@[]}}
\def\pt@rule@[#1]#2#3{\vcenter{\hbox{$#2$}\hrule\hbox{$#3$}}\llap{#1}}
\let\infer\pt@infer
"""


def test_proof_tree_keeps_its_premises_and_conclusion():
    body = "$$\\infer[T-App]{\\Gamma \\vdash f}{\\Gamma \\vdash f\\,x}$$ and $\\infer*{a}{b}$."
    r = run(body, {"proofs.sty": PROOFS}, "\\usepackage{proofs}")
    assert r.text == "$${\\Gamma \\vdash f} {\\Gamma \\vdash f\\,x}$$\n and ${a} {b}$."
    assert r.macros_dropped_unexpandable == 2


def test_text_macro_built_on_internals_keeps_its_text():
    sty = (
        "\\def\\added{\\@ifnextchar[{\\added@x}{\\added@y}}"
        "\\def\\added@x[#1]#2{\\ifdraft{\\color{blue}#2}\\else#2\\fi}"
        "\\def\\added@y#1{\\added@x[]{#1}}"
    )
    r = run("We \\added[r1]{now show} it.", {"track.sty": sty}, "\\usepackage{track}")
    assert r.text == "We now show it."


@pytest.mark.parametrize(
    "sty,body,kept",
    [
        ("\\renewcommand\\footnote[1]{\\@footnote{#1}}", "A\\footnote{note}.", "A (note)."),
        ("\\def\\section{\\@startsection{section}{1}}", "\\section{Intro}Hi.", "## Intro\n\nHi."),
        ("\\renewcommand\\vec[1]{\\@vec{#1}}", "$\\vec{x}$", "$\\vec{x}$"),
        ("\\def\\and{\\@and}", "\\begin{mathpar}a \\and b\\end{mathpar}", "a \\quad  b"),
        ("\\def\\abstract#1{\\gdef\\@abstract{#1}}", "\\abstract{Short.}Body.", "## Abstract"),
    ],
)  # fmt: skip
def test_commands_latex_or_the_converter_know_keep_their_meaning(sty, body, kept):
    r = run(body, {"mine.sty": sty}, "\\usepackage{mine}")
    assert kept in r.text and r.macros_dropped_unexpandable == 0


def test_a_usable_drawing_macro_goes_and_a_later_usable_definition_wins():
    defs = "\\newcommand\\dot{\\tikz\\fill (0,0) circle (2pt);}\\newcommand\\pic[1]{\\draw (#1);}"
    assert expand("a \\dot b \\pic{1,2} c", collect(defs)).text == "a {} b {} c"
    defs += "\\renewcommand\\pic[1]{P#1}"
    assert expand("\\pic{1}", collect(defs)).text == "P1"


def test_a_picture_gone_leaves_an_empty_group():
    m = collect("\\newcommand\\pic[1]{\\tikz{\\draw (#1);}}")
    assert expand("$\\alpha\\pic{1}x$ $\\pic{2}$", m).text == "$\\alpha{}x$ ${}$"


def test_recursion_past_the_depth_cap_leaves_no_use():
    r = expand("A \\a B", collect("\\def\\a{x\\a}"))
    assert r.capped and "\\a" not in r.text and r.text.startswith("A xx") and r.dropped == 1


def test_uses_past_the_expansion_cap_keep_the_text_they_print():
    m = collect("\\newcommand\\b[1]{\\textbf{#1}}\\newcommand\\R{\\mathbb{R}}")
    r = expand("\\b{1} \\b{2} $\\R$ \\b{\\b{3}}", m, max_expansions=2)
    assert r.text == "\\textbf{1} \\textbf{2} ${}$ {{3}}" and r.capped and r.dropped == 3


@pytest.mark.parametrize(
    "defs,kinds",
    [
        ("\\def\\f{\\@ifstar\\f@s\\f@n}\\def\\f@n#1{#1}", "sm"),
        ("\\def\\f{\\@testopt\\f@o{x}}\\def\\f@o[#1]#2{#2}", "om"),
        ("\\def\\f{\\@dblarg\\f@o}\\def\\f@o[#1]#2{#2}", "om"),
        ("\\def\\f{\\@ifnextchar({\\f@p}{\\f@p(0)}}\\def\\f@p(#1)#2{#2}", "dm"),
        ("\\def\\f{\\relax\\g}\\newcommand\\g[2][]{#2}", "om"),
        ("\\def\\f{\\let\\x\\g}\\newcommand\\g[1]{#1}", ""),  # `\g` is an operand, not a call
        ("\\NewDocumentCommand\\f{}{\\g}\\newcommand\\g[1]{#1}", ""),  # a spec says it all
        ("\\def\\f#1.{\\g}\\def\\g#1{#1}", "um"),  # TeX reads #1., then what `\g` reads
    ],
)  # fmt: skip
def test_signature_follows_latex_idioms(defs, kinds):
    table = collect(defs)
    assert "".join(p.kind for p in signature("f", table.raw)[0]) == kinds


def test_signature_knows_whether_the_arguments_are_printed():
    raw = {"f": Raw((Param("m"),), "\\gdef\\@f{#1}"), "g": Raw((), "\\g@x"),
           "g@x": Raw((Param("m"),), "(#1)")}  # fmt: skip
    assert signature("f", raw)[1] is False and signature("g", raw)[1] is True


@pytest.mark.parametrize(
    "body,printed",
    [("(#1)", True), ("\\gdef\\@a{#1}", False), ("\\def\\@a##1{#1}", False),
     ("\\xdef\\@a{#1}x#2", True), ("\\expandafter\\def\\csname a#1\\endcsname{#2}", False),
     ("\\renewcommand{\\@a}[1]{#1}", False), ("\\newcommand*\\@a{#1}", False), ("##1", False)],
)  # fmt: skip
def test_printed_arguments(body, printed):
    assert prints(body) is printed


@pytest.mark.parametrize(
    "body,drawing",
    [("\\tikz{\\node{x};}", True), ("\\begin{tikzpicture}\\end{tikzpicture}", True),
     ("\\pgfmathsetmacro\\x{1}", True), ("\\draw (0,0);", True), ("\\begin{picture}(1,1)", True),
     ("\\begin{pspicture}(1,1)", True), ("\\filldraw (0,0);", True), ("\\mathbb{R}", False),
     ("\\drawn x", False), ("\\path{a/b}", False)],
)  # fmt: skip
def test_drawing_code(body, drawing):
    assert draws(body) is drawing


@pytest.mark.parametrize(
    "name,hidden",
    [("dynkin", True), ("section", False), ("caption", False), ("and", False),
     ("citeauthor", False), ("autoref", False), ("ifdraft", False), ("gls", False),
     ("SI", False), ("my@x", False), ("\\", False)],
)  # fmt: skip
def test_names_that_may_be_hidden(name, hidden):
    assert may_hide(name) is hidden
