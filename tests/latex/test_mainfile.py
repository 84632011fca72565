import json

from arxiv2lm.latex.mainfile import find_main
from arxiv2lm.ledger import Drop

from .conftest import doc

D = doc("text")


def test_single_candidate():
    assert find_main({"a.tex": D, "b.sty": ""}, {}) == ("a.tex", "single_candidate")


def test_readme_json_toplevel():
    readme = {
        "00README.json": json.dumps({"sources": [{"filename": "b.tex", "usage": "toplevel"}]})
    }
    assert find_main({"a.tex": D, "b.tex": D}, {}, readme) == ("b.tex", "readme_toplevel")


def test_readme_xxx_ignore():
    readme = {"00README.XXX": "a.tex ignore\n"}
    assert find_main({"a.tex": D, "b.tex": D}, {}, readme) == ("b.tex", "single_candidate")


def test_auto_ignore_first_line():
    raw = {"a.tex": "%auto-ignore\n" + D}
    assert find_main({"a.tex": D, "b.tex": D}, raw) == ("b.tex", "single_candidate")


def test_tex_root_magic_comment():
    raw = {"sec.tex": "% !TEX root = ms.tex\nbody"}
    texts = {"sec.tex": "body", "ms.tex": D, "other.tex": D}
    assert find_main(texts, raw) == ("ms.tex", "tex_root")


def test_included_file_is_not_main():
    texts = {"main.tex": doc("\\input{inner}"), "inner.tex": D}
    assert find_main(texts, {}) == ("main.tex", "single_candidate")


def test_bbl_stem_breaks_tie():
    assert find_main({"x.tex": D, "y.tex": D, "y.bbl": ""}, {}) == ("y.tex", "bbl_stem")


def test_decoy_template_beside_real_main_ignored():
    texts = {"template.tex": D + "x" * 500, "rebuttal.tex": D, "paper.tex": D}
    assert find_main(texts, {}) == ("paper.tex", "not_template")


def test_preferred_name():
    assert find_main({"ms.tex": D, "results.tex": D}, {}) == ("ms.tex", "preferred_name")


def test_largest_last():
    assert find_main({"x.tex": D + "long", "y.tex": D}, {}) == ("x.tex", "largest")


def test_documentstyle_and_ltx_extension():
    assert find_main({"a.ltx": "\\documentstyle{article}\\begin{document}x"}, {})[0] == "a.ltx"


def test_plain_tex_single_file():
    assert find_main({"p.tex": "Hello \\bye"}, {}) == ("p.tex", "plain_tex")


def test_no_tex_is_no_main_tex():
    r = find_main({"refs.bbl": "x", "a.sty": "y"}, {})
    assert isinstance(r, Drop) and r.reason == "no_main_tex"
