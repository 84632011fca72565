"""TeX and LaTeX 2e definition forms beyond the basic ones in test_macros.py."""

import time

import pytest

from arxiv2lm.latex.definitions import def_params, remove_definitions
from arxiv2lm.latex.macroargs import Param
from arxiv2lm.latex.macros import collect, expand


def ex(defs: str, use: str, **kw) -> str:
    return expand(use, collect(defs), **kw).text


@pytest.mark.parametrize(
    "text,params",
    [
        ("#1#2", [Param("m"), Param("m")]),
        ("#1.", [Param("u", close=".")]),
        ("#1#2.", [Param("m"), Param("u", close=".")]),
        ("(#1,#2)", [Param("l", open="("), Param("u", close=","), Param("u", close=")")]),
        ("#1\\end  ", [Param("u", close="\\end")]),
        ("#1 ", [Param("u", close=" ")]),
        ("#2", None),
        ("#1##", None),
        ("#1#", None),
    ],
)  # fmt: skip
def test_def_parameter_text(text, params):
    got = def_params(text)
    assert (list(got) if got is not None else None) == params


@pytest.mark.parametrize(
    "defs,use,out",
    [
        ("\\def\\foo#1.{<#1>}", "\\foo abc. d", "<abc> d"),
        ("\\def\\foo#1.{<#1>}", "\\foo {a.b}. d", "<a.b> d"),  # braces hide, then go
        ("\\def\\foo#1.{<#1>}", "\\foo a\\.b. d", "<a\\.b> d"),  # `\\.` is one token
        ("\\def\\pt(#1,#2){P#1#2}", "\\pt(a,b) \\pt (c,d)", "Pab Pcd"),
        ("\\def\\x#1\\end{[#1]}", "\\x a b\\end c", "[a b]c"),  # TeX drops the blank
        ("\\def\\x#1\\end{[#1]}", "\\x a\\endx\\end.", "[a\\endx]."),  # `\endx` is not `\end`
        ("\\def\\w#1 {(#1)}", "\\w ab cd", "(ab)cd"),
        ("\\def\\pair#1#2.{#1|#2}", "\\pair ab c.", "a|b c"),
        ("\\long\\def\\x#1{<#1>}", "\\x{a}", "<a>"),
        ("\\global\\long\\def\\x{X}", "\\x", "X"),
        ("\\protected\\def\\x{X}", "\\x", "X"),
        ("\\NewCommandCopy\\a\\b", "\\a", "\\b"),
        ("\\newcommand\\b{B}\\NewCommandCopy{\\a}{\\b}", "\\a", "B"),
        ("\\newcommand\\b{B}\\let\\a=\\b\\renewcommand\\b{C}", "\\a\\b", "BC"),
        ("\\newenvironment{n}[2][d]{(#1,#2)}{.}",
         "\\begin{n}{x}y\\end{n} \\begin{n}[o]{x}y\\end{n}", "(d,x)y. (o,x)y."),
    ],
)  # fmt: skip
def test_forms(defs, use, out):
    assert ex(defs, use) == out


def test_prefixes_are_removed_with_the_definition():
    assert remove_definitions("a\\long\\global\\def\\x{X}b\\global\\let\\y\\z c") == "ab c"


def test_delimiter_in_another_paragraph_is_not_read():
    assert ex("\\def\\foo#1.{<#1>}", "\\foo ab\n\ncd.") == "\\foo ab\n\ncd."
    assert ex("\\def\\foo#1.{<#1>}", "\\foo ab\\par cd.") == "\\foo ab\\par cd."


def test_delimiter_that_never_comes_costs_linear_time():
    use = "\\foo " * 10_000 + "x" * 50_000  # one paragraph, no `.` anywhere
    t0 = time.perf_counter()
    r = expand(use, collect("\\def\\foo#1.{<#1>}"), max_chars=2_000_000)
    assert time.perf_counter() - t0 < 5
    assert r.text == use and r.capped


