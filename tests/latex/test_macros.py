import pytest

from arxiv2lm.latex.comments import strip_comments
from arxiv2lm.latex.definitions import remove_definitions
from arxiv2lm.latex.includes import TooLarge
from arxiv2lm.latex.macros import collect, expand


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
        ("\\gdef\\eps{\\epsilon}", "\\eps", "\\epsilon"),
        ("\\edef\\pair#1#2{(#1,#2)}", "\\pair ab", "(a,b)"),
        ("\\xdef\\eps{\\epsilon}", "\\eps", "\\epsilon"),
        ("\\newenvironment{note}{<}{>}\\renewenvironment{note}{[}{]}",
         "\\begin{note}x\\end{note}", "[x]"),
        ("\\renewenvironment*{proof}[1][Proof]{#1:}{QED}", "\\begin{proof}x\\end{proof}",
         "Proof:xQED"),
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
        ex("\\newcommand{\\R}{A}\\providecommand{\\R}{B}\\providecommand{\\Q}{C}", "\\R\\Q") == "AC"
    )


def test_oversized_expansion_is_refused_before_it_is_built():
    import tracemalloc

    table = collect("\\newcommand{\\big}[1]{" + "#1" * 3000 + "}")
    use = "\\big{" + "x" * 25_000 + "}"  # would build 75 MB
    tracemalloc.start()
    with pytest.raises(TooLarge, match="macro expansion passed 1000000 chars"):
        expand(use, table, max_chars=1_000_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2_000_000


def test_expansion_up_to_the_size_cap_is_kept():
    table = collect("\\newcommand{\\tw}[1]{#1#1}")
    # body 4 + 1, then 2 uses of a 10-char argument, each + 1: 27 chars predicted
    assert expand("\\tw{abcdefghij}", table, max_chars=27).text == "abcdefghij" * 2
    with pytest.raises(TooLarge):
        expand("\\tw{abcdefghij}", table, max_chars=26)
