import pytest

from arxiv2lm.latex.definitions import remove_definitions
from arxiv2lm.latex.macroargs import NOVALUE, Param
from arxiv2lm.latex.macros import collect, expand
from arxiv2lm.latex.xparse import parse_spec


def ex(defs: str, use: str) -> str:
    return expand(use, collect(defs)).text


@pytest.mark.parametrize(
    "spec,params",
    [
        ("m", [Param("m")]),
        ("o", [Param("o")]),
        ("O{x y}", [Param("o", "x y")]),
        ("s", [Param("s")]),
        ("t+", [Param("t", open="+")]),
        ("t\\foo", [Param("t", open="\\foo")]),
        ("r()", [Param("r", None, "(", ")")]),
        ("R(){d}", [Param("r", "d", "(", ")")]),
        ("d<>", [Param("d", None, "<", ">")]),
        ("D.:{Bourbaki}", [Param("d", "Bourbaki", ".", ":")]),
        ("g", [Param("g")]),
        ("G{1}", [Param("g", "1")]),
        ("v", [Param("v")]),
        ("u{;}", [Param("u", close=";")]),
        (" +m !o >{\\SplitList{,}}m ", [Param("m"), Param("o"), Param("m")]),
        ("={key} m", [Param("m")]),
        ("=key m", None),  # `=` takes a group
        ("", []),
    ],
)  # fmt: skip
def test_spec_forms(spec, params):
    got = parse_spec(spec)
    assert (list(got) if got is not None else None) == params


@pytest.mark.parametrize(
    "spec",
    ["q", "O", "O{", "t", "r(", "D(){", "e{^_}", "E{^}{{x}}", "l", "b", "m" * 10, "u{}",
     "mb", "}}{{", "x" * 300, "r\\foo)"],
)  # fmt: skip
def test_spec_garbage_is_refused(spec):
    assert parse_spec(spec) is None


def test_body_spec_only_for_environments_and_last():
    assert parse_spec("m b", env=True) == (Param("m"), Param("b"))
    assert parse_spec("b m", env=True) is None


@pytest.mark.parametrize(
    "form", ["NewDocumentCommand", "RenewDocumentCommand", "DeclareDocumentCommand",
             "NewExpandableDocumentCommand"],
)  # fmt: skip
def test_command_forms(form):
    assert ex(f"\\{form}{{\\pair}}{{mm}}{{(#1,#2)}}", "\\pair{a}{b}") == "(a,b)"


def test_provide_document_command_never_overrides():
    defs = "\\newcommand\\x{A}\\ProvideDocumentCommand\\x{}{B}\\ProvideDocumentCommand\\y{}{C}"
    assert ex(defs, "\\x\\y") == "AC"


@pytest.mark.parametrize(
    "spec,body,use,out",
    [
        ("s m", "\\IfBooleanTF{#1}{S#2}{N#2}", "\\f*{x} \\f{y}", "Sx Ny"),
        ("s m", "\\IfBooleanT{#1}{S}#2", "\\f*{x}\\f{y}", "Sxy"),
        ("s m", "\\IfBooleanF{#1}{N}#2", "\\f*{x}\\f{y}", "xNy"),
        ("t+ m", "\\IfBooleanTF#1{P}{M}#2", "\\f+{x} \\f{y}", "Px My"),
        ("o m", "\\IfNoValueTF{#1}{#2}{#1:#2}", "\\f{x} \\f[a]{y}", "x a:y"),
        ("o m", "\\IfValueTF{#1}{#1:#2}{#2}", "\\f{x} \\f[a]{y}", "x a:y"),
        ("o m", "\\IfNoValueT{#1}{-}#2", "\\f{x}\\f[a]{y}", "-xy"),
        ("o m", "\\IfValueT{#1}{#1}#2", "\\f{x}\\f[a]{y}", "xay"),
        ("o m", "(#1)#2", "\\f{x}", f"({NOVALUE})x"),  # as LaTeX prints it
        ("O{1} m", "#1/#2", "\\f{x} \\f[2]{y}", "1/x 2/y"),
        ("m r()", "#1<#2>", "\\f{a}(b(c)d)", "a<b(c)d>"),
        ("m d()", "\\IfNoValueTF{#2}{#1}{#1,#2}", "\\f{a}(b) \\f{c}", "a,b c"),
        ("D<>{z} m", "#1#2", "\\f<q>{a} \\f{b}", "qa zb"),
        ("m g", "\\IfNoValueTF{#2}{#1}{#1+#2}", "\\f{a}{b} \\f{c}.", "a+b c."),
        ("G{0} m", "#1#2", "\\f{a}{b}", "ab"),
        ("v", "[#1]", "\\f|a{b|\\f{c}", "[a{b][c]"),
        ("m u{;}", "#1=#2", "\\f{a} b c;", "a=b c"),
    ],
)  # fmt: skip
def test_argument_kinds_at_use(spec, body, use, out):
    assert ex(f"\\NewDocumentCommand\\f{{{spec}}}{{{body}}}", use) == out


def test_required_delimited_missing_leaves_use():
    assert ex("\\NewDocumentCommand\\f{r()}{<#1>}", "\\f x") == "\\f x"


def test_garbage_spec_definition_is_left_alone():
    defs = "\\NewDocumentCommand\\f{q}{X}"
    assert ex(defs, "\\f") == "\\f"
    assert remove_definitions(defs + "tail") == defs + "tail"


def test_document_environment():
    defs = "\\NewDocumentEnvironment{box}{O{B} m}{[#1:#2|}{|]}"
    assert ex(defs, "\\begin{box}{t}x\\end{box} \\begin{box}[C]{u}y\\end{box}") == (
        "[B:t|x|] [C:u|y|]"
    )


def test_environment_end_code_uses_the_arguments():
    defs = "\\NewDocumentEnvironment{tag}{m}{<#1>}{</#1>}"
    use = "\\begin{tag}{a}x\\begin{tag}{b}y\\end{tag}z\\end{tag}"
    assert ex(defs, use) == "<a>x<b>y</b>z</a>"


def test_environment_body_argument():
    defs = "\\NewDocumentEnvironment{twice}{m +b}{#1:#2#2}{.}"
    assert ex(defs, "\\begin{twice}{k}ab\\end{twice}") == "k:abab."


def test_whole_environment_without_end_is_left():
    defs = "\\NewDocumentEnvironment{tag}{m}{<#1>}{</#1>}"
    assert ex(defs, "\\begin{tag}{a}x") == "\\begin{tag}{a}x"


def test_renew_document_environment():
    defs = "\\newenvironment{n}{<}{>}\\RenewDocumentEnvironment{n}{}{[}{]}"
    assert ex(defs, "\\begin{n}x\\end{n}") == "[x]"
