import pytest

from arxiv2lm.latex.comments import strip_comments
from arxiv2lm.latex.macros import collect, expand, remove_definitions


def ex(defs: str, use: str, **kw) -> str:
    return expand(use, collect(strip_comments(defs)), **kw).text


@pytest.mark.parametrize(
    "defs,use,out",
    [
        ("\\newcommand{\\R}{\\mathbb{R}}", "$x\\in\\R$", "$x\\in\\mathbb{R}$"),
        ("\\renewcommand\\R{\\mathbb{R}}", "\\R", "\\mathbb{R}"),
        ("\\providecommand*{\\R}{\\mathbb{R}}", "\\R", "\\mathbb{R}"),
        ("\\DeclareRobustCommand{\\R}{\\mathbb{R}}", "\\R", "\\mathbb{R}"),
        ("\\newcommand{\\pair}[2]{(#1,#2)}", "\\pair{a}{b}", "(a,b)"),
        # an argument starting with a letter must not glue onto a control word in the body
        ("\\newcommand{\\norm}[1]{\\left\\lVert#1\\right\\rVert}", "\\norm{x_i}",
         "\\left\\lVert x_i\\right\\rVert"),
        ("\\newcommand{\\norm}[1]{\\lVert#1\\rVert}", "\\norm{\\alpha}", "\\lVert\\alpha\\rVert"),
        ("\\newcommand{\\pair}[2][x]{(#1,#2)}", "\\pair{b} \\pair[a]{b}", "(x,b) (a,b)"),
        ("\\def\\v#1{\\mathbf{#1}}", "\\v x+\\v{yz}", "\\mathbf{x}+\\mathbf{yz}"),
        ("\\def\\eps{\\epsilon}", "\\eps_1", "\\epsilon_1"),
        ("\\let\\eps\\varepsilon", "\\eps", "\\varepsilon"),
        ("\\let\\eps=\\varepsilon", "\\eps", "\\varepsilon"),
        ("\\DeclareMathOperator{\\tr}{tr}", "\\tr A", "\\operatorname{tr} A"),
        ("\\DeclareMathOperator*{\\argmax}{arg\\,max}", "\\argmax", "\\operatorname*{arg\\,max}"),
        ("\\newenvironment{note}[1]{Note #1:}{END}", "\\begin{note}{A} hi \\end{note}",
         "Note A: hi END"),
        ("\\newcommand{\\a}{\\b}\\newcommand{\\b}{B}", "\\a", "B"),
    ],
)  # fmt: skip
def test_definition_forms(defs, use, out):
    assert ex(defs, use) == out


def test_control_word_boundary():
    assert ex("\\newcommand{\\R}{\\mathbb{R}}", "\\Rightarrow \\Real \\R") == (
        "\\Rightarrow \\Real \\mathbb{R}"
    )


def test_non_ascii_body():
    assert ex("\\newcommand{\\name}{Poincaré}", "\\name's map") == "Poincaré's map"


def test_two_definitions_on_one_line():
    defs = "\\newcommand{\\A}{alpha}\\newcommand{\\B}{beta}"
    assert ex(defs, "\\A \\B") == "alpha beta"


def test_commented_definition_ignored():
    assert ex("% \\newcommand{\\X}{bad}\n", "\\X") == "\\X"


def test_expansion_guard_on_recursive_macro():
    r = expand("\\loop", collect("\\def\\loop{x\\loop}"), max_expansions=50)
    assert r.capped and r.expansions <= 50 and r.text.startswith("xxx")


def test_structural_and_internal_definitions_not_used():
    m = collect("\\renewcommand{\\section}{X}\\def\\foo{\\@bar}")
    assert "section" not in m.commands and "foo" not in m.commands


def test_remove_definitions():
    src = "a\\newcommand{\\x}[1]{#1}b\\def\\y{z}c\\let\\q\\w d"
    assert remove_definitions(src) == "abc d"


def test_word_after_expansion_does_not_glue():
    assert ex("\\newcommand{\\e}{\\epsilon}", "\\e{}x \\e y") == "\\epsilon{}x \\epsilon y"


def test_providecommand_does_not_override():
    assert (
        ex("\\newcommand{\\R}{A}\\providecommand{\\R}{B}\\providecommand{\\S}{C}", "\\R\\S") == "AC"
    )
