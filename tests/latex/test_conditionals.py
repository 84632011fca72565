"""TeX conditionals: each form, each regex alternative, and hostile nesting."""

from __future__ import annotations

import re
import time

import pytest

from arxiv2lm.latex.conditionals import Names, declared, evaluate, strip_literal
from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.latex.texstate import DEFINERS, FLAGS

from .conftest import doc, make_params


def ev(src: str, outside: Names | None = None) -> str:
    return evaluate(src, outside).text


# -- \iftrue / \iffalse ------------------------------------------------------------------------


def test_iftrue_keeps_then_branch():
    assert ev("\\iftrue A\\else B\\fi.") == "A."


def test_iffalse_keeps_else_branch_and_drops_nested():
    assert ev("\\iffalse A \\iftrue X\\else Y\\fi\\else B\\fi.") == "B."


def test_no_conditional_token_left_and_counts():
    r = evaluate("\\iftrue a\\fi \\iffalse b\\fi \\ifmmode c\\else d\\fi")
    assert "\\if" not in r.text and "\\else" not in r.text and "\\fi" not in r.text
    assert (r.decided, r.unknown, r.unbalanced) == (2, 1, 0)


def test_line_of_its_own_leaves_no_paragraph_break_and_keeps_one():
    src = "one\n\\iffalse\ndraft\n\\fi\ntwo\n\n\\iftrue\nkept\n\\fi\n\nthree"
    assert re.split(r"\n[ \t]*\n\s*", ev(src)) == ["one\ntwo", "kept", "three"]


# -- \newif switches ---------------------------------------------------------------------------


def test_newif_used_before_and_after_its_switch_is_set():
    src = "\\newif\\ifdraft \\ifdraft A\\else B\\fi, \\drafttrue \\ifdraft C\\else D\\fi."
    assert ev(src) == "B, C."


def test_switch_set_in_preamble_reaches_the_body():
    src = doc("\\ifarxiv Online.\\else Print.\\fi", "\\newif\\ifarxiv\n\\arxivtrue")
    assert "Online." in ev(src) and "Print." not in ev(src)


def test_switch_set_inside_a_dropped_branch_does_not_count():
    assert ev("\\newif\\ifdraft \\iffalse \\drafttrue\\fi \\ifdraft A\\else B\\fi") == "B"


def test_let_switch_to_iftrue():
    assert ev("\\let\\ifarxiv\\iftrue \\ifarxiv A\\else B\\fi") == "A"


def test_switch_declared_in_a_sty_is_a_conditional_of_unknown_value():
    r = evaluate("\\iffull A\\else B\\fi", declared(["\\newif\\iffull"]))
    assert (r.text, r.unknown) == ("A", 1)


def test_set_of_undeclared_name_is_not_touched():
    assert ev("\\settrue \\ifdraft x") == "\\settrue \\ifdraft x"


# -- defined names -----------------------------------------------------------------------------


@pytest.mark.parametrize("definer", DEFINERS)
def test_ifdefined_sees_each_definer(definer: str):
    assert ev(f"\\{definer}{{\\foo}}{{x}}\\ifdefined\\foo A\\else B\\fi").endswith("A")
    assert ev(f"\\{definer}\\foo{{x}}\\ifdefined\\foo A\\else B\\fi").endswith("A")


def test_ifdefined_is_false_before_the_definition():
    assert ev("\\ifdefined\\foo A\\else B\\fi\\def\\foo{}").startswith("B")


def test_name_with_at_is_unknown():
    r = evaluate("\\ifdefined\\c@page A\\else B\\fi")
    assert (r.text, r.unknown) == ("A", 1)


