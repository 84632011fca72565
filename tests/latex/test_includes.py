import pytest

from arxiv2lm.latex.includes import TooLarge, expand_includes


def run(files, main="main.tex", depth=8, cap=10**6):
    return expand_includes(main, files, depth, cap)


@pytest.mark.parametrize(
    "cmd",
    ["\\input{sec}", "\\input{sec.tex}", "\\input sec.tex", "\\include{sec}", "\\subfile{sec}",
     "\\import{./}{sec}", "\\subimport{}{sec.tex}"],
)  # fmt: skip
def test_each_include_form_inlines_body_where_it_was(cmd):
    r = run({"main.tex": f"A {cmd} C", "sec.tex": "BODY"})
    assert r.text.index("A") < r.text.index("BODY") < r.text.index("C")
    assert (r.resolved, r.missing) == (1, 0)


def test_relative_to_including_file_then_root():
    files = {"main.tex": "\\input{sec/a}", "sec/a.tex": "[\\input{b}\\input{c}]",
             "sec/b.tex": "B", "c.tex": "C"}  # fmt: skip
    assert run(files).text == "[BC]"


def test_missing_counted_and_leaves_nothing():
    r = run({"main.tex": "x\\input{version}y"})
    assert (r.text, r.resolved, r.missing) == ("xy", 0, 1)


def test_cycle_terminates():
    r = run(
        {"main.tex": "M\\input{a}", "a.tex": "A\\input{b}", "b.tex": "B\\input{a}\\input{main}"}
    )
    assert r.text == "MAB"


def test_depth_cap():
    files = {"main.tex": "0\\input{f1}"} | {
        f"f{i}.tex": f"{i}\\input{{f{i + 1}}}" for i in range(1, 9)
    }
    assert run(files, depth=3).text == "0123"


def test_size_cap_raises():
    with pytest.raises(TooLarge):
        run({"main.tex": "\\input{a}\\input{a}", "a.tex": "x" * 600}, cap=1000)


def test_includeonly_respected():
    files = {"main.tex": "\\includeonly{a}\\include{a}\\include{b}", "a.tex": "A", "b.tex": "B"}
    r = run(files)
    assert "A" in r.text and "B" not in r.text


def test_includegraphics_is_not_include():
    assert run({"main.tex": "\\includegraphics{fig}"}).missing == 0


def test_subfile_contributes_only_its_body():
    child = "\\documentclass[main]{subfiles}\\begin{document}CHILD\\end{document}"
    r = run({"main.tex": "\\begin{document}A \\subfile{ch} B\\end{document}", "ch.tex": child})
    assert r.text == "\\begin{document}A CHILD B\\end{document}"


@pytest.mark.parametrize(
    "cmd",
    ["\\inputfrom{sec}{a}", "\\includefrom{sec}{a.tex}", "\\import*{sec/}{a}",
     "\\subinputfrom{sec}{a}", "\\subincludefrom{sec}{a}"],
)  # fmt: skip
def test_each_folder_form_resolves_in_its_folder(cmd):
    # the `sub` forms are relative to the including file's folder (here `ch/`)
    folder = "ch/sec" if cmd.startswith("\\sub") else "sec"
    files = {"main.tex": "A \\input{ch/x} C", "ch/x.tex": f"[{cmd}]", f"{folder}/a.tex": "BODY"}
    r = run(files)
    assert (r.text, r.resolved, r.missing) == ("A [BODY] C", 2, 0)


def test_sub_form_does_not_look_in_the_root_folder_name():
    files = {"main.tex": "\\input{ch/x}", "ch/x.tex": "[\\subinputfrom{sec}{a}]",
             "sec/a.tex": "ROOT"}  # fmt: skip
    assert (run(files).text, run(files).missing) == ("[]", 1)


def test_include_past_the_depth_cap_is_neither_resolved_nor_missing():
    # max_depth 1 allows one level of includes below main: main -> f1, not f2
    files = {"main.tex": "0\\input{f1}", "f1.tex": "1\\input{f2}", "f2.tex": "2\\input{f3}",
             "f3.tex": "3"}  # fmt: skip
    r = run(files, depth=1)
    assert (r.text, r.resolved, r.missing) == ("01", 1, 0)


