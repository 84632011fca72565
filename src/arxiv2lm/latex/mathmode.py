"""Find math and verbatim spans and swap them for placeholders, so text rules skip them.

One output convention: inline math `$...$` (from `$`, `\\(..\\)`, `math`), display math
`$$...$$` on its own line (from `$$`, `\\[..\\]`, `equation(*)`, `displaymath`, breqn's
`dmath`/`dseries`); multi-line environments keep their rows inside an aligned-type
environment: `align`/`eqnarray`/`flalign`/`alignat`/`xalignat`/`IEEEeqnarray`/`darray` ->
`$$\\begin{aligned}...\\end{aligned}$$`, `gather`/`multline` ->
`$$\\begin{gathered}...\\end{gathered}$$`, mathpartir's `mathpar` -> gathered with `\\and`
as `\\quad` and a blank line as `\\\\`, `empheq` as the environment its argument names,
`numcases{lhs}` -> `$$lhs \\begin{cases}...\\end{cases}$$`. Leading options and column specs
are dropped; `\\label`, `\\nonumber`, `\\notag` and IEEEtrantools' `\\IEEEnonumber`-like marks
are removed from math, and so are pictures (`tikzpicture`, `pspicture`, `picture`: drawing
code); math of nothing but braces is no math; everything else is verbatim LaTeX. A table's
column spec (`>{$}c<{$}`) opens no math. Verbatim: `\\verb`, `\\lstinline`, `\\Verb`, verbatim
environments and URLs, as written.

>>> t, spans = protect("a \\\\(x\\\\) b"); restore(t, spans)
'a $x$ b'
"""

from __future__ import annotations

import re
from functools import lru_cache

from arxiv2lm.latex.comments import VERBATIM_ENVS
from arxiv2lm.latex.scan import read_group, read_optional

PH_OPEN, PH_CLOSE = "\ue000", "\ue001"
PLACEHOLDER = re.compile(PH_OPEN + r"(\d+)" + PH_CLOSE)
ALIGNED = ("align", "eqnarray", "flalign", "alignat", "xalignat", "xxalignat", "split",
           "IEEEeqnarray", "darray")  # fmt: skip
GATHERED = ("gather", "multline", "mathpar")
DISPLAY = ("equation", "displaymath", "dmath", "dseries", "empheq")
CASES = ("numcases", "subnumcases")  # cases package: `{lhs}` then the rows
# optidef: `{variable}{objective}{label}{result}` then `\addConstraint{lhs}{rhs}{comment}`s
OPTIMIZATION = {"mini": "\\min", "maxi": "\\max", "argmini": "\\arg\\min",
                "argmaxi": "\\arg\\max"}  # fmt: skip