@pytest.mark.parametrize(
    "define,name",
    [
        ("\\newenvironment{proofsketch}{}{}", "endproofsketch"),
        ("\\renewenvironment{proof}{}{}", "proof"),
        ("\\newtheorem{lemma}{Lemma}", "lemma"),
        ("\\newcounter{step}", "thestep"),
        ("\\csdef{foo}{x}", "foo"),
        ("\\expandafter\\def\\csname foo\\endcsname{x}", "foo"),
        ("\\usepackage[opt]{amsmath,foo}", "ver@foo.sty"),
        ("\\documentclass{article}", "ver@article.cls"),
        ("\\RequirePackage{xcolor}", "ver@xcolor.sty"),
        ("\\LoadClass[a4]{book}", "ver@book.cls"),
    ],
)
def test_each_other_defining_alternative(define: str, name: str):
    assert ev(f"{define}\\ifcsname {name}\\endcsname A\\else B\\fi").endswith("A")


def test_ifx_undefined_both_orders_and_guarded_definition_kept():
    assert ev("\\ifx\\foo\\undefined A\\else B\\fi") == "A"
    assert ev("\\def\\foo{}\\ifx\\undefined\\foo A\\else B\\fi") == "\\def\\foo{}B"
    assert ev("\\ifx\\foo\\undefined\\newcommand\\foo{y}\\fi") == "\\newcommand\\foo{y}"


def test_ifx_same_token_and_unknown_pair():
    assert ev("\\ifx\\a\\a A\\else B\\fi") == "A"
    r = evaluate("\\ifx#1\\empty A\\else B\\fi")
    assert (r.text, r.unknown) == ("A", 1)


def test_expandafter_ifx_csname_relax():
    src = "\\expandafter\\ifx\\csname natexlab\\endcsname\\relax\\def\\natexlab#1{#1}\\fi x"
    assert ev(src) == "\\def\\natexlab#1{#1}x"


def test_ifcsname_alternatives():
    assert ev("\\ifcsname foo\\endcsname A\\else B\\fi") == "B"
    r = evaluate("\\ifcsname\\string\\foo\\endcsname A\\else B\\fi")  # not a plain name
    assert (r.text, r.unknown) == ("A", 1)


def test_names_from_outside_are_defined():
    assert ev("\\ifdefined\\R A\\else B\\fi", Names(commands=frozenset({"R"}))) == "A"
    assert "R" in declared(["\\newcommand{\\R}{x}"]).commands


# -- argument forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src,out",
    [
        ("\\newtoggle{x}\\iftoggle{x}{A}{B}\\toggletrue{x}\\iftoggle{x}{C}{D}", "BC"),
        ("\\newtoggle{x}\\nottoggle{x}{A}{B}", "A"),
        ("\\newbool{b}\\ifbool{b}{A}{B}", "B"),
        ("\\newbool{b}\\booltrue{b}\\notbool{b}{A}{B}", "B"),
        ("\\newboolean{b}\\setboolean{b}{true}\\ifthenelse{\\boolean{b}}{A}{B}", "A"),
        ("\\@ifundefined{foo}{A}{B}\\def\\foo{}\\@ifundefined{foo}{C}{D}", "A\\def\\foo{}D"),
        (
            "\\usepackage{url}\\@ifpackageloaded{url}{A}{B}\\@ifpackageloaded{x}{C}{D}",
            "\\usepackage{url}AD",
        ),
        ("\\documentclass{article}\\@ifclassloaded{article}{A}{B}", "\\documentclass{article}A"),
        ("\\def\\foo{}\\ifdef{\\foo}{A}{B}\\ifundef{\\foo}{C}{D}", "\\def\\foo{}AD"),
        ("\\ifcsdef{foo}{A}{B}\\ifcsundef{foo}{C}{D}", "BC"),
    ],
)
def test_each_argument_form(src: str, out: str):
    assert ev(src) == out


@pytest.mark.parametrize("flag", sorted(FLAGS))
def test_each_flag_command_is_read_and_removed(flag: str):
    table, value, _ = FLAGS[flag]
    arg = "{true}" if value is None else ""
    test = "\\iftoggle{x}{T}{F}" if table == "toggle" else "\\ifbool{x}{T}{F}"
    out = ev(f"\\{flag}{{x}}{arg}{test}")
    assert out == ("T" if value or value is None else "F")


