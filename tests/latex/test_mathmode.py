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


@pytest.mark.parametrize(
    "src,out",
    [
        ("\\begin{mathpar}\\inferrule{a}{b} \\and \\inferrule{c}{d}\n\n e\\end{mathpar}",
         "\n$$\\begin{gathered}\\inferrule{a}{b} \\quad  \\inferrule{c}{d}\\\\ e"
         "\\end{gathered}$$\n"),
        ("\\begin{dmath}[label={eq:x}]x=1\\end{dmath}", "\n$$x=1$$\n"),
        ("\\begin{dmath*}x=1\\end{dmath*}", "\n$$x=1$$\n"),
        ("\\begin{dseries}x,y\\end{dseries}", "\n$$x,y$$\n"),
        ("\\begin{darray}{rcl}a&=&b\\end{darray}", "\n$$\\begin{aligned}a&=&b\\end{aligned}$$\n"),
        ("\\begin{empheq}[left=\\empheqlbrace]{align}a&=b\\\\c&=d\\end{empheq}",
         "\n$$\\begin{aligned}a&=b\\\\c&=d\\end{aligned}$$\n"),
        ("\\begin{empheq}[box=\\fbox]{alignat=2}a&=b\\end{empheq}",
         "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{empheq}{gather*}a\\end{empheq}", "\n$$\\begin{gathered}a\\end{gathered}$$\n"),
        ("\\begin{IEEEeqnarray}{rCl}a&=&b\\IEEEnonumber\\\\c&=&d\\IEEEyesnumber\\end{IEEEeqnarray}",
         "\n$$\\begin{aligned}a&=&b\\\\c&=&d\\end{aligned}$$\n"),
        ("\\begin{IEEEeqnarray*}[\\IEEEeqnarraystrutmode]{rCl}a&=&b\\IEEEeqnarraynumspace"
         "\\end{IEEEeqnarray*}", "\n$$\\begin{aligned}a&=&b\\end{aligned}$$\n"),
        ("\\begin{xxalignat}{2}a&=b\\end{xxalignat}", "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{flalign*}a&=b\\end{flalign*}", "\n$$\\begin{aligned}a&=b\\end{aligned}$$\n"),
        ("\\begin{numcases}{f(x)=}1 & x>0\\\\0 & x\\le0\\end{numcases}",
         "\n$$f(x)= \\begin{cases}1 & x>0\\\\0 & x\\le0\\end{cases}$$\n"),
        ("\\begin{subnumcases}{g=}1 & a\\end{subnumcases}",
         "\n$$g= \\begin{cases}1 & a\\end{cases}$$\n"),
        ("\\begin{maxi!}|s|{x}{f(x)}{\\label{p}}{}\\addConstraint{g(x)}{\\le 0}{\\label{c}}"
         "\\addConstraint{x}{\\ge 1}\\end{maxi!}",
         "\n$$\\begin{aligned}\\max_{x} \\quad & f(x) \\\\ \\text{s.t.} \\quad & g(x) \\le 0  "
         "\\\\ & x \\ge 1\\end{aligned}$$\n"),
        ("\\begin{mini}{w}{h(w)}{}{}\\end{mini}", "\n$$\\begin{aligned}\\min_{w} \\quad & h(w)"
         "\\end{aligned}$$\n"),
        ("\\begin{argmini*}{w}{h}{}{}\\end{argmini*}",
         "\n$$\\begin{aligned}\\arg\\min_{w} \\quad & h\\end{aligned}$$\n"),
        ("\\begin{argmaxi}{w}{h}{}{}\\end{argmaxi}",
         "\n$$\\begin{aligned}\\arg\\max_{w} \\quad & h\\end{aligned}$$\n"),
    ],
)  # fmt: skip
def test_package_math_environments(src, out):
    assert conv(src) == out


@pytest.mark.parametrize(
    "src",
    [
        "\\begin{subequations}\\label{s}\\begin{align}a&=b\\end{align}\\end{subequations}",
        "\\begin{theorem}Let \\[x=1\\] hold.\\end{theorem}",
        "\\begin{itemize}\\item Let \\[x=1\\] hold.\\end{itemize}",
        "A\\footnote{B \\[x=1\\] C} D",
        "\\begin{center}\\[x=1\\]\\end{center}",
        "\\begin{dgroup}\\begin{dmath}x=1\\end{dmath}\\end{dgroup}",
    ],
)
def test_display_math_inside_other_environments_stays_math(src):
    from arxiv2lm.latex.totext import to_text

    out = to_text("\\begin{document}" + src + "\\end{document}")
    math = out[out.index("$$") : out.rindex("$$") + 2]
    assert math in ("$$x=1$$", "$$\\begin{aligned}a&=b\\end{aligned}$$"), out
    assert "\\begin" not in out.replace(math, "") and "\\[" not in out


@pytest.mark.parametrize(
    "src,code",
    [("\\lstinline|a $b|", "a $b"), ("\\lstinline[language=C]{x--y}", "x--y"),
     ("\\lstinline!z!", "z"), ("\\Verb|$q|", "$q"), ("\\Verb[commandchars=\\\\\\{\\}]+k+", "k")],
)  # fmt: skip
def test_each_inline_code_form_is_verbatim(src, code):
    assert protect("see " + src + " now")[1] == [code]


def test_pictures_in_math_are_dropped():
    t, spans = protect(
        "a \\[\\begin{tikzpicture}\\draw (0,0);\\end{tikzpicture} \\quad "
        "\\begin{pspicture}(1,1)\\end{pspicture}\\] b $x+\\begin{picture}(1,1)\\end{picture}y$ c"
    )
    assert restore(t, spans) == "a  b $x+y$ c"


def test_math_of_nothing_but_braces_is_no_math():
    t, spans = protect("a ${}$ b $${ }$$ c")
    assert restore(t, spans) == "a  b  c"


@pytest.mark.parametrize(
    "table",
    ["\\begin{tabular}{>{$}c<{$}l}", "\\begin{tabular*}{5cm}{>{$}c<{$}}",
     "\\begin{tabularx}{\\linewidth}{>{$}X<{$}}", "\\begin{longtable}[c]{@{}>{$}r<{$}}",
     "\\begin{tabulary}{5cm}{>{$}L<{$}}", "\\begin{array}{>{$}c<{$}}",
     "\\begin{supertabular}{>{$}c<{$}}", "\\begin{xtabular}{>{$}c<{$}}"],
)  # fmt: skip
def test_a_column_spec_opens_no_math(table):
    t, spans = protect(table + " x & y \\\\ end $a$ text")
    assert spans == ["$a$"] and t.startswith(table)
