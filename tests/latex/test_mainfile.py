import json

import pytest

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


def test_template_names_break_only_an_exact_tie():
    texts = {"template.tex": D, "rebuttal.tex": D, "paper.tex": D}
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


SECTIONS = "\\section{Intro} Text.\\input{intro}"
WRAP = "\\documentclass{article}\n\\begin{document}\n\\include{main}\n\\end{document}\n"


@pytest.mark.parametrize(
    ("files", "main"),
    [
        # the wrapper includes `main`: the name `main` is no reason to pick main.tex
        ({"paper.tex": WRAP, "main.tex": SECTIONS, "intro.tex": "I."}, "paper.tex"),
        ({"paper.tex": doc("\\input{main.tex}"), "main.tex": SECTIONS, "intro.tex": "I."},
         "paper.tex"),
        ({"sub/paper.tex": WRAP, "sub/main.tex": SECTIONS, "sub/intro.tex": "I."},
         "sub/paper.tex"),
        ({"paper.tex": doc("\\input{src/main}"), "src/main.tex": SECTIONS,
          "src/intro.tex": "I."}, "paper.tex"),
        # main.tex is itself a whole document (a subfiles child): still included, not main
        ({"paper.tex": WRAP, "main.tex": "\\documentclass[paper]{subfiles}" + doc(SECTIONS),
          "intro.tex": "I."}, "paper.tex"),
    ],
)  # fmt: skip
def test_file_that_includes_main_is_the_main(files: dict[str, str], main: str) -> None:
    assert find_main(files, {})[0] == main
    # editors leave `%!TEX root = main.tex` in the children, from before the wrapper existed
    raw = {p: "% !TEX root = main.tex\n" + t for p, t in files.items() if p != main}
    assert find_main(files, raw)[0] == main


@pytest.mark.parametrize(
    "files",
    [
        {"main.tex": doc("\\input{intro}"), "intro.tex": "Intro. \\include{main}"},
        {"main.tex": doc("\\input{intro}"), "intro.tex": "Intro. \\input{main.tex}"},
        {"main.tex": doc("\\input{sec/intro}"), "sec/intro.tex": "Intro. \\input{../main}"},
        {"main.tex": doc("\\input{sec/intro}"), "sec/intro.tex": "Intro. \\input{main}"},
    ],
)
def test_child_that_includes_main_back_does_not_demote_it(files: dict[str, str]) -> None:
    assert find_main(files, {}) == ("main.tex", "single_candidate")


def test_candidates_including_each_other_are_not_all_dropped():
    texts = {"paper.tex": doc("\\include{main}"), "main.tex": doc("\\input{paper}")}
    assert find_main(texts | {"paper.bbl": ""}, {}) == ("paper.tex", "bbl_stem")
    assert find_main(texts | {"main.bbl": ""}, {}) == ("main.tex", "bbl_stem")


def test_plain_tex_cycle_keeps_the_largest():
    texts = {"a.tex": "A long text. \\input b \\bye", "b.tex": "B \\input a", "c.tex": ""}
    assert find_main(texts, {}) == ("a.tex", "plain_tex")


def test_a_stray_child_including_main_does_not_demote_it():
    texts = {"main.tex": doc("Body."), "old/notes.tex": "\\input{../main}"}
    assert find_main(texts, {}) == ("main.tex", "single_candidate")


def test_long_include_chain_is_linear_and_not_recursive():
    n = 5000  # deeper than the recursion limit
    texts = {f"s{i}.tex": f"\\input{{s{i + 1}}}" for i in range(n)} | {
        "main.tex": doc("\\input{s0}")
    }
    assert find_main(texts, {}) == ("main.tex", "single_candidate")
    assert find_main({k: v for k, v in texts.items() if k != "main.tex"}, {}) == (
        "s0.tex",
        "plain_tex",
    )


def test_tex_root_naming_an_included_file_is_ignored():
    texts = {"ms.tex": doc("\\input{body}"), "body.tex": doc("B"), "sec.tex": "S"}
    raw = {"sec.tex": "% !TEX root = body.tex\nS"}
    assert find_main(texts, raw) == ("ms.tex", "single_candidate")


def test_tex_root_majority_of_children_wins():
    texts = {"a.tex": D, "b.tex": D, "s1.tex": "x", "s2.tex": "y", "s3.tex": "z"}
    raw = {"s1.tex": "%!TEX root = a.tex\nx", "s2.tex": "%!TEX root = b.tex\ny",
           "s3.tex": "% !TeX root = b.tex\nz"}  # fmt: skip
    assert find_main(texts, raw) == ("b.tex", "tex_root")


def test_included_text_counts_in_the_size_and_beats_a_preferred_name():
    texts = {"main.tex": D + "x" * 100, "orff.tex": doc("\\input{sec}"), "sec.tex": "S" * 200}
    assert find_main(texts, {}) == ("orff.tex", "largest")


# content first: a real paper never loses to a small standalone file because of its name
ABSTRACT = "\\begin{abstract}We show things.\\end{abstract}"
FIGURE = "\\documentclass{standalone}\\begin{document}\\tikz\\draw(0,0)--(1,1);\\end{document}"
PAPER = doc(ABSTRACT + "\\section{Intro} " + "Words and more words. " * 40)


