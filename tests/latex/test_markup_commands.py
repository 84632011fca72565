"""Package markup resolved to what a reader sees: references, layout, symbols, floats, title."""

import unicodedata

import pytest

from arxiv2lm.latex.totext import convert, to_text

from .conftest import doc


def body(src: str) -> str:
    return to_text(doc(src))


@pytest.mark.parametrize(
    "src,out",
    [("\\cref{a}", "[REF]"), ("\\Cref{a,b}", "[REF]"), ("\\cref*{a}", "[REF]"),
     ("\\crefrange{a}{b}", "[REF]"), ("\\Crefrange{a}{b}", "[REF]"), ("\\cpageref{a}", "[REF]"),
     ("\\autoref{a}", "[REF]"), ("\\nameref{a}", "[REF]"), ("\\vref{a}", "[REF]"),
     ("\\Vref{a}", "[REF]"), ("\\vrefrange{a}{b}", "[REF]"), ("\\labelcref{a}", "[REF]"),
     ("\\hyperref[sec:a]{the setup}", "the setup"), ("\\hyperlink{t}{that}", "that"),
     ("\\hypertarget{t}{here}", "here"), ("\\kl{graph}", "graph"),
     ("\\kl[notion]{graphs}", "graphs"),
     ("\\intro{graph}", "graph"), ("\\reintro{graph}", "graph"), ("\\phantomintro{graph}", ""),
     ("\\Citet{a}", "[CITE]"), ("\\Textcite{a}", "[CITE]"), ("\\enquote{q}", "“q”"),
     ("\\say{q}", "“q”")],
)  # fmt: skip
def test_references_links_and_knowledge(src: str, out: str) -> None:
    # runs of spaces are normalize's job; compare words
    assert body(f"See {src} now.").split() == f"See {out} now.".split()


@pytest.mark.parametrize(
    "src",
    ["\\index{word}", "\\index{a!b@c}", "\\glossary{x}", "\\label{l}", "\\phantomsection",
     "\\printindex", "\\printglossaries", "\\marginpar{aside}", "\\marginpar[left]{right}",
     "\\marginnote{aside}", "\\todo[inline]{fix}", "\\nomenclature{$c$}{light speed}",
     "\\vspace*{2em}", "\\vspace{1cm}", "\\noindent", "\\centering", "\\newpage", "\\clearpage",
     "\\nopagebreak[4]", "\\nolinebreak[2]", "\\enlargethispage{2\\baselineskip}"],
)  # fmt: skip
def test_layout_and_index_leave_nothing(src: str) -> None:
    assert body(f"Paragraph {src} markup.").split() == ["Paragraph", "markup."]


@pytest.mark.parametrize(
    "src", ["\\linebreak[3]", "\\linebreak{}", "\\pagebreak[1]", "\\pagebreak "]
)
def test_breaks_never_join_words_nor_leave_their_argument(src: str) -> None:
    assert body(f"Paragraph{src}markup").split() == ["Paragraph", "markup"]


def test_layout_between_words_keeps_them_apart() -> None:
    assert body("one \\noindent two\\index{x} three").split() == ["one", "two", "three"]


@pytest.mark.parametrize(
    "src,out",
    [("\\textcopyright", "©"), ("\\texttimes", "×"), ("\\textsterling", "£"),
     ("\\textonehalf", "½"),
     ("\\guillemotleft", "«"), ("\\guillemotright", "»"), ("\\textdegree", "°"), ("\\textpm", "±"),
     ("\\texteuro", "€"), ("\\textperthousand", "‰"), ("\\dh", "ð"), ("\\DH", "Ð"), ("\\th", "þ"),
     ("\\TH", "Þ"), ("\\dj", "đ"), ("\\DJ", "Đ"), ("\\ij", "ĳ"), ("\\IJ", "Ĳ"), ("\\ng", "ŋ"),
     ("\\NG", "Ŋ"), ("{\\th}orn", "þorn")],
)  # fmt: skip
def test_textcomp_and_special_letters(src: str, out: str) -> None:
    assert unicodedata.normalize("NFC", body(src)) == out


def test_last_title_wins() -> None:
    src = doc("Body.", "\\title{Draft title}\\title{Final title}")
    assert to_text(src) == "# Final title\n\nBody."


def test_figures_without_caption_are_counted_not_kept() -> None:
    src = doc(
        "A.\\begin{figure}\\includegraphics{a}\\end{figure}"
        "\\begin{figure*}\\includegraphics{b}\\caption{Kept.}\\end{figure*}"
        "\\begin{wrapfigure}{r}{3cm}\\includegraphics{c}\\end{wrapfigure}"
        "\\begin{table}\\begin{tabular}{c}1\\end{tabular}\\end{table} B."
    )
    got = convert(src)
    assert got.text == "A.\n\nFigure: Kept.\n\nB."
    assert got.figures_uncaptioned == 2


def test_table_keeps_its_caption_and_footnote_stays_in_place() -> None:
    out = body("Word\\footnote{A note.} more.\\begin{table}\\caption{Results.}\\end{table}")
    assert out == "Word (A note.) more.\n\nTable: Results."
