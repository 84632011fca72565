"""A replacement is rescanned together with the text after it, as TeX does."""

from arxiv2lm.latex.macros import collect, expand

VECT = "\\newcommand\\vect[1]{\\mathbf{#1}}"


def ex(defs: str, use: str, **kw) -> str:
    return expand(use, collect(defs), **kw).text


def test_alias_takes_the_following_argument():
    out = ex("\\newcommand{\\vc}{\\vect}" + VECT, "$\\vc{K}+\\vc x$")
    assert out == "$\\mathbf{K}+\\mathbf{x}$"


def test_defined_before_its_target():
    assert ex(VECT + "\\newcommand{\\vc}{\\vect}", "\\vc{K}") == "\\mathbf{K}"


def test_two_levels_of_aliases():
    defs = "\\newcommand\\a{\\b}\\newcommand\\b{\\vect}" + VECT
    assert ex(defs, "\\a{K}.") == "\\mathbf{K}."


def test_replacement_holds_some_arguments():
    defs = "\\newcommand\\half{\\frc{1}}\\newcommand\\frc[2]{#1/#2}"
    assert ex(defs, "\\half{2}") == "1/2"


def test_optional_argument_after_the_use():
    defs = "\\newcommand\\a{\\b}\\newcommand\\b[2][d]{#1:#2}"
    assert ex(defs, "\\a[o]{x} \\a{y}") == "o:x d:y"


def test_only_optional_arguments_at_the_end_take_defaults():
    defs = "\\newcommand\\a{\\b}\\newcommand\\b[1][d]{<#1>}"
    assert ex(defs, "x \\a") == "x <d>"


def test_arguments_that_never_come_leave_the_use():
    assert ex("\\newcommand{\\vc}{\\vect}" + VECT, "x \\vc") == "x \\vect"


def test_an_extra_closing_brace_reads_as_an_empty_argument():
    # TeX: "Argument of \vect has an extra }", then it goes on; the macro is typeset
    assert ex("\\newcommand{\\vc}{\\vect}" + VECT, "{\\vc}") == "{\\mathbf{}}"
    assert ex(VECT, "$(\\vect)$ {a \\vect }") == "$(\\mathbf{)}$ {a \\mathbf{}}"
    defs = "\\newcommand\\meta[2]{\\def#1##1{#2_{##1}}}\\meta\\ab{A}\\newcommand\\T[1]{\\hat{#1}}"
    assert ex(defs, "$\\T{x\\ \\ab}$") == "$\\hat{x\\ A_{}}$"


def test_environment_begin_in_replacement():
    defs = "\\newenvironment{n}[1]{<#1>}{.}\\newcommand\\bn{\\begin{n}}"
    assert ex(defs, "\\bn{a}x\\end{n}") == "<a>x."


def test_builtin_conditional_takes_following_branches():
    defs = "\\NewDocumentCommand\\f{s}{\\IfBooleanTF{#1}}"
    assert ex(defs, "\\f*{A}{B} \\f{A}{B}") == "A B"


def test_recursion_is_capped():
    r = expand("\\a{x}", collect("\\newcommand\\a{\\a}"), max_expansions=100)
    assert r.capped and r.expansions <= 100


def test_control_word_before_a_replacement_is_kept_apart():
    defs = "\\newcommand\\GN{G_+}\\newcommand\\op{\\mathrm}"
    assert ex(defs, "\\ltimes\\GN \\\\\\GN \\op\\GN") == "\\ltimes G_+ \\\\G_+ \\mathrm G_+"
