"""Macros that define macros (`definers`): their uses add the definitions they make."""

import time

import pytest

from arxiv2lm.latex.definers import MAX_USES
from arxiv2lm.latex.macros import collect, expand


def ex(defs: str, use: str) -> str:
    return expand(use, collect(defs)).text


@pytest.mark.parametrize(
    "defs,use,out",
    [
        # \newcommand definer making a \def with a doubled parameter
        ("\\newcommand\\newvar[2]{\\def#1##1{#2_{##1}}}\\newvar\\q{q}", "\\q{1}", "q_{1}"),
        # braced name, \newcommand made by a \def definer
        ("\\def\\mk#1#2{\\newcommand{#1}{\\mathit{#2}}}\\mk{\\w}{w}", "$\\w$", "$\\mathit{w}$"),
        # \csname form: the name is text
        (
            "\\newcommand\\mkname[2]{\\expandafter\\newcommand\\csname #1\\endcsname{#2}}"
            "\\mkname{zz}{Z}",
            "a \\zz b",
            "a Z b",
        ),
        # \DeclareMathOperator made by a definer
        ("\\def\\op#1{\\DeclareMathOperator{#1}{op}}\\op\\ox", "\\ox", "\\operatorname{op}"),
        # a definer whose body only calls another definer
        (
            "\\def\\mk#1#2{\\def#1{#2}}\\def\\mkx#1{\\mk#1{X}}\\mkx\\xx",
            "\\xx.",
            "X.",
        ),
        # \let copy of a definer
        ("\\def\\mk#1#2{\\def#1{#2}}\\let\\mkk\\mk\\mkk\\yy{Y}", "\\yy", "Y"),
    ],
)  # fmt: skip
def test_definer_uses_define(defs, use, out):
    assert ex(defs, use) == out


def test_definer_use_leaves_nothing_in_text():
    defs = "\\newcommand\\newvar[2]{\\def#1##1{#2_{##1}}}"
    assert ex(defs, "a \\newvar\\q{q} b") == "a  b"


def test_definer_only_applies_after_its_definition():
    m = collect("\\mk\\a{A}\\def\\mk#1#2{\\def#1{#2}}\\mk\\b{B}")
    assert "b" in m.commands and "a" not in m.commands


def test_definer_defining_itself_terminates():
    t0 = time.perf_counter()
    m = collect("\\def\\a{\\def\\b{x}\\a}\\a \\def\\c#1{\\def#1{\\c#1}}\\c\\c \\c")
    assert time.perf_counter() - t0 < 1.0
    assert m.commands["b"].body == "x"


def test_definer_used_10000_times_is_bounded():
    uses = "".join(f"\\mk\\v{chr(97 + k % 26)}{{{k}}}" for k in range(10000))
    t0 = time.perf_counter()
    m = collect("\\def\\mk#1#2{\\def#1{#2}}" + uses)
    assert time.perf_counter() - t0 < 2.0
    assert m.definer_uses == MAX_USES
    assert "va" in m.commands


def test_package_definer_with_code_off():
    m = collect("\\def\\mk#1#2{\\def#1{\\ensuremath{#2}}}\\mk\\e{e}", code=False)
    assert m.commands["e"].body == "\\ensuremath{e}"


@pytest.mark.parametrize(
    "defs,name,usable",
    [
        ("\\newcommand\\abc{A}", "abc", True),  # letters
        ("\\newcommand\\+{A}", "+", True),  # one other character
        ("\\expandafter\\def\\csname c@x\\endcsname{1}", "c@x", False),  # internal
        ("\\def\\mk#1{\\def#1{A}}", "#1", False),  # a parameter, not a name
    ],
)  # fmt: skip
def test_usable_names(defs, name, usable):
    assert (name in collect(defs).commands) is usable


def test_expandafter_prefix_removed_with_definition():
    from arxiv2lm.latex.definitions import remove_definitions

    assert remove_definitions("a\\expandafter\\def\\csname zz\\endcsname{1}b") == "ab"
