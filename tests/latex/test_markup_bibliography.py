"""Every bibliography form follows `keep_bibliography`: gone, or one `- entry` line each."""

import pytest

from arxiv2lm.latex.bibliography import DROP, drop
from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.latex.totext import to_text

from .conftest import doc, make_params

FORMS = {
    "thebibliography": "\\begin{thebibliography}{9}\\bibitem[Smith(1999)]{s} J. Smith, Title.\n"
    "\\bibitem{d} A. Doe, Other.\\end{thebibliography}",
    "references_env": "\\begin{references}\\reference{s} J. Smith, Title.\n"
    "\\reference{d} A. Doe, Other.\\end{references}",
    "bare_reference": "\\section*{References}\n\\reference J. Smith, Title.\n"
    "\\reference A. Doe, Other.",
    "bare_refpar": "\\section*{REFERENCES}\n\\refpar J. Smith, Title.\n\\refpar A. Doe, Other.\n",
    "amsrefs": "\\begin{bibdiv}\\begin{biblist}\\bib{s}{article}{author={J. Smith}, title={Title}}"
    "\\bib{d}{article}{author={A. Doe}, title={Other}}\\end{biblist}\\end{bibdiv}",
    "biblatex_bbl": "\\refsection{0}\\datalist[entry]{nty/global//global/global}"
    "\\entry{s}{article}{}\\name{author}{1}{}{{{hash=1}{family={Smith}, given={J.}}}}"
    "\\field{title}{Title}\\endentry\\entry{d}{article}{}"
    "\\name{author}{1}{}{{{hash=2}{family={Doe}, given={A.}}}}\\field{title}{Other}"
    "\\endentry\\enddatalist\\endrefsection",
}  # fmt: skip


def body(src: str, **kw: bool) -> str:
    return to_text(doc(src), **kw)


@pytest.mark.parametrize("form", FORMS)
def test_each_form_dropped(form: str) -> None:
    assert body("Text.\n\n" + FORMS[form] + "\n\n\\section{After} More.") == (
        "Text.\n\n## After\n\nMore."
    )


@pytest.mark.parametrize("form", FORMS)
def test_each_form_kept_as_entry_lines(form: str) -> None:
    out = body("Text.\n\n" + FORMS[form], keep_bibliography=True)
    entries = [ln for ln in out.splitlines() if ln.startswith("- ")]
    assert len(entries) == 2, out
    assert "Smith" in entries[0] and "Title" in entries[0] and "Doe" in entries[1]
    assert "\\" not in out and "s}" not in out


def test_kept_bibitem_loses_label_and_key() -> None:
    out = body(FORMS["thebibliography"], keep_bibliography=True)
    assert out.splitlines() == ["- J. Smith, Title.", "- A. Doe, Other."]


def test_kept_biblatex_record_reads_like_a_reference() -> None:
    out = body(FORMS["biblatex_bbl"], keep_bibliography=True)
    assert out.splitlines()[0] == "- J. Smith. Title."


def test_old_biblatex_name_format() -> None:
    src = ("\\refsection{0}\\entry{k}{book}{}\\name{author}{1}{}{{{uniquename=0}{Knuth}{K.}"
           "{Donald E.}{D.~E.}{}{}{}{}}}\\list{publisher}{1}{{Addison-Wesley}}"
           "\\field{title}{The TeXbook}\\field{year}{1984}\\endentry\\endrefsection")  # fmt: skip
    assert body(src, keep_bibliography=True) == (
        "- Donald E. Knuth. The TeXbook. Addison-Wesley. 1984."
    )


def test_bare_entries_end_at_a_blank_line() -> None:
    assert drop("\\reference A 1999.\n\\refpar B 2000.\n\nText after.") == "\n\nText after."


def test_heading_kept_when_not_followed_by_a_list() -> None:
    src = "\\section{References to prior work} Text."
    assert body(src) == "## References to prior work\n\nText."


@pytest.mark.parametrize(
    "src",
    ["\\section*{References}\\begin{thebibliography}{}\\end{thebibliography}",
     "\\begin{thebibliography}{}\\bibitem{a} A.", "\\begin{references}\\reference A.",
     "\\begin{bibdiv}\\bib{a}{book}{}", "\\begin{biblist}\\bib{a}{book}{}\\end{biblist}",
     "\\bibliography{refs}", "\\printbibliography[heading=none]", "\\refsection{0}\\entry{a}",
     "\\reference A.", "\\refpar A."],
)  # fmt: skip
def test_each_drop_alternative(src: str) -> None:
    m = DROP.match(src)
    assert m is not None and drop(src) == "", src


def test_printbibliography_gets_the_biblatex_bbl_when_kept() -> None:
    bbl = (
        "\\begingroup\\makeatletter\\@ifundefined{ver@biblatex.sty}{\\@latex@error{Missing "
        "biblatex}\\aftergroup\\endinput}{}\\endgroup\n" + FORMS["biblatex_bbl"] + "\\endinput"
    )
    main = doc("Text \\cite{s}.\n\\printbibliography", "\\usepackage{biblatex}")
    files = {"main.tex": main.encode(), "main.bbl": bbl.encode()}
    kept = extract_paper(list(files), list(files.values()), make_params(keep_bibliography=True))
    dropped = extract_paper(list(files), list(files.values()), make_params())
    assert isinstance(kept, ExtractResult) and isinstance(dropped, ExtractResult)
    assert kept.text == "Text [CITE].\n\n- J. Smith. Title.\n- A. Doe. Other."
    assert dropped.text == "Text [CITE]."