def test_undeclared_toggle_is_unknown():
    r = evaluate("\\iftoggle{nope}{A}{B}")
    assert (r.text, r.unknown) == ("A", 1)


@pytest.mark.parametrize(
    "test,expected",
    [
        ("\\boolean{b}", "A"),
        ("\\not\\boolean{b}", "B"),
        ("\\equal{x}{x}", "A"),
        ("\\not\\equal{x}{y}", "A"),
        ("\\isundefined{\\zz}", "A"),
        ("\\isundefined\\b", "A"),
    ],
)
def test_each_ifthen_test(test: str, expected: str):
    assert ev(f"\\newboolean{{b}}\\setboolean{{b}}{{true}}\\ifthenelse{{{test}}}{{A}}{{B}}") == (
        expected
    )


def test_ifthen_compound_test_is_unknown():
    r = evaluate("\\ifthenelse{\\boolean{a}\\or\\boolean{b}}{A}{B}")
    assert (r.text, r.unknown) == ("A", 1)


def test_argument_form_without_its_groups_is_left_alone():
    assert ev("\\iftoggle x y") == "\\iftoggle x y"


def test_nested_argument_forms():
    src = "\\newtoggle{x}\\iftoggle{x}{\\iftoggle{y}{A}{B}}{\\iftrue C\\fi\\iffalse D\\fi}."
    assert ev(src) == "C."


# -- primitive tests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "src,out",
    [
        ("\\ifnum 1>2 A\\else B\\fi", "B"),
        ("\\ifnum\\value{x}>3 A\\else B\\fi", "A"),  # unknown: first branch, test removed
        ("\\ifnum#1>0 A\\else B\\fi", "A"),  # a parameter: unknown
        ("\\if\\%\\% A\\else B\\fi", " A"),  # control symbols: unknown (no blank skipped)
        ("\\ifdim 2pt<3pt A\\else B\\fi", "A"),
        ("\\ifdim 2pt<3em A\\else B\\fi", "A"),  # units differ: unknown
        ("\\ifodd 3 A\\else B\\fi", "A"),
        ("\\ifodd 4 A\\else B\\fi", "B"),
        ("\\if ab A\\else B\\fi", "B"),
        ("\\ifcat ab A\\else B\\fi", "A"),  # unknown
        ("\\ifvoid0 A\\else B\\fi", "A"),  # unknown
        ("\\iffontchar\\font 65 A\\else B\\fi", "A"),  # unknown
    ],
)
def test_each_primitive_test(src: str, out: str):
    assert ev(src) == out


def test_ifcase_keeps_first_case_as_unknown():
    r = evaluate("\\ifcase\\x A\\or B\\or \\ifcase 1 C\\or D\\fi\\else E\\fi.")
    assert (r.text, r.unknown, r.decided) == ("A.", 1, 0)


@pytest.mark.parametrize(
    "switch",
    ["ifpdf", "ifpdftex", "ifxetex", "ifluatex", "ifvtex", "ifPDFTeX", "ifXeTeX", "ifLuaTeX",
     "ifCLASSOPTIONcompsoc", "ifCLASSINFOpdf", "if@twocolumn"],
)  # fmt: skip
def test_each_package_switch_nests(switch: str):
    r = evaluate(f"\\iffalse a \\{switch} b\\fi c\\fi d \\{switch} e\\else f\\fi")
    assert (r.text, r.unknown) == ("d e", 1)


# -- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iffalt", "ifnextchar", "ifsomething", "iff", "@ifnextchar"])
def test_if_named_command_does_not_unbalance_nesting(name: str):
    assert ev(f"\\iffalse a \\{name} b\\fi c") == "c"
    assert ev(f"\\{name} x \\fi rest of the paper").endswith("rest of the paper")


