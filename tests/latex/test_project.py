from arxiv2lm.latex.project import ExtractResult, extract_guarded, extract_paper
from arxiv2lm.ledger import Drop

from .conftest import doc, make_params


def run(files: dict[str, str | bytes], **over) -> ExtractResult | Drop:
    paths = list(files)
    contents = [v if isinstance(v, bytes) else v.encode() for v in files.values()]
    return extract_paper(paths, contents, make_params(**over))


def test_end_to_end_fields():
    pre = "\\newcommand{\\name}{Poincaré}\\newcommand{\\R}{\\mathbb{R}}"
    r = run({"main.tex": doc("\\name: $\\R\\Rightarrow x$ 50\\% \\input{sec}", pre),
             "sec.tex": "Included body.", "main.bbl": "x"})  # fmt: skip
    assert isinstance(r, ExtractResult)
    assert r.text == "Poincaré: $\\mathbb{R}\\Rightarrow x$ 50% Included body."
    assert (r.main_file, r.main_rule, r.encoding) == ("main.tex", "single_candidate", "utf-8")
    assert (r.inputs_resolved, r.inputs_missing, r.macros_defined) == (1, 0, 2)
    assert r.chars_out == len(r.text)


def test_input_body_appears_where_included():
    r = run({"main.tex": doc("Before. \\input{a} After."), "a.tex": "Middle."})
    assert r.text == "Before. Middle. After."


def test_commented_input_not_followed():
    r = run({"main.tex": doc("A.\n% \\input{a}\nB."), "a.tex": "SECRET"})
    assert "SECRET" not in r.text and r.inputs_resolved == 0


def test_macros_from_local_sty():
    r = run({"main.tex": doc("$\\vv$", "\\usepackage{mine}"), "mine.sty": "\\newcommand{\\vv}{v}"})
    assert r.text == "$v$"


def test_latin1_paper_with_inputenc():
    src = doc("Poincaré et Lefschetz.", "\\usepackage[latin1]{inputenc}").encode("latin-1")
    r = run({"main.tex": src})
    assert r.text == "Poincaré et Lefschetz." and r.encoding == "latin_1"


def test_decoy_template_ignored():
    r = run({"template.tex": doc("TEMPLATE"), "paper.tex": doc("Real text.")})
    assert (r.main_file, r.text) == ("paper.tex", "Real text.")


def test_input_cycle_terminates():
    r = run({"main.tex": doc("M \\input{a}"), "a.tex": "A \\input{b}", "b.tex": "B \\input{a}"})
    assert r.text == "M A B"


def test_child_including_main_back_is_not_no_main_tex():
    r = run({"main.tex": doc("Main text. \\input{sec/intro}"),
             "sec/intro.tex": "Intro text. \\include{main}"})  # fmt: skip
    assert isinstance(r, ExtractResult), r
    assert (r.main_file, r.text) == ("main.tex", "Main text. Intro text.")


def test_wrapper_including_main_is_the_main_file():
    r = run({"paper.tex": doc("\\include{main}", "\\newcommand{\\N}{Nine}"),
             "main.tex": "% !TEX root = main.tex\n\\section{Intro} \\N. \\input{intro}",
             "intro.tex": "% !TEX root = main.tex\nMore."})  # fmt: skip
    assert (r.main_file, r.main_rule) == ("paper.tex", "single_candidate")
    assert r.text == "## Intro\n\nNine. More."


def test_plain_tex_accepted():
    r = run({"main.tex": "Plain words here.\\bye"})
    assert r.main_rule == "plain_tex" and "Plain words here." in r.text


def test_drop_no_main_tex():
    r = run({"refs.bbl": "\\bibitem{x} y"})
    assert isinstance(r, Drop) and r.reason == "no_main_tex"


def test_drop_withdrawn():
    r = run({"main.tex": "This paper has been withdrawn by the author."})
    assert isinstance(r, Drop) and r.reason == "withdrawn"


def test_drop_too_large():
    r = run({"main.tex": doc("x" * 3000)}, max_expanded_mb=0.001)
    assert isinstance(r, Drop) and r.reason == "too_large"