def test_unclosed_group_argument_is_bounded():
    use = "\\f{" * 20_000
    t0 = time.perf_counter()
    r = expand(use, collect("\\newcommand\\f[1]{(#1)}"), max_chars=100_000)
    assert time.perf_counter() - t0 < 5
    assert r.text == use


def test_providecommand_of_a_command_the_converter_knows_never_applies():
    defs = "\\providecommand\\text[1]{please load amsmath}\\providecommand\\R{\\mathbb{R}}"
    assert ex(defs, "\\text{a} \\R") == "\\text{a} \\mathbb{R}"


def test_definitions_inside_a_body_are_dropped_from_it():
    defs = "\\newenvironment{t}{\\renewcommand{\\arraystretch}{2}<}{>\\def\\x{1}}"
    assert ex(defs, "\\begin{t}a\\end{t}") == "<a>"
    assert collect("\\newcommand\\m{\\def\\a{\\def\\b{B}}A}").commands["m"].body == "A"


def test_programming_bodies_skipped_when_not_code():
    defs = "\\def\\aff#1{\\global\\advance\\n by 1 #1}\\newcommand\\R{\\mathbb{R}}"
    table = collect(defs, code=False)
    assert set(table.commands) == {"R"}
    assert set(collect(defs).commands) == {"aff", "R"}


PROGRAMMING_WORDS = [
    "fi", "else", "or", "ifthenelse", "csname", "expandafter", "noexpand", "global", "advance",
    "multiply", "divide", "setbox", "count", "dimen", "skip", "toks", "the", "afterassignment",
    "aftergroup", "futurelet", "let", "def", "gdef", "edef", "xdef", "newcount", "newdimen",
    "newskip", "newtoks", "newif", "newbox", "catcode", "string", "setcounter", "addtocounter",
    "stepcounter", "refstepcounter", "setlength", "addtolength",
]  # fmt: skip


@pytest.mark.parametrize("word", PROGRAMMING_WORDS)
def test_each_programming_word(word):
    assert collect(f"\\newcommand\\m{{a\\{word} b}}", code=False).commands == {}
    assert "m" in collect(f"\\newcommand\\m{{a\\{word}x b}}", code=False).commands


def test_a_paper_conditional_named_if_is_notation():
    assert "m" in collect("\\newcommand\\m{\\ifliteral x}", code=False).commands


def test_skip_names():
    assert set(collect("\\newcommand\\a{A}\\newcommand\\b{B}", skip=frozenset({"a"})).commands) == {
        "b"
    }


def test_definition_start_prefilter_misses_no_form():
    """`DEF_START` tests `DEF_LETTERS` before `DEF_FORMS`: every form, and commands that
    look like one, are found exactly as the forms alone find them."""
    import re

    from arxiv2lm.latex import definitions as m

    plain = re.compile("|".join(r"\\" + f for f in m.DEF_FORMS))
    forms = (
        r"\newcommand \renewcommand* \providecommand \DeclareRobustCommand \def \gdef \edef"
        r" \xdef \let \NewCommandCopy \RenewCommandCopy \DeclareCommandCopy"
        r" \DeclareMathOperator* \newenvironment \renewenvironment* \NewDocumentCommand"
        r" \RenewExpandableDocumentCommand \ProvideDocumentCommand \DeclareDocumentCommand"
        r" \NewDocumentEnvironment \RenewDocumentEnvironment \ProvideDocumentEnvironment"
        r" \DeclareDocumentEnvironment \DeclarePairedDelimiter \DeclarePairedDelimiterX"
        r" \DeclarePairedDelimiterXPP \define \letter \newcommandx \label \end \\def \@def"
    )
    text = " ".join(forms.split())
    found = [(x.span(), x.lastgroup) for x in m.DEF_START.finditer(text)]
    assert found == [(x.span(), x.lastgroup) for x in plain.finditer(text)]
    names = {re.match(r"\(\?P<(\w+)>", f).group(1) for f in m.DEF_FORMS}
    assert names <= {g for _, g in found} | {"op"}  # `op` ends with its `star` group