def test_ifmmode_is_a_conditional():
    assert ev("\\iffalse \\ifmmode a\\fi b\\fi c") == "c"


def test_stray_fi_and_else_are_removed_and_counted():
    r = evaluate("\\fi a \\else b")
    assert (r.text, r.unbalanced) == ("a b", 2)


def test_opener_without_fi_keeps_the_rest_of_the_document():
    r = evaluate("a \\iffalse b \\else c \\ifx\\y\\z d")
    assert (r.text, r.unbalanced) == ("a b c d", 3)  # two openers, one `\else`


def test_opener_in_a_group_does_not_pair_outside_it():
    src = "\\newcommand{\\hide}{\\iffalse}\\newcommand{\\unhide}{\\fi}\\hide text \\unhide"
    assert ev(src) == "\\newcommand{\\hide}{}\\newcommand{\\unhide}{}\\hide text \\unhide"


def test_else_inside_braces_of_an_argument_is_not_the_else():
    assert ev("\\iftrue a \\textbf{b \\else c} d\\fi e") == "a \\textbf{b c} de"
    assert ev("\\iffalse x {\\else y} z\\fi w") == "w"


def test_a_test_never_swallows_the_next_token():
    r = evaluate("\\ifx\\fi A")  # `\fi` is read as the `\fi`, not as `\ifx`'s first token
    assert (r.text, r.unknown, r.unbalanced) == ("A", 1, 0)


def test_nesting_depth_1000():
    assert ev("\\iftrue " * 1000 + "x" + "\\fi " * 1000) == "x"
    assert ev("a" + "\\iffalse " * 1000 + "x" + "\\fi " * 1000 + "b") == "ab"
    assert ev("{\\iftrue " * 1000 + "x" + "\\fi}" * 1000) == "{" * 1000 + "x" + "}" * 1000


def test_verbatim_escapes_and_verb_are_opaque():
    src = "\\begin{verbatim}\\iffalse\\end{verbatim} \\verb|\\fi| a\\\\fi \\{ \\iffalse \\} \\fi c"
    assert ev(src) == "\\begin{verbatim}\\iffalse\\end{verbatim} \\verb|\\fi| a\\\\fi \\{ c"


@pytest.mark.parametrize(
    "unit",
    [
        "\\iffalse ",
        "\\fi ",
        "{\\iftrue ",
        "\\else ",
        "\\ifx ",
        "\\iftoggle{a}{",
        "\\newif\\ifa \\ifa ",
    ],
)
def test_linear_time_on_hostile_tokens(unit: str):
    def took(n: int) -> float:
        src = unit * n
        t = time.perf_counter()
        evaluate(src)
        strip_literal(src)
        return time.perf_counter() - t

    small, large = took(10_000), took(80_000)
    assert large < 8 * small * 2 + 0.5  # 8x the tokens: linear, with room for a busy machine


# -- per file (strip_comments) -----------------------------------------------------------------


def test_strip_literal_only_touches_literal_blocks():
    assert strip_literal("a \\iffalse x \\ifx\\y\\z q\\fi hidden \\fi b") == "a b"
    assert strip_literal("\\iftrue A\\else B\\fi \\ifdraft C\\fi") == "A\\ifdraft C\\fi"
    assert strip_literal("x \\fi \\iffalse y") == "x \\fi \\iffalse y"


def test_strip_literal_defers_a_block_holding_an_undeclared_switch():
    src = "\\iffalse x \\ifdraft q\\fi hidden \\fi b"
    assert strip_literal(src) == src
    assert strip_literal("\\newif\\ifdraft" + src) == "\\newif\\ifdraftb"


# -- in a paper --------------------------------------------------------------------------------


