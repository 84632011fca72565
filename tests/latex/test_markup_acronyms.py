"""Acronyms and glossary terms print as a reader sees them (acro, acronym, glossaries)."""

import pytest

from arxiv2lm.latex.acronyms import USES, Glossary, collect
from arxiv2lm.latex.totext import to_text

from .conftest import doc

ACRO = "\\DeclareAcronym{svm}{short = SVM, long = support vector machine}"
GLOSSARIES = "\\newacronym{svm}{SVM}{support vector machine}"
ACRONYM_PKG = "\\begin{acronym}\\acro{svm}[SVM]{support vector machine}\\end{acronym}"


def text(body: str, preamble: str) -> str:
    return to_text(doc(body, preamble))


@pytest.mark.parametrize("pre", [ACRO, GLOSSARIES], ids=["acro", "glossaries"])
@pytest.mark.parametrize("use", ["\\ac", "\\gls"])
def test_first_use_long_then_short(pre: str, use: str) -> None:
    assert text(f"A {use}{{svm}}. B {use}{{svm}}.", pre) == (
        "A support vector machine (SVM). B SVM."
    )


def test_acronym_package_list_is_dropped_and_defines() -> None:
    assert text(ACRONYM_PKG + "An \\ac{svm} and \\ac{svm}.", "") == (
        "An support vector machine (SVM) and SVM."
    )


def test_acrodef_without_short_uses_the_id() -> None:
    assert text("\\acrodef{GPU}{graphics processing unit}\\ac{GPU}, \\ac{GPU}", "") == (
        "graphics processing unit (GPU), GPU"
    )


@pytest.mark.parametrize(
    "use,out",
    [("\\acs{svm}", "SVM"), ("\\acl{svm}", "support vector machine"),
     ("\\acf{svm}", "support vector machine (SVM)"),
     ("\\acp{svm}", "support vector machines (SVMs)"),
     ("\\acsp{svm}", "SVMs"), ("\\aclp{svm}", "support vector machines"),
     ("\\Ac{svm}", "Support vector machine (SVM)"), ("\\Acl{svm}", "Support vector machine"),
     ("\\acrshort{svm}", "SVM"), ("\\acrlong{svm}", "support vector machine"),
     ("\\acrfull{svm}", "support vector machine (SVM)"),
     ("\\Gls{svm}", "Support vector machine (SVM)"),
     ("\\glspl{svm}", "support vector machines (SVMs)"),
     ("\\GLS{svm}", "SUPPORT VECTOR MACHINE (SVM)"),
     ("\\ACRshort{svm}", "SVM"), ("\\glsxtrshort{svm}", "SVM"), ("\\acpdfstring{svm}", "SVM"),
     ("\\gls[hyper=false]{svm}['s]", "support vector machine (SVM)'s"),
     ("\\gls*{svm}", "support vector machine (SVM)"),
     ("\\glsdisp{svm}{machines}", "machines"), ("\\glsentrylong{svm}", "support vector machine")],
)  # fmt: skip
def test_each_form(use: str, out: str) -> None:
    assert text(use, GLOSSARIES) == out


def test_explicit_forms_do_not_count_as_first_use() -> None:
    assert text("\\acs{svm} then \\ac{svm}", ACRO) == "SVM then support vector machine (SVM)"


def test_acused_and_acreset() -> None:
    assert text("\\acused{svm}\\ac{svm}; \\acreset{svm}\\ac{svm}", ACRO) == (
        "SVM; support vector machine (SVM)"
    )
    assert text("\\ac{svm}\\acresetall{} \\ac{svm}", ACRO).endswith(" support vector machine (SVM)")


def test_acro_plural_forms() -> None:
    pre = "\\DeclareAcronym{ls}{short=LS, long=least square, long-plural-form=least squares}"
    assert text("\\acp{ls}", pre) == "least squares (LSs)"


def test_glossary_entry_first_and_text() -> None:
    pre = "\\newglossaryentry{np}{name=numpy, text=NumPy, first={NumPy \\cite{x}}}"
    assert text("\\gls{np} and \\gls{np}; \\glsname{np}", pre) == "NumPy [CITE] and NumPy; numpy"


def test_definitions_in_the_body_leave_nothing() -> None:
    body = "\\newglossaryentry{a}{name=Alpha}\\newacronym{b}{B}{Beta}Text \\gls{a} \\gls{b}."
    assert text(body, "") == "Text Alpha Beta (B)."


def test_unknown_key_prints_itself() -> None:
    assert text("\\ac{CNN} and \\gls{rnn}, \\acp{GPU}", "") == "CNN and rnn, GPUs"


def test_term_with_math_defined_in_preamble() -> None:
    pre = "\\newacronym{snr}{SNR}{signal-to-noise ratio $\\gamma$}"
    assert text("\\gls{snr}", pre) == "signal-to-noise ratio $\\gamma$ (SNR)"


def test_self_referring_term_stops() -> None:
    pre = "\\newacronym{x}{X}{an \\acs{x} loop}"
    assert text("\\acl{x}", pre) == "an x loop"


@pytest.mark.parametrize("cmd", ["\\printglossaries", "\\printglossary[type=main]",
                                 "\\printacronyms", "\\glsaddall", "\\glsadd{svm}"])  # fmt: skip
def test_lists_and_setup_leave_nothing(cmd: str) -> None:
    assert text(f"A {cmd} B", GLOSSARIES).split() == ["A", "B"]


def test_case_variants_are_generated() -> None:
    assert USES["Glspl"] == ("auto", True, "cap") and USES["GLSpl"] == ("auto", True, "upper")
    assert USES["Acp"] == ("auto", True, "cap") and "ACp" not in USES


def test_collect_reads_each_definition_form() -> None:
    src = (ACRO + GLOSSARIES.replace("svm", "s2") + "\\acro{s3}[S3]{three}"
           "\\newabbreviation{s4}{S4}{four}"
           "\\longnewglossaryentry{s5}{name=five}{desc}")  # fmt: skip
    terms = collect(src)
    assert [terms[k].short for k in ("svm", "s2", "s3", "s4")] == ["SVM", "SVM", "S3", "S4"]
    assert terms["s5"].desc == "desc" and terms["s5"].text == "five"
    g = Glossary(terms)
    assert g.command("ac", "\\ac{s3}", 3, str)[0] == "three (S3)"


def test_terms_in_math_print_in_reading_order():
    src = (
        "\\newacronym{ml}{ML}{maximum likelihood}\\newacronym{sr}{SR}{symbiotic radio}"
        "\\begin{document}\\gls{sr} uses $t^{\\text{\\gls{ml}}}$, then \\gls{ml} and "
        "$y^{\\text{\\gls{sr}}}$.\\end{document}"
    )
    assert to_text(src) == (
        "symbiotic radio (SR) uses $t^{\\text{maximum likelihood (ML)}}$, then ML and "
        "$y^{\\text{SR}}$."
    )
