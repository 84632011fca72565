"""Definitions from the paper's own class, package and .def files."""

import pytest

from arxiv2lm.latex.macros import Macros
from arxiv2lm.latex.packages import collect, loaded_texts
from arxiv2lm.latex.project import ExtractResult, extract_paper

from .conftest import doc, make_params


def run(files: dict[str, str]) -> str:
    r = extract_paper(list(files), [v.encode() for v in files.values()], make_params())
    assert isinstance(r, ExtractResult), r
    return r.text


@pytest.mark.parametrize(
    "load",
    ["\\documentclass{y}", "\\documentclass[a4]{y}", "\\LoadClass{y}", "\\usepackage{y}",
     "\\usepackage[opt]{x,y}", "\\RequirePackage{y}", "\\RequirePackageWithOptions{y}"],
)  # fmt: skip
def test_each_load_command(load):
    files = {"y.cls": "C", "y.sty": "S", "x.sty": "X"}
    texts = [p for p, _ in loaded_texts(load, "main.tex", files, 8, 10**6)]
    assert texts[-1] == ("y.cls" if "Class" in load or "class" in load else "y.sty")


def test_dependencies_first_each_once_and_cycles_end():
    files = {"a.sty": "\\RequirePackage{b}A", "b.sty": "\\RequirePackage{a}B"}
    got = loaded_texts("\\usepackage{a}\\usepackage{b}", "main.tex", files, 8, 10**6)
    assert [p for p, _ in got] == ["b.sty", "a.sty"]


def test_unloaded_and_missing_packages_are_not_read():
    files = {"unused.sty": "U"}
    assert loaded_texts("\\usepackage{amsmath,unused2}", "main.tex", files, 8, 10**6) == []


def test_class_definitions_of_converted_commands_are_skipped():
    files = {"y.cls": "\\newcommand\\email[1]{Mail: #1}\\newcommand\\R{\\mathbb{R}}",
             "y.sty": "\\newcommand\\text[1]{T}"}  # fmt: skip
    table = collect(Macros(), "\\documentclass{y}\\usepackage{y}", "m.tex", files, 8, 10**6)
    assert set(table.commands) == {"R", "text"}


def test_macros_from_class_file():
    files = {"main.tex": doc("$\\R$", "").replace("article", "mycls"),
             "mycls.cls": "\\newcommand\\R{\\mathbb{R}}"}  # fmt: skip
    assert run(files) == "$\\mathbb{R}$"


def test_input_of_a_def_file_from_a_package():
    files = {"main.tex": doc("$\\R$", "\\usepackage{mine}"),
             "mine.sty": "\\input{defs.def}",
             "defs.def": "\\newcommand\\R{\\mathbb{R}} % c"}  # fmt: skip
    assert run(files) == "$\\mathbb{R}$"


def test_input_of_a_def_file_from_the_document():
    files = {"main.tex": doc("$\\R$", "\\input{defs.def}"),
             "defs.def": "\\newcommand\\R{\\mathbb{R}}"}  # fmt: skip
    assert run(files) == "$\\mathbb{R}$"


def test_package_loaded_from_an_input_preamble():
    files = {"main.tex": doc("$\\R$", "\\input{preamble}"), "preamble.tex": "\\usepackage{m}",
             "m.sty": "\\newcommand\\R{\\mathbb{R}}"}  # fmt: skip
    assert run(files) == "$\\mathbb{R}$"


def test_unloaded_sty_is_ignored():
    files = {"main.tex": doc("$\\R$"), "template.sty": "\\newcommand\\R{WRONG}"}
    assert run(files) == "$\\R$"


def test_ensuremath_pack_in_prose_becomes_math():
    sty = "\\newcommand{\\ma}[1]{\\ensuremath{#1}\\xspace}\\newcommand\\turn{\\ma{\\vdash}}"
    files = {"main.tex": doc("The judgement \\turn holds, and $a \\turn b$.", "\\usepackage{p}"),
             "p.sty": sty}  # fmt: skip
    assert run(files) == "The judgement $\\vdash$ holds, and $a \\vdash b$."


def test_class_layout_code_is_not_expanded():
    cls = "\\def\\altaffiltext#1#2{\\global\\advance\\affilcount by 1 #2}"
    files = {"main.tex": doc("X \\altaffiltext{1}{Fellow}.").replace("article", "aj"),
             "aj.cls": cls}  # fmt: skip
    assert "advance" not in run(files)