def test_paper_switch_declared_in_main_used_in_an_input():
    main = doc("\\input{body}", "\\newif\\iflong\n\\longtrue")
    body = "Intro. \\iflong Long version.\\else Short version.\\fi \\iffalse \\ifdraft x\\fi\\fi"
    files = {"main.tex": main.encode(), "body.tex": body.encode()}
    r = extract_paper(list(files), list(files.values()), make_params())
    assert isinstance(r, ExtractResult)
    assert "Long version." in r.text and "Short" not in r.text and "\\if" not in r.text


SOUP = ["\\iftrue ", "\\iffalse ", "\\else ", "\\fi ", "\\or ", "\\ifcase 2 ", "{", "}", "x ",
        "\\newif\\ifa ", "\\atrue ", "\\ifa ", "\\iftoggle{t}", "\\newtoggle{t}", "\\ifx\\a\\b ",
        "\\def\\a{}", "\\ifdefined\\a ", "\\verb|\\fi|", "\\\\", "\\{", "\n", "\n\n",
        "\\iff "]  # fmt: skip


def test_random_soup_only_deletes():
    import random

    rng = random.Random(0)
    for _ in range(500):
        src = "".join(rng.choice(SOUP) for _ in range(rng.randint(0, 40)))
        for out in (ev(src), strip_literal(src)):
            rest = iter(src)
            assert all(c in rest for c in out), (src, out)  # a subsequence: nothing added


# -- the token scan's prefilter ------------------------------------------------------------------


def test_prefilter_finds_every_alternatives_tokens():
    """`STARTS` is tried before `ALTERNATIVES`: a token of each alternative, and the words
    that look like one, are found exactly as the alternatives alone find them."""
    from arxiv2lm.latex import conditionals as c

    plain = re.compile(r"\{|\}|\\(?:" + "|".join(c.ALTERNATIVES) + ")")
    flags = " ".join(f"\\{f}{{x}}{{true}}" for f in FLAGS)
    definers = " ".join(f"\\{d}\\m{k} " for k, d in enumerate(DEFINERS))
    text = (
        r"\\ \{ \} \ifx\a\b \@ifundefined{q} \nottoggle{t} \notbool{b} \else \or \fi "
        r"\verb|\fi| \begin{verbatim}\fi\end{verbatim} \let\ifdraft\iftrue \newif\ifdraft "
        f"{flags} {definers} "
        r"\newenvironment{e} \renewenvironment*{e} \newtheorem{thm} \newcounter{c} "
        r"\csdef{n} \csgdef{n} \expandafter\def\csname n\endcsname "
        r"\usepackage[o]{p} \RequirePackage{p} \documentclass{a} \LoadClass{b} "
        r"\expandafter\ifx\csname n\endcsname\relax \drafttrue \draftfalse \true \false "
        r"\istrue \untrue \trueX \setlength \letter \newifx \fiber \orange \elsewhere"
    )
    found = [(m.span(), m.lastgroup) for m in c._TOKEN.finditer(text)]
    assert found == [(m.span(), m.lastgroup) for m in plain.finditer(text)]
    kinds = {k for _, k in found if k}
    assert {re.match(r"\(\?P<(\w+)>", a).group(1) for a in c.ALTERNATIVES} <= kinds


@pytest.mark.parametrize(
    "src,outside,text",
    [
        ("\\newtoggle{t}\\toggletrue{t} A", None, " A"),
        ("\\setboolean{b}{true} A", None, " A"),
        ("\\newif\\ifX\\Xtrue A", None, "A"),
        ("\\let\\ifY\\iftrue\\Yfalse A", None, "A"),
        ("\\Xtrue A", Names(switches=frozenset({"X"})), "A"),
        ("\\Xtrue A \\def\\q{x}\\let\\a\\b", None, "\\Xtrue A \\def\\q{x}\\let\\a\\b"),
    ],
)
def test_switches_set_without_any_conditional(src, outside, text):
    """A text with no conditional still loses the switches and toggles it sets (the quick
    return for a text with nothing to evaluate must not skip them)."""
    assert ev(src, outside) == text
