import pytest

from arxiv2lm.latex.totext import to_text

from .conftest import doc


def body(src: str, **kw) -> str:
    return to_text(doc(src), **kw)


def test_title_and_abstract_first():
    src = doc("\\maketitle\n\\begin{abstract}We show X.\\end{abstract}\nBody.", "\\title{On $x$}")
    assert to_text(src) == "# On $x$\n\n## Abstract\n\nWe show X.\n\nBody."


def test_abstract_command_form():
    assert to_text(doc("\\abstract{Short.} Body.")).startswith("## Abstract\n\nShort.")


def test_title_and_abstract_can_be_dropped():
    src = doc("\\begin{abstract}A.\\end{abstract}B.", "\\title{T}")
    assert to_text(src, keep_title=False, keep_abstract=False) == "B."


@pytest.mark.parametrize(
    "cmd,mark",
    [("section", "##"), ("subsection", "###"), ("subsubsection", "####"),
     ("paragraph", "#####"), ("subparagraph", "#####"), ("chapter", "#"), ("section*", "##")],
)  # fmt: skip
def test_headings(cmd, mark):
    assert body(f"\\{cmd}{{Intro}}Text.") == f"{mark} Intro\n\nText."


def test_paragraph_only_paper_keeps_text():
    out = body("\\paragraph{Setup} We consider A.\\paragraph{Result} B holds.")
    assert "We consider A." in out and "B holds." in out and "##### Result" in out


def test_no_sectioning_keeps_text():
    assert body("Just one paragraph of text.\n\nAnd another.") == (
        "Just one paragraph of text.\n\nAnd another."
    )


@pytest.mark.parametrize(
    "src,out",
    [("\\cite{a}", "[CITE]"), ("\\citep[p.~2]{a,b}", "[CITE]"), ("\\citet{a}", "[CITE]"),
     ("\\ref{f}", "[REF]"), ("\\eqref{e}", "[REF]"), ("\\autoref{f}", "[REF]"),
     ("\\cref{f}", "[REF]"), ("\\Cref{f}", "[REF]"), ("\\label{x}", ""),
     ("\\footnote{a note}", "(a note)"), ("\\url{http://x.org}", "http://x.org"),
     ("\\href{http://x.org}{site}", "site"), ("\\textbf{b}", "b"), ("\\emph{e}", "e"),
     ("\\textit{i}", "i"), ("{\\bf b}", "b"), ("\\vspace{2em}", ""),
     ("\\includegraphics[width=2cm]{f.png}", ""), ("\\unknownmacro{arg}", "\\unknownmacro{arg}")],
)  # fmt: skip
def test_inline_commands(src, out):
    # runs of spaces are normalize's job; compare words
    assert body("X " + src + " Y").split() == f"X {out} Y".split()


@pytest.mark.parametrize(
    "src,out",
    [("\\'e", "é"), ('\\"o', "ö"), ("\\\"{\\i}", "ï"), ("{\\ss}", "ß"), ("\\c{c}", "ç"),
     ("\\v{s}", "š"), ("\\^{o}", "ô"), ("\\`a", "à"), ("\\~n", "ñ"), ("\\o", "ø"),
     ("a--b", "a–b"), ("a---b", "a—b"), ("``q''", "“q”"), ("a~b", "a b"), ("50\\%", "50%"),
     ("\\&", "&"), ("\\$5", "\\$5"), ("\\ldots", "…")],
)  # fmt: skip
def test_accents_and_ligatures(src, out):
    import unicodedata

    assert unicodedata.normalize("NFC", body(src)) == out


def test_math_verbatim_and_ligatures_not_applied_inside():
    assert body("$a--b$ and $\\textbf{x}$") == "$a--b$ and $\\textbf{x}$"


def test_float_reduced_to_caption():
    src = (
        "\\begin{figure}[t]\\centering\\includegraphics{x}"
        "\\caption{A $y$ plot.}\\label{f}\\end{figure}"
    )
    assert body(src) == "Figure: A $y$ plot."
    assert body("\\begin{table*}\\caption{T.}\\begin{tabular}{c}1\\end{tabular}\\end{table*}") == (
        "Table: T."
    )