@pytest.mark.parametrize(
    "definition",
    ["\\newcommand{\\sect}[1]{\\input{parts/#1}}", "\\newcommand\\sect[1]{\\input{parts/#1}}",
     "\\newcommand*{\\sect}[1]{\\input{parts/#1}}", "\\renewcommand{\\sect}[1]{\\input{parts/#1}}",
     "\\providecommand{\\sect}[1]{\\input{parts/#1}}",
     "\\DeclareRobustCommand{\\sect}[1]{\\input{parts/#1}}", "\\def\\sect#1{\\input{parts/#1}}",
     "\\gdef\\sect#1{\\include{parts/#1}}", "\\edef\\sect#1{\\subfile{parts/#1}}"],
)  # fmt: skip
def test_each_include_macro_definition_form_is_followed(definition):
    r = run({"main.tex": definition + " A \\sect{intro} C", "parts/intro.tex": "BODY"})
    assert (r.text.split(" A ")[1], r.resolved, r.missing) == ("BODY C", 1, 0)


def test_include_macro_defined_in_an_included_file():
    files = {"main.tex": "\\input{common}[\\myinput{a}][\\myinput{b}]", "a.tex": "A",
             "common.tex": "\\newcommand{\\myinput}[1]{\\input{#1}}", "b.tex": "B"}  # fmt: skip
    r = run(files)
    assert r.text.endswith("[A][B]") and (r.resolved, r.missing) == (3, 0)


@pytest.mark.parametrize(
    "head",
    ["\\newcommand{\\content}", "\\renewcommand{\\content}", "\\providecommand\\content",
     "\\DeclareRobustCommand{\\content}", "\\def\\content", "\\xdef\\content"],
)  # fmt: skip
def test_include_macro_without_arguments_is_followed_but_not_its_definition(head):
    # the body's own `\\input{body}` is inlined too (harmless: the macro then gives B)
    r = run({"main.tex": head + "{\\input{body}}[\\content]", "body.tex": "B"})
    assert r.text == head + "{B}[B]"


def test_let_of_an_include_macro_is_no_use_of_it():
    main = "\\newcommand{\\content}{\\input{body}}\\let\\content\\relax"
    assert run({"main.tex": main, "body.tex": "B"}).text.endswith("\\let\\content\\relax")


def test_include_macro_keeps_the_rest_of_its_body():
    d = "\\newcommand{\\part}[2]{\\section{#2}\\input{s/#1}}"
    r = run({"main.tex": d + "\\part{a}{Intro}", "s/a.tex": "A"})
    assert r.text == d + "\\section{Intro}A"


@pytest.mark.parametrize(
    "body",
    ["\\ifdefined\\x \\input{../#1} \\else \\input{#1} \\fi",
     "\\ifx\\a\\b\\input{#1}\\else\\input{../#1}\\fi",
     "\\ifthenelse{\\boolean{x}}{\\input{../#1}}{\\input{#1}}"],
)  # fmt: skip
def test_conditional_include_macro_inlines_the_file_that_exists_and_no_conditional(body):
    d = "\\newcommand{\\myinput}[1]{" + body + "}"
    r = run({"main.tex": d + "[\\myinput{a}]", "a.tex": "AAA"})
    assert (r.text.split("}[")[-1], r.resolved, r.missing) == ("AAA]", 1, 0)


def test_conditional_include_macro_with_no_file_counts_one_missing():
    d = "\\newcommand{\\myinput}[1]{\\ifdefined\\x \\input{../#1}\\else\\input{#1}\\fi}"
    r = run({"main.tex": d + "[\\myinput{a}]"})
    assert (r.text.endswith("}[]"), r.resolved, r.missing) == (True, 0, 1)


def test_include_macro_without_conditional_inlines_every_file():
    d = "\\newcommand{\\both}[1]{\\input{#1/text}\\input{#1/figs}}"
    r = run({"main.tex": d + "[\\both{ch}]", "ch/text.tex": "T", "ch/figs.tex": "F"})
    assert r.text.endswith("}[TF]") and r.resolved == 2


def test_macro_parameter_in_an_include_is_neither_a_file_nor_missing():
    d = "\\def\\inp#1{\\input{#1}}"
    r = run({"main.tex": d})
    assert (r.text, r.resolved, r.missing) == (d, 0, 0)


def test_include_macro_that_calls_itself_terminates():
    d = "\\newcommand{\\loop}[1]{\\loop{#1}\\input{#1}}"
    r = run({"main.tex": d + "\\loop{a}", "a.tex": "A"})
    assert r.text.endswith("\\loop{a}A")