INLINE_ENVS = ("math",)
# environments with a column spec, and those with a width before it
TABLES = ("tabular", "tabularx", "tabulary", "longtable", "array", "supertabular", "xtabular")
_WIDTH_FIRST = ("tabular*", "tabularx", "tabulary")
_MATH_ENVS = ALIGNED + GATHERED + DISPLAY + CASES + tuple(OPTIMIZATION) + INLINE_ENVS
_OPTIONS = ("dmath", "dseries", "darray", "empheq", "IEEEeqnarray")  # a leading `[..]`
# ... and a leading `{..}`: columns, `{n}` of alignat, empheq's environment, numcases' lhs
_ARGUMENT = ("alignat", "xalignat", "xxalignat", "IEEEeqnarray", "darray", "empheq") + CASES
# After a backslash: the tokens start with distinct characters (the environments with
# distinct names), so one `\\` then these finds what each `\\..` alternative would, but
# checks the backslash once (1.15x faster on papers)
_BACKSLASHED = [
    r"[\\$]",  # \\ and \$ are not math
    r"\(",
    r"\[",
    r"begin\{(?P<menv>(?:" + "|".join(_MATH_ENVS) + r")[*!]?)\}",  # optidef: `mini!`
    r"begin\{(?P<venv>" + "|".join(re.escape(e) for e in VERBATIM_ENVS) + r")\}",
    r"verb\*?(?P<vd>[^A-Za-z\s*])",
    # inline code: listings' `\lstinline[..]|x|` or `{x}`, fancyvrb's `\Verb|x|`
    r"(?:lstinline|Verb\*?)(?:\[[^\]\n]*\])?(?P<ld>[^A-Za-z\s*\[])",
    r"(?:url|nolinkurl|path)\s*\{(?P<url>[^{}]*)\}",
    # a table's column spec: `>{$}c<{$}` makes math cells, it opens no math here
    r"begin\{(?P<tenv>" + "|".join(TABLES) + r")\*?\}",
]
_TOKENS = re.compile(r"\$\$|\$|\\(?:" + "|".join(_BACKSLASHED) + ")")
_MATH_JUNK = re.compile(
    "|".join(
        [
            r"\\label\s*\{[^{}]*\}",
            r"\\nonumber(?![A-Za-z])",
            r"\\notag(?![A-Za-z])",
            r"\\IEEE(?:yes|no)(?:sub)?number\*?(?![A-Za-z])",
            r"\\IEEEeqnarraynumspace(?![A-Za-z])",
        ]
    )
)
_PICTURE = re.compile(r"\\begin\{(tikzpicture|pspicture|picture)\}")
_SPACING = re.compile(r"\\(?:q?quad(?![A-Za-z])|[,;:! ])|~|&|\\\\")
_MATHPAR_AND = re.compile(r"\\and(?![A-Za-z@])")
_ADD_CONSTRAINT = re.compile(r"\\addConstraint(?![A-Za-z@])")
_OPTIDEF_FORMAT = re.compile(r"^\s*\|[^|\n]*\|")  # `|s|`, `|l|`: short or long layout
_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")
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


def _column_spec_end(text: str, i: int, env: str) -> int:
    """Index past the `[pos]`, width and column spec after `\\begin{env}` (at `i`)."""
    o = read_optional(text, i)
    i = o[1] if o else i
    for _ in range(2 if env in _WIDTH_FIRST else 1):
        g = read_group(text, i)
        if g is None:
            break
        i = g[1]
    return i


def _clean(math: str) -> str:
    if "picture}" in math:
        math = _drop_pictures(math)
    junk = "\\label" in math or "\\no" in math or "\\IEEE" in math  # (how each one starts)
    body = (_MATH_JUNK.sub("", math) if junk else math).strip()
    return body if body.strip("{} \t\n") else ""  # `${}$`: nothing (a macro removed)


def _drop_pictures(math: str) -> str:
    """`math` without its pictures (`tikzpicture`, `pspicture`, `picture`): drawing code,
    which the text drops too (`textrules.DROP_ENVS`), is no formula."""
    out: list[str] = []
    pos = 0
    while (m := _PICTURE.search(math, pos)) is not None:
        close = _env_end(math, m.group(1), m.end())
        if close is None:
            break
        out.append(math[pos : m.start()])
        pos = close[1]
    out.append(math[pos:])
    rest = "".join(out)
    return rest if _SPACING.sub("", rest).strip() else ""  # only the space between pictures


@lru_cache(maxsize=256)
def _begin_end(name: str) -> re.Pattern[str]:
    return re.compile(r"\\(begin|end)\{" + re.escape(name) + r"\}")


def _env_end(text: str, name: str, start: int) -> tuple[int, int] | None:
    """(content end, after end) of the `name` environment whose content begins at `start`."""
    depth = 1
    for m in _begin_end(name).finditer(text, start):
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return m.start(), m.end()
    return None