def test_theorems_numbered_with_newtheorem_names():
    pre = "\\newtheorem{thm}{Theorem}\\newtheorem*{rem}{Remark}"
    src = doc("\\begin{thm}[Main] A.\\end{thm}\\begin{thm}B.\\end{thm}\\begin{rem}C.\\end{rem}"
              "\\begin{proof}D.\\end{proof}", pre)  # fmt: skip
    assert to_text(src) == "Theorem 1 (Main). A.\n\nTheorem 2. B.\n\nRemark. C.\n\nProof. D."


def test_lists_as_lines():
    out = body("\\begin{itemize}\\item One\\item[(b)] Two\\end{itemize}")
    assert [ln.split() for ln in out.splitlines()] == [["-", "One"], ["-", "(b)", "Two"]]


def test_list_items_start_with_one_space():
    out = body("\\begin{itemize}\\item  One\\item[(b)]  Two\\item[]Three\\end{itemize}")
    assert out.splitlines() == ["- One", "- (b) Two", "- Three"]


def test_bibliography_dropped_or_kept():
    src = "Text.\\begin{thebibliography}{9}\\bibitem{a} A. Author.\\end{thebibliography}"
    assert body(src) == "Text."
    assert "A. Author." in body(src, keep_bibliography=True)


def test_appendix_dropped_or_kept():
    src = "Main.\\appendix\\section{Extra}More."
    assert body(src, keep_appendix=False) == "Main."
    assert "More." in body(src)


def test_outside_document_ignored():
    assert (
        to_text(
            "\\documentclass{article}\\usepackage{x}PREAMBLE\\begin{document}In\\end{document}After"
        )
        == "In"
    )


def test_linebreak_spacing_argument_dropped():
    assert body("Line one\\\\[2mm] line two\\\\* three").split("\n") == [
        "Line one",
        "line two",
        "three",
    ]


def test_bare_accents():
    assert body("a\\~{}b \\'{}c") == "a~b c"


@pytest.mark.parametrize(
    "src", ["\\bibliography{refs}", "\\printbibliography", "\\printbibliography[title=R]",
            "\\begin{thebibliography}{9}\\bibitem{a} A.\\end{thebibliography}"],
)  # fmt: skip
def test_each_bibliography_form_dropped(src):
    assert body("Text. " + src) == "Text."


@pytest.mark.parametrize(
    "src", ["\\appendix", "\\begin{appendix}", "\\begin{appendices}"],
)  # fmt: skip
def test_each_appendix_form_cut_when_not_kept(src):
    assert body(f"Main. {src} Extra.", keep_appendix=False) == "Main."


def test_icmltitle_is_a_title():
    assert to_text(doc("Body.", "\\icmltitle{Deep Nets}")) == "# Deep Nets\n\nBody."


@pytest.mark.parametrize(
    "cap", ["\\caption{C.}", "\\caption[short]{C.}", "\\subcaption{C.}", "\\tablecaption{C.}",
            "\\captionof{figure}{C.}"],
)  # fmt: skip
def test_each_caption_form_in_a_float(cap):
    out = body(f"\\begin{{figure}}{cap}\\end{{figure}}")
    assert out == "Figure: C."


def test_single_quote_ligature_and_trailing_blanks():
    assert body("`a'   \nb") == "‘a'\nb"


def test_captionof_outside_float():
    assert body("\\begin{minipage}{3cm}\\captionof{table}{T.}\\end{minipage}") == "T."


def test_declaretheorem_names():
    pre = "\\declaretheorem[name=Hypothesis]{hyp}\\declaretheorem{claimx}"
    src = doc("\\begin{hyp}A.\\end{hyp}\\begin{claimx}B.\\end{claimx}", pre)
    assert to_text(src) == "Hypothesis 1. A.\n\nClaimx 1. B."
