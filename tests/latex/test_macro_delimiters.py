import pytest

from arxiv2lm.latex.definitions import remove_definitions
from arxiv2lm.latex.delimiters import paired
from arxiv2lm.latex.macros import collect, expand


def ex(defs: str, use: str) -> str:
    return expand(use, collect(defs)).text


ABS = "\\DeclarePairedDelimiter{\\abs}{\\lvert}{\\rvert}"


@pytest.mark.parametrize(
    "use,out",
    [
        ("\\abs{x}", "\\lvert x\\rvert"),
        ("\\abs*{x}", "\\left\\lvert x\\right\\rvert"),
        ("\\abs[\\big]{x}", "\\bigl\\lvert x\\bigr\\rvert"),
        ("\\abs[\\Bigg]{\\alpha}", "\\Biggl\\lvert\\alpha\\Biggr\\rvert"),
        ("\\abs{x}^2", "\\lvert x\\rvert^2"),
    ],
)
def test_paired_delimiter(use, out):
    assert ex(ABS, use) == out


def test_unbraced_declaration_and_character_delimiters():
    assert ex("\\DeclarePairedDelimiter\\p()", "\\p{a}") == "(a)"


def test_paired_delimiter_x_with_delimsize():
    defs = "\\DeclarePairedDelimiterX{\\set}[2]{\\{}{\\}}{#1\\;\\delimsize\\vert\\;#2}"
    assert ex(defs, "\\set{x}{y}") == "\\{x\\;\\vert\\;y\\}"
    assert ex(defs, "\\set*{x}{y}") == "\\left\\{x\\;\\middle\\vert\\;y\\right\\}"
    assert ex(defs, "\\set[\\big]{x}{y}") == "\\bigl\\{x\\;\\big\\vert\\;y\\bigr\\}"


def test_paired_delimiter_x_norm():
    defs = "\\DeclarePairedDelimiterX{\\norm}[1]{\\lVert}{\\rVert}{#1}"
    assert ex(defs, "\\norm{v}") == "\\lVert v\\rVert"


def test_paired_delimiter_xpp():
    defs = "\\DeclarePairedDelimiterXPP{\\E}[1]{\\mathbb{E}}{[}{]}{_x}{#1}"
    assert ex(defs, "\\E{f}") == "\\mathbb{E}[f]_x"


def test_declarations_are_removed():
    assert remove_definitions(ABS + "a") == "a"


def test_argument_count_out_of_range():
    assert paired("(", ")", "#1", 8) is None
    assert ex("\\DeclarePairedDelimiterX{\\q}[8]{(}{)}{#1}", "\\q{a}") == "\\q{a}"
