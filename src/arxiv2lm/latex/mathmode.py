"""Find math and verbatim spans and swap them for placeholders, so text rules skip them.

One output convention: inline math `$...$` (from `$`, `\\(..\\)`, `math`), display math
`$$...$$` on its own line (from `$$`, `\\[..\\]`, `equation(*)`, `displaymath`);
multi-line environments keep their rows inside an aligned-type environment:
`align`/`eqnarray`/`flalign`/`alignat` -> `$$\\begin{aligned}...\\end{aligned}$$`,
`gather`/`multline` -> `$$\\begin{gathered}...\\end{gathered}$$`. `\\label`, `\\nonumber`
and `\\notag` are removed from math; everything else is verbatim LaTeX.

>>> t, spans = protect("a \\\\(x\\\\) b"); restore(t, spans)
'a $x$ b'
"""

from __future__ import annotations

import re

from arxiv2lm.latex.comments import VERBATIM_ENVS

PH_OPEN, PH_CLOSE = "\ue000", "\ue001"
_PH = re.compile(PH_OPEN + r"(\d+)" + PH_CLOSE)
ALIGNED = ("align", "eqnarray", "flalign", "alignat", "xalignat", "split")
GATHERED = ("gather", "multline")
DISPLAY = ("equation", "displaymath", "dmath", "empheq")
INLINE_ENVS = ("math",)
_MATH_ENVS = ALIGNED + GATHERED + DISPLAY + INLINE_ENVS
_TOKENS = re.compile(
    "|".join(
        [
            r"\\[\\$]",  # \\ and \$ are not math
            r"\$\$",
            r"\$",
            r"\\\(",
            r"\\\[",
            r"\\begin\{(?P<menv>(?:" + "|".join(_MATH_ENVS) + r")\*?)\}",
            r"\\begin\{(?P<venv>" + "|".join(re.escape(e) for e in VERBATIM_ENVS) + r")\}",
            r"\\verb\*?(?P<vd>[^A-Za-z\s*])",
            r"\\(?:url|nolinkurl|path)\s*\{(?P<url>[^{}]*)\}",
        ]
    )
)
_MATH_JUNK = re.compile(r"\\label\s*\{[^{}]*\}|\\nonumber(?![A-Za-z])|\\notag(?![A-Za-z])")
_INLINE_SCAN = re.compile(r"\\.|[{}$]|\n[ \t]*\n", re.S)


def _inline_pattern(depth: int) -> re.Pattern[str]:
    """Inline math up to its closing `$`, braces nested at most `depth` deep, read with
    `_INLINE_SCAN`'s tokens: an escape is one token, a blank line ends the search, a `}`
    outside braces is ignored and a `$` inside them closes nothing. Possessive, so a text
    it does not fit (deeper braces, no closer) fails in linear time."""
    plain = r"[^\\{}$\n]++|\\.|\n(?![ \t]*\n)"
    group = r"\{(?:" + plain + r"|\$)*+\}"
    for _ in range(depth - 1):
        group = r"\{(?:" + plain + r"|\$|" + group + r")*+\}"
    return re.compile(r"(?:" + plain + r"|\}|" + group + r")*+\$", re.S)


_INLINE_MATH = _inline_pattern(6)  # the scan below takes deeper nesting and no closer
_DDOLLAR = re.compile(r"(?<!\\)\$\$")
_VERB_OPTS = re.compile(r"^\s*(?:\[[^\]\n]*\])?(?:\{[^}\n]*\})?")  # lstlisting/minted options


def _inline_close(text: str, start: int) -> int | None:
    """Index of the `$` closing inline math opened before `start`; a `$` nested in braces
    (`$a \\text{ if $b$}$`) does not close it, and nor does anything past a blank line."""
    m = _INLINE_MATH.match(text, start)  # in C: 3x faster than the token loop below
    if m is not None:
        return m.end() - 1
    depth = 0
    for m in _INLINE_SCAN.finditer(text, start):
        tok = m.group(0)
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(0, depth - 1)
        elif tok == "$":
            if depth == 0:
                return m.start()
        elif tok[0] == "\n":
            return None
    return None


def _clean(math: str) -> str:
    return _MATH_JUNK.sub("", math).strip()


def _env_end(text: str, name: str, start: int) -> tuple[int, int] | None:
    """(content end, after end) of the `name` environment whose content begins at `start`."""
    pat = re.compile(r"\\(begin|end)\{" + re.escape(name) + r"\}")
    depth = 1
    for m in pat.finditer(text, start):
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return m.start(), m.end()
    return None


def _display(env: str, body: str) -> str:
    base = env.rstrip("*")
    if base in ("alignat", "xalignat"):
        body = re.sub(r"^\s*\{[^{}]*\}", "", body)
    body = _clean(body)
    if not body:
        return ""
    if base in ALIGNED and base != "split":
        return "\n$$\\begin{aligned}" + body + "\\end{aligned}$$\n"
    if base in GATHERED:
        return "\n$$\\begin{gathered}" + body + "\\end{gathered}$$\n"
    if base in INLINE_ENVS:
        return "$" + body + "$"
    return "\n$$" + body + "$$\n"


def protect(text: str) -> tuple[str, list[str]]:
    """Replace math/verbatim spans by placeholders; return (text, rendered spans)."""
    spans: list[str] = []
    out: list[str] = []
    pos = 0

    def put(rendered: str) -> None:
        out.append(f"{PH_OPEN}{len(spans)}{PH_CLOSE}")
        spans.append(rendered)

    while True:
        m = _TOKENS.search(text, pos)
        if m is None:
            break
        tok = m.group(0)
        start, end = m.start(), m.end()
        rendered: str | None = None
        if tok in ("\\\\", "\\$"):
            out.append(text[pos:end])
            pos = end
            continue
        if tok == "$$":
            e = _DDOLLAR.search(text, end)
            if e:
                body = _clean(text[end : e.start()])
                rendered, stop = ("\n$$" + body + "$$\n" if body else ""), e.end()
        elif tok == "$":
            close = _inline_close(text, end)
            if close is not None:
                body = _clean(text[end:close])
                rendered, stop = ("$" + body + "$" if body else ""), close + 1
        elif tok in ("\\(", "\\["):
            close = "\\)" if tok == "\\(" else "\\]"
            j = text.find(close, end)
            if j >= 0:
                body = _clean(text[end:j])
                wrap = ("$", "$") if tok == "\\(" else ("\n$$", "$$\n")
                rendered, stop = (wrap[0] + body + wrap[1] if body else ""), j + 2
        elif m.group("menv"):
            env = m.group("menv")
            e2 = _env_end(text, env, end)
            if e2:
                rendered, stop = _display(env, text[end : e2[0]]), e2[1]
        elif m.group("url") is not None:
            rendered, stop = m.group("url").strip(), end
        elif m.group("venv"):
            e2 = _env_end(text, m.group("venv"), end)
            if e2:
                code = _VERB_OPTS.sub("", text[end : e2[0]], count=1)
                rendered, stop = "\n" + code.strip("\n") + "\n", e2[1]
        else:  # \verb|...|
            j = text.find(m.group("vd"), end)
            if j >= 0:
                rendered, stop = text[end:j], j + 1
        out.append(text[pos:start])
        if rendered is None:  # unterminated: leave the delimiter as text
            out.append(tok)
            pos = end
            continue
        put(rendered)
        pos = stop
    out.append(text[pos:])
    return "".join(out), spans


def restore(text: str, spans: list[str]) -> str:
    """Put the rendered spans back in place of their placeholders."""
    return _PH.sub(lambda m: spans[int(m.group(1))], text)
