import pytest

from arxiv2lm.latex.mathmode import protect, restore


def conv(s: str) -> str:
    return restore(*protect(s))


@pytest.mark.parametrize(
    "src,out",
    [
        ("a $x$ b", "a $x$ b"),
        ("a \\(x\\) b", "a $x$ b"),
        ("\\begin{math}x\\end{math}", "$x$"),
        ("a $$x$$ b", "a \n$$x$$\n b"),
        ("a \\[x\\] b", "a \n$$x$$\n b"),
        ("\\begin{equation}x\\label{e}\\end{equation}", "\n$$x$$\n"),
        ("\\begin{equation*}x\\end{equation*}", "\n$$x$$\n"),
        ("\\begin{displaymath}x\\end{displaymath}", "\n$$x$$\n"),
        ("\\begin{align}a&=b\\\\c&=d\\nonumber\\end{align}",
         "\n$$\\begin{aligned}a&=b\\\\c&=d\\end{aligned}$$\n"),
        ("\\begin{align*}a&=b\\end{align*}", "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{eqnarray}a&=&b\\end{eqnarray}", "\n$$\\begin{aligned}a&=&b\\end{aligned}$$\n"),
        ("\\begin{alignat}{2}a&=b\\end{alignat}", "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{gather}a\\\\b\\end{gather}", "\n$$\\begin{gathered}a\\\\b\\end{gathered}$$\n"),
        ("\\begin{multline}a\\\\b\\end{multline}",
         "\n$$\\begin{gathered}a\\\\b\\end{gathered}$$\n"),
        ("\\begin{flalign}a&=b\\end{flalign}", "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{xalignat}{2}a&=b\\end{xalignat}",
         "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{split}a&=b\\end{split}", "\n$$a&=b$$\n"),
        ("\\begin{dmath}x=1\\end{dmath}", "\n$$x=1$$\n"),
        ("\\begin{empheq}x\\end{empheq}", "\n$$x$$\n"),
        ("\\begin{gather*}a\\end{gather*}", "\n$$\\begin{gathered}a\\end{gathered}$$\n"),
        ("a $$ $$ b", "a  b"),  # empty math leaves nothing
    ],
)  # fmt: skip
def test_math_conventions(src, out):
    assert conv(src) == out


def test_text_between_is_placeholder():
    text, spans = protect("p $x$ q")
    assert "x" not in text and spans == ["$x$"]


def test_escaped_dollar_is_not_math():
    assert protect("costs \\$5 and \\$6")[1] == []


def test_inline_dollar_does_not_cross_paragraphs():
    assert protect("a $ b\n\nc $ d")[1] == []


def test_verbatim_and_verb_protected():
    text, spans = protect("\\verb|$x|\\begin{verbatim}\n$y\n\\end{verbatim}")
    assert spans == ["$x", "\n$y\n"]


@pytest.mark.parametrize("cmd", ["url", "nolinkurl", "path"])
def test_each_url_form_is_verbatim(cmd):
    text, spans = protect(f"see \\{cmd}{{http://a.org/x--y%20z}} $")
    assert spans == ["http://a.org/x--y%20z"]
    assert restore(text, spans) == "see http://a.org/x--y%20z $"


def test_starred_verb_is_verbatim():
    assert protect("\\verb*+a $b+ c")[1] == ["a $b"]


def test_listing_options_dropped():
    src = "\\begin{lstlisting}[language=Python]\nx = 1\n\\end{lstlisting}"
    assert conv(src) == "\nx = 1\n"
    assert conv("\\begin{minted}{python}\nx\n\\end{minted}") == "\nx\n"


def test_dollar_nested_in_text_inside_math():
    assert protect("$a \\text{ if $b$ } c$ d")[1] == ["$a \\text{ if $b$ } c$"]