def test_drop_too_large_macro_expansion_without_building_it():
    import tracemalloc

    big = doc("\\big{" + "x" * 25_000 + "}", "\\newcommand{\\big}[1]{" + "#1" * 3000 + "}")
    tracemalloc.start()
    r = run({"main.tex": big}, max_expanded_mb=1.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert r == Drop("too_large", "macro expansion passed 1000000 chars")
    assert peak < 3_000_000  # the expansion would be 75 MB


def test_drop_empty_text():
    r = run({"main.tex": doc("\\maketitle")})
    assert isinstance(r, Drop) and r.reason == "empty_text"


def test_drop_timeout():
    big = doc(" ".join(f"\\x{{{i}}}" for i in range(20000)), "\\newcommand{\\x}[1]{#1}")
    paper_id, r = extract_guarded(("p1", ["main.tex"], [big.encode()]), make_params(timeout_s=1e-4))
    assert paper_id == "p1" and isinstance(r, Drop) and r.reason == "timeout"


def test_keep_bibliography_inlines_bbl():
    files = {
        "main.tex": doc("Text.\\bibliography{refs}"),
        "main.bbl": "\\begin{thebibliography}{1}\\bibitem{a} Ref One.\\end{thebibliography}",
    }
    assert "Ref One." in run(files, keep_bibliography=True).text
    assert "Ref One." not in run(files).text


TOKENS = ["\\begin{document}", "\\end{document}", "\\documentclass{article}", "{", "}", "$",
          "$$", "\\(", "\\)", "\\[", "\\]", "\\begin{itemize}", "\\item", "\\end{itemize}",
          "\\section{", "\\newcommand{\\x}[1]{#1#1}", "\\x", "\\def\\y{\\y}", "\\y", "%", "\n",
          "\\%", "\\\\", "\\'", "\\c", "\\verb|", "|", "\\begin{figure}", "\\caption{",
          "\\end{figure}", "[", "]", "\\iffalse", "\\fi", "\\input{a}", "text", " ", "é",
          "\\begin{align}", "&", "\\end{align}", "\\label{", "\\cite", "~", "--", "#", "\\",
          "\\begin{abstract}", "\\title{", "\\newenvironment{e}{<}{>}", "\\begin{e}", "\\end{e}",
          "\\begin{verbatim}", "\\end{verbatim}", "\\footnote{", "\\begin{tabular}{c}"]  # fmt: skip


def test_random_token_soup_never_raises_or_leaks_placeholders():
    import random

    rng = random.Random(0)
    for _ in range(300):
        src = "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 60)))
        r = run({"main.tex": src, "a.tex": "".join(rng.choice(TOKENS) for _ in range(10))},
                max_macro_expansions=500)  # fmt: skip
        assert isinstance(r, ExtractResult | Drop)
        if isinstance(r, ExtractResult):
            assert not any("\ue000" <= c <= "\ue0ff" for c in r.text), src


def test_drop_too_deep():
    # a chain of includes deeper than the Python stack, with the depth cap lifted
    n = 3000
    files = {"main.tex": doc("\\input{f0}")} | {
        f"f{i}.tex": f"\\input{{f{i + 1}}}" for i in range(n)
    }
    paths = list(files)
    item = ("p1", paths, [files[p].encode() for p in paths])
    paper_id, r = extract_guarded(item, make_params(max_input_depth=10 * n))
    assert (paper_id, r) == ("p1", Drop("too_deep", "LaTeX nesting deeper than the Python stack"))


def test_a_literal_parameter_before_an_expansion_cap_does_not_crash():
    # `\pt(` has a literal `(` that reads no argument; `\rec` trips the cap, then `\pt` is
    # cleaned as past the budget and printed from its read arguments
    body = "\\def\\pt(#1#2{#1}\\NewDocumentCommand\\nd{}{{})\\def\\rec{\\rec}}\\rec\\pt(\\nd"
    r = run({"main.tex": doc(body + " kept words")})
    assert isinstance(r, ExtractResult) and "words" in r.text  # (`\pt` reads its own args)


def test_an_unexpected_error_drops_the_paper_with_its_name(monkeypatch):
    import arxiv2lm.latex.project as project

    def broken(*_):
        raise IndexError("list index out of range")

    monkeypatch.setattr(project, "extract_paper", broken)
    paper_id, r = extract_guarded(("p1", ["main.tex"], [b"x"]), make_params())
    assert (paper_id, r) == ("p1", Drop("extract_error", "IndexError: list index out of range"))