@pytest.mark.parametrize(
    "name",
    ["Draft_x.tex", "spectroscopy.tex", "PRLetter.tex", "recovery.tex", "threshold_paper.tex",
     "cover_old_copy.tex"],
)  # fmt: skip
def test_named_like_a_decoy_main_beats_a_tiny_standalone_figure(name: str) -> None:
    assert len(FIGURE) < 150
    assert find_main({name: PAPER, "fig.tex": FIGURE}, {})[0] == name
    assert find_main({name: PAPER, "main_fig.tex": FIGURE}, {})[0] == name


def test_largest_counts_the_flattened_text_not_the_file():
    texts = {"a.tex": doc("\\input{s1}\\input{s2}"), "s1.tex": "x" * 300, "s2.tex": "y" * 300,
             "b.tex": doc("z" * 400)}  # fmt: skip
    assert find_main(texts, {}) == ("a.tex", "largest")


def test_has_abstract_beats_a_larger_letter():
    texts = {"paper.tex": doc(ABSTRACT + "Short."), "reply.tex": doc("Dear editor. " * 200)}
    assert find_main(texts, {}) == ("paper.tex", "has_abstract")


@pytest.mark.parametrize("form", [ABSTRACT, "\\abstract{We show things.}"])
def test_each_abstract_form_counts(form: str) -> None:
    texts = {"a.tex": doc(form), "b.tex": doc("Letter text. " * 50)}
    assert find_main(texts, {}) == ("a.tex", "has_abstract")


def test_abstract_in_an_included_file_counts():
    texts = {"a.tex": doc("\\input{abs}"), "abs.tex": ABSTRACT, "b.tex": doc("Letter. " * 50)}
    assert find_main(texts, {}) == ("a.tex", "has_abstract")


@pytest.mark.parametrize("mark", ["\\DIFaddbegin", "\\DIFdel{old}", "\\DIFaddFL{x}"])
def test_latexdiff_output_is_not_the_main(mark: str) -> None:
    texts = {"paper.tex": PAPER, "diff.tex": PAPER.replace("Intro}", "Intro}" + mark) + "x" * 500}
    assert find_main(texts, {}) == ("paper.tex", "not_latexdiff")


def test_stale_copy_in_a_subfolder_loses_to_the_root_main():
    texts = {"manuscript.tex": PAPER, "images/manuscript.tex": PAPER + "x" * 5000,
             "si/supporting-information.tex": PAPER + "y" * 9000}  # fmt: skip
    assert find_main(texts, {}) == ("manuscript.tex", "top_level")


SECTIONS = {f"{s}.tex": f"\\section{{{s}}} Text." for s in ("common", "intro", "hang", "appx")}
VOTED = {f"s{i}.tex": f"Part {i}." for i in range(8)}


def test_fuller_version_beats_the_root_most_children_name():
    # `main.tex` (journal) and `arxiv.tex` (all of it and the appendix): the children's
    # `%!TEX root` comments date from before arxiv.tex; arxiv.tex includes all main.tex does
    texts = (
        SECTIONS
        | VOTED
        | {
            "main.tex": doc("\\input{common}\\input{intro}\\input{hang}"),
            "arxiv.tex": doc("\\input{common}\\input{intro}\\input{hang}\\input{appx}"),
            "appendix.tex": doc("\\input{common}\\input{appx}"),
        }
    )
    raw = {p: "% !TEX root = main.tex\n" + texts[p] for p in [*SECTIONS, *VOTED]}
    assert find_main(texts, raw) == ("arxiv.tex", "fuller_version")


def test_fuller_version_ignores_a_root_that_includes_nothing():
    # a self-contained paper is no shorter version of a poster that includes a logo
    texts = {"paper.tex": PAPER, "poster.tex": doc("\\input{logo}"), "logo.tex": "L"}
    assert find_main(texts, {})[0] == "paper.tex"


def test_one_childs_root_comment_does_not_override_eight_others():
    texts = VOTED | {"a.tex": D, "b.tex": D + "x" * 100, "odd.tex": "odd"}
    raw = {p: "%!TEX root = a.tex\n" for p in VOTED} | {"odd.tex": "%!TEX root = b.tex\n"}
    assert find_main(texts, raw) == ("a.tex", "tex_root")


def test_tex_root_vote_for_a_missing_file_is_ignored():
    # eight children name a file that is gone: one child naming b.tex is no majority
    texts = VOTED | {"a.tex": D + "x" * 100, "b.tex": D, "odd.tex": "odd"}
    raw = {p: "%!TEX root = gone.tex\n" for p in VOTED} | {"odd.tex": "%!TEX root = b.tex\n"}
    assert find_main(texts, raw) == ("a.tex", "largest")


def test_tex_root_tie_keeps_both_for_the_next_rule():
    texts = {"a.tex": D, "b.tex": D + "x" * 100, "c.tex": D + "x" * 200, "s1.tex": "", "s2.tex": ""}
    raw = {"s1.tex": "%!TEX root = a.tex\n", "s2.tex": "%!TEX root = b.tex\n"}
    assert find_main(texts, raw) == ("b.tex", "largest")


def test_path_order_when_nothing_else_differs():
    assert find_main({"b.tex": D, "a.tex": D}, {}) == ("a.tex", "path_order")


def test_a_file_included_through_the_papers_include_macro_is_not_the_main():
    texts = {"main.tex": doc("\\sect{paper}", "\\newcommand{\\sect}[1]{\\input{parts/#1}}"),
             "parts/paper.tex": PAPER}  # fmt: skip
    assert find_main(texts, {}) == ("main.tex", "single_candidate")
