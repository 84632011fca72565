import time

import pytest

from arxiv2lm.latex.ensuremath import resolve
from arxiv2lm.latex.macros import collect, expand


@pytest.mark.parametrize(
    "text,out",
    [
        ("a \\ensuremath{\\vdash} b", "a $\\vdash$ b"),
        ("$a+\\ensuremath{\\ell}$", "$a+\\ell$"),
        ("\\(\\ensuremath{\\nu}\\)", "\\(\\nu\\)"),
        ("\\[\\ensuremath{\\nu}\\]", "\\[\\nu\\]"),
        ("\\begin{equation}\\ensuremath{x}\\end{equation}", "\\begin{equation}x\\end{equation}"),
        ("$$\\ensuremath{x}$$", "$$x$$"),
        ("$\\alpha\\ensuremath{x}$", "$\\alpha x$"),  # unwrapped, kept apart from the word
        ("$a^\\ensuremath{\\mathrm{T}}$", "$a^\\mathrm{T}$"),
        ("\\ensuremath\\alpha, \\ensuremath x", "$\\alpha$, $x$"),
        ("$\\ensuremath\\alpha$", "$\\alpha$"),
        ("a \\ensuremath{x\\ensuremath{y}} b", "a $xy$ b"),  # inside: math
        ("\\ensuremath{} and \\ensuremath{ }", " and "),  # `$$` would open display math
        ("$a$\\ensuremath{b}", "$a$ $b$"),
        ("\\ensuremath{a}$b$", "$a$ $b$"),
        ("\\ensuremath{a}\\xspace$b$ $c$\\xspace\\ensuremath{d}", "$a$ $b$ $c$ $d$"),
        ("\\ensuremath{a}\\xspace\\ensuremath{b}", "$a$ $b$"),
        ("\\verb|\\ensuremath{x}| \\ensuremath{y}", "\\verb|\\ensuremath{x}| $y$"),
        ("\\url{a\\ensuremath x}", "\\url{a\\ensuremath x}"),
        ("\\\\ensuremath{x}", "\\\\ensuremath{x}"),  # a line break, then the word
        ("\\ensuremath{", "{"),
        ("\\ensuremathx{y}", "\\ensuremathx{y}"),
    ],
)  # fmt: skip
def test_ensuremath(text, out):
    assert resolve(text) == out


@pytest.mark.parametrize(
    "text,out",
    [
        ("Tool\\xspace is", "Tool is"),
        ("Tool\\xspace.", "Tool."),
        ("Tool\\xspace{}and", "Tool and"),
        ("Tool\\xspace{}, and", "Tool, and"),
        ("$x\\xspace$", "$x$"),
        ("\\xspacex", "\\xspacex"),
        ("\\verb|a\\xspace{}b| c\\xspace d", "\\verb|a\\xspace{}b| c d"),
        ("\\begin{verbatim}\\xspace\\end{verbatim}", "\\begin{verbatim}\\xspace\\end{verbatim}"),
    ],
)
def test_xspace(text, out):
    assert resolve(text) == out


def test_macro_pack_on_ensuremath():
    defs = "\\newcommand{\\ma}[1]{\\ensuremath{#1}\\xspace}\\newcommand\\Gm{\\ma{\\Gamma}}"
    text = expand("Let \\Gm be; then $\\Gm\\vdash e$ and \\Gm.", collect(defs)).text
    assert resolve(text) == "Let $\\Gamma$ be; then $\\Gamma\\vdash e$ and $\\Gamma$."


def test_recursion_through_ensuremath_is_capped():
    r = expand("x \\a y", collect("\\newcommand\\a{\\ensuremath{\\a}}"))
    assert r.capped
    out = resolve(r.text)
    assert out.startswith("x $") and out.endswith("$ y") and "\\ensuremath" not in out


def test_deep_nesting_is_linear():
    text = "\\ensuremath{" * 20_000 + "x" + "}" * 20_000 + " " + "\\ensuremath{" * 20_000
    t0 = time.perf_counter()
    out = resolve(text)
    assert time.perf_counter() - t0 < 5
    # the outer group is math; past the read budget, inner ones keep their braces
    assert out.startswith("${") and "\\ensuremath" not in out


def test_long_blank_runs_after_ensuremath_are_linear():
    """Blanks before no group (a token, or a group past a newline) are read once, not once
    for each way to split them (`_GROUP_AFTER` backtracking into 200 k blanks: minutes)."""
    blanks = " " * 200_000
    text = f"\\ensuremath{blanks}x and \\ensuremath \t\n\t {{y}}\\ensuremath{blanks}\n{{z}}"
    t0 = time.perf_counter()
    out = resolve(text)
    assert time.perf_counter() - t0 < 1
    assert out == "$x$ and $y$ $z$"  # (a space: `$$` would open display math)


def test_text_with_our_mark_characters_is_left_alone():
    text = "\ue0100\ue011 \\ensuremath{x}"
    assert resolve(text) == text


def test_no_ensuremath_is_untouched():
    text = "plain $x$ text"
    assert resolve(text) is text


@pytest.mark.parametrize(
    "text,out",
    [
        # a `\\` before a token sends the whole text down the token-by-token marking
        ("\\\\ensuremath{x} \\ensuremath{y}\\xspace{}z", "\\\\ensuremath{x} $y$ z"),
        ("\\\\\\ensuremath{x} \\\\xspace a\\xspace.", "\\\\$x$ \\\\xspace a."),
        # the same texts without it: one `re.split`
        ("\\ensuremath{x} \\ensuremath{y}\\xspace{}z", "$x$ $y$ z"),
        ("\\ensuremath{ \n} \\ensuremath{\t}a", " a"),  # blank groups
    ],
)  # fmt: skip
def test_ensuremath_marking_paths(text, out):
    assert resolve(text) == out
