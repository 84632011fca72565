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