def _optimization(base: str, body: str) -> str:
    """optidef's problem as aligned rows:
    `\\max_{x} \\quad & f(x) \\\\ \\text{s.t.} \\quad & g(x)`."""
    body = _OPTIDEF_FORMAT.sub("", body)
    head: list[str] = []
    i = 0
    while len(head) < 4 and (g := read_group(body, i)) is not None:
        head.append(g[0].strip())
        i = g[1]
    var, obj = [*head, "", ""][:2]
    rows = [f"{OPTIMIZATION[base]}_{{{var}}} \\quad & {obj}"]
    for k, piece in enumerate(_ADD_CONSTRAINT.split(body[i:])[1:]):
        parts, j = [], 0
        while (g := read_group(piece, j)) is not None:
            parts.append(g[0].strip())
            j = g[1]
        rows.append(("\\text{s.t.} \\quad & " if k == 0 else "& ") + " ".join(parts))
    return "\\begin{aligned}" + " \\\\ ".join(rows) + "\\end{aligned}"


def _display(env: str, body: str) -> str:
    base = env.rstrip("*!")
    if base in OPTIMIZATION:
        body = _optimization(base, body)
    arg = ""
    if base in _OPTIONS and (o := read_optional(body, 0)) is not None:
        body = body[o[1] :]
    if base in _ARGUMENT and (g := read_group(body, 0)) is not None:
        arg, body = g[0].strip(), body[g[1] :]
    if base == "empheq":  # `{align*}`, `{alignat=2}`: the rows are those of that environment
        base = arg.split("=")[0].strip().rstrip("*")
    if base == "mathpar":  # rules side by side (`\and`), rows split by blank lines
        body = _BLANK_LINE.sub(r"\\\\ ", _MATHPAR_AND.sub(r"\\quad ", body.strip()))
    body = _clean(body)
    if not body:
        return ""
    if base in CASES:
        return "\n$$" + arg + " \\begin{cases}" + body + "\\end{cases}$$\n"
    if base in ALIGNED and base != "split":
        return "\n$$\\begin{aligned}" + body + "\\end{aligned}$$\n"
    if base in GATHERED:
        return "\n$$\\begin{gathered}" + body + "\\end{gathered}$$\n"
    if base in INLINE_ENVS:
        return "$" + body + "$"
    return "\n$$" + body + "$$\n"


def protect(text: str, spans: list[str] | None = None) -> tuple[str, list[str]]:
    """Replace math/verbatim spans by placeholders; return (text, rendered spans).

    Given `spans`, new spans are appended to it, so two texts can share one list."""
    spans = [] if spans is None else spans
    out: list[str] = []
    pos = 0

    def put(rendered: str) -> None:
        out.append(f"{PH_OPEN}{len(spans)}{PH_CLOSE}")
        spans.append(rendered)

    search = _TOKENS.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        tok = m.group(0)
        start, end = m.span()
        if tok == "$":  # inline math, the most common token: `put` and its branch, inline
            close = _inline_close(text, end)
            out.append(text[pos:start])
            if close is None:  # unterminated: leave the delimiter as text
                out.append(tok)
                pos = end
                continue
            body = _clean(text[end:close])
            out.append(f"{PH_OPEN}{len(spans)}{PH_CLOSE}")
            spans.append("$" + body + "$" if body else "")
            pos = close + 1
            continue
        rendered: str | None = None
        if tok in ("\\\\", "\\$"):
            out.append(text[pos:end])
            pos = end
            continue
        if m.group("tenv"):
            end = _column_spec_end(text, end, m.group(0)[7:-1])
            out.append(text[pos:end])
            pos = end
            continue
        if tok == "$$":
            e = _DDOLLAR.search(text, end)
            if e:
                body = _clean(text[end : e.start()])
                rendered, stop = ("\n$$" + body + "$$\n" if body else ""), e.end()
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
        else:  # \verb|...|, \lstinline{...}
            delim = m.group("vd") or m.group("ld")
            j = text.find("}" if m.group("ld") == "{" else delim, end)
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
    parts = PLACEHOLDER.split(text)  # [text, index, text, index, ..., text]
    parts[1::2] = [spans[int(k)] for k in parts[1::2]]  # (1.5x a callback per match)
    return "".join(parts)
