"""Parse TeX and LaTeX macro definitions: where each one is, its name, parameters and body.

`iter_definitions` finds every parsable definition form in a text (listed in `macros`, which
collects them into a paper's table); `remove_definitions` drops them from a text.

>>> [(d.kind, d.name, d.macro.body) for d in iter_definitions("\\\\def\\\\R{\\\\mathbb{R}}")]
[('cmd', 'R', '\\\\mathbb{R}')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from arxiv2lm.latex import delimiters, xparse
from arxiv2lm.latex.macroargs import Env, Macro, Param
from arxiv2lm.latex.scan import read_arg, read_group, read_optional

# the name: `{\\foo}`, `\\foo`, or (in a definer's body) `#1` / `{#1}`; `\\csname foo\\endcsname`
_NAME = re.compile(
    "|".join(
        [
            r"\s*\{\s*(?:\\(?P<a>[A-Za-z@]+|.)|(?P<b>#[1-9]))\s*\}",
            r"\s*\\csname\s*(?P<e>[A-Za-z@]{1,64}|#[1-9])\s*\\endcsname(?![A-Za-z@])",
            r"\s*\\(?P<c>[A-Za-z@]+|.)",
            r"\s*(?P<d>#[1-9])",
        ]
    )
)
_USABLE_NAME = re.compile(r"[A-Za-z]+|[^A-Za-z@#]")
# the definition forms, after their backslash
DEF_FORMS = [
    r"(?P<new>newcommand|renewcommand|providecommand|DeclareRobustCommand)(?![A-Za-z@])\*?",
    r"(?P<def>[gex]?def)(?![A-Za-z@])",
    r"(?P<let>let|NewCommandCopy|RenewCommandCopy|DeclareCommandCopy)(?![A-Za-z@])",
    r"(?P<op>DeclareMathOperator)(?![A-Za-z@])(?P<star>\*?)",
    r"(?P<env>newenvironment|renewenvironment)(?![A-Za-z@])\*?",
    r"(?P<xcmd>(?:New|Renew|Provide|Declare)(?:Expandable)?DocumentCommand)(?![A-Za-z@])",
    r"(?P<xenv>(?:New|Renew|Provide|Declare)DocumentEnvironment)(?![A-Za-z@])",
    r"(?P<pair>DeclarePairedDelimiter(?:XPP|X)?)(?![A-Za-z@])",
]
# The letters the forms start with, tested first: one test a backslash, where each form's
# named group is entered in turn (2x faster on papers; a test checks it misses none)
DEF_LETTERS = "nrpgexdlDNRP"
DEF_START = re.compile(r"\\(?=[" + DEF_LETTERS + "])(?:" + "|".join(DEF_FORMS) + ")")
_PREFIXES = re.compile(r"(?:\\(?:long|global|protected|outer|expandafter)\s*)+$")
_NARGS = re.compile(r"\s*\[\s*(\d)\s*\]")
_LET_TARGET = re.compile(r"\s*=?\s*(?:\{\s*(\\[A-Za-z@]+|\\.)\s*\}|(\\[A-Za-z@]+|\\.|[^\s{}]))")
_DEF_PARAM = re.compile(r"#(.)", re.S)
_DOUBLED = re.compile(r"##([1-9])")
_USES_PARAM = re.compile(r"(?<!#)(?:##)*#[1-9]")
_AFTER_CS = re.compile(r"(\\[A-Za-z@]+)\s+")
MAX_PARAM_TEXT = 200  # characters between `\def\foo` and its body; TeX allows more, papers don't
PROTECTED = frozenset(
    " ".join(
        [
            "begin end section subsection subsubsection paragraph subparagraph chapter part",
            "cite citep citet ref eqref label footnote caption item title author abstract",
            "maketitle emph textbf textit input include bibliography appendix url href",
            "newcommand def",
        ]
    ).split(" ")
)
_Parsed = tuple[str, Macro | Env, int]  # name, definition, end


class Definition(NamedTuple):
    """(A tuple: one is made per definition of every file read, 3x faster than a frozen
    dataclass.)"""

    kind: str  # cmd | env | let | provide
    name: str
    macro: Macro | Env
    start: int
    end: int
    usable: bool  # False: structural names and package internals (`@`) are never expanded
    provide: bool = False  # `\providecommand`-like: never overrides
    renew: bool = False  # `\renewcommand`-like: the command exists before it
    explicit: bool = False  # the form fixes the arguments: an xparse spec, even empty


def _name(m: re.Match[str]) -> str:
    return next(g for g in m.group("a", "b", "c", "d", "e") if g is not None)


def _delimiter(text: str) -> str:
    """Parameter text as TeX tokenizes it: no blanks after a control word, one blank a run."""
    text = _AFTER_CS.sub(r"\1", text)
    return " " if text.isspace() else re.sub(r"\s+", " ", text)


def def_params(text: str) -> tuple[Param, ...] | None:
    """The `Param`s of `\\def` parameter text (`#1#2`, `#1.`, `(#1,#2)`), or None.

    >>> [(p.kind, p.close) for p in def_params("#1#2.")]
    [('m', ''), ('u', '.')]
    """
    pieces = _DEF_PARAM.split(text)  # [text, n, text, n, text ...]
    numbers = [str(k) for k in range(1, len(pieces) // 2 + 1)]
    if pieces[1::2] != numbers or any("#" in p for p in pieces[::2]):
        return None  # `##`, a trailing `#` (TeX's `#{`) or numbers out of order
    params: list[Param] = []
    if pieces[0].strip():
        params.append(Param("l", open=_delimiter(pieces[0].strip())))
    for delim in pieces[2::2]:
        params.append(Param("u", close=_delimiter(delim)) if delim else Param("m"))
    return tuple(params) if len(params) <= 10 else None


def _newcommand_params(text: str, i: int) -> tuple[tuple[Param, ...], int]:
    """`[n][default]` after a `\\newcommand`-like name: the `Param`s and the index past them."""
    n = _NARGS.match(text, i)
    if n is None:
        return (), i
    nargs, i = int(n.group(1)), n.end()
    opt = read_optional(text, i)
    if opt is None or nargs == 0:
        return (Param("m"),) * nargs, i
    return (Param("o", opt[0]), *(Param("m"),) * (nargs - 1)), opt[1]


def _groups(text: str, i: int, n: int) -> tuple[list[str], int] | None:
    """`n` brace groups at `text[i:]`, or None."""
    out: list[str] = []
    for _ in range(n):
        g = read_group(text, i)
        if g is None:
            return None
        out.append(g[0])
        i = g[1]
    return out, i


def _env(params: tuple[Param, ...], begin: str, end: str) -> Env:
    kinds = [p.kind for p in params]
    body_at = sum(k != "l" for k in kinds[: kinds.index("b")]) if "b" in kinds else None
    params = tuple(p for p in params if p.kind != "b")
    whole = body_at is not None or _USES_PARAM.search(end) is not None
    return Env(Macro(params, begin), end, whole, body_at)


def _parse_pair(text: str, i: int, form: str) -> _Parsed | None:
    nm = _NAME.match(text, i)
    if nm is None:
        return None
    name, i = _name(nm), nm.end()
    nargs = 1
    if form != "DeclarePairedDelimiter":
        n = _NARGS.match(text, i)
        if n is None:
            return None
        nargs, i = int(n.group(1)), n.end()
    parts: list[str] = []
    for _ in range({"DeclarePairedDelimiter": 2, "DeclarePairedDelimiterX": 3}.get(form, 5)):
        a = read_arg(text, i)
        if a is None:
            return None
        parts.append(a[0])
        i = a[1]
    if form == "DeclarePairedDelimiter":
        mac = delimiters.paired(parts[0], parts[1])
    elif form == "DeclarePairedDelimiterX":
        mac = delimiters.paired(parts[0], parts[1], parts[2], nargs)
    else:
        pre, left, right, post, body = parts
        mac = delimiters.paired(left, right, body, nargs, pre, post)
    return None if mac is None else (name, mac, i)


def _parse_def(text: str, m: re.Match[str]) -> _Parsed | None:
    """(name, definition, end) for the definition starting at match `m`, or None."""
    i = m.end()
    if m.group("pair"):
        return _parse_pair(text, i, m.group("pair"))
    if m.group("env") or m.group("xenv"):
        g = read_group(text, i)
        if g is None:
            return None
        name, i = g[0].strip(), g[1]
    else:
        nm = _NAME.match(text, i)
        if nm is None:
            return None
        name, i = _name(nm), nm.end()
    if m.group("let"):
        rest = _LET_TARGET.match(text, i)
        if rest is None:
            return None
        return name, Macro((), rest.group(1) or rest.group(2)), rest.end()
    if m.group("op"):
        g = read_group(text, i)
        if g is None:
            return None
        op = "\\operatorname*" if m.group("star") else "\\operatorname"
        return name, Macro((), op + "{" + g[0] + "}"), g[1]
    if m.group("xcmd") or m.group("xenv"):
        spec = read_group(text, i)
        params = xparse.parse_spec(spec[0], env=bool(m.group("xenv"))) if spec else None
        if spec is None or params is None:
            return None
        i = spec[1]
    elif m.group("def"):
        j = text.find("{", i, i + MAX_PARAM_TEXT)
        # `##1` in a definer's body is `#1` once the definer is used
        params = (
            def_params(_DOUBLED.sub(r"#\1", text[i:j])) if j >= 0 and "}" not in text[i:j] else None
        )
        if params is None:
            return None
        i = j
    else:
        params, i = _newcommand_params(text, i)
    if m.group("env") or m.group("xenv"):
        code = _groups(text, i, 2)
        if code is None:
            return None
        return name, _env(params, code[0][0], code[0][1]), code[1]
    body = read_group(text, i)
    if body is None:
        return None
    return name, Macro(params, body[0]), body[1]


def iter_definitions(text: str) -> Iterator[Definition]:
    """Every parsable definition in `text`, in order."""
    pos = 0
    while True:
        m = DEF_START.search(text, pos)
        if m is None:
            return
        parsed = _parse_def(text, m)
        if parsed is None:
            pos = m.end()
            continue
        name, mac, end = parsed
        start = m.start()
        # `\long\global\def`, `\expandafter\newcommand\csname..`: the prefixes go too
        p = _PREFIXES.search(text, max(pos, start - 64), start)
        start = p.start() if p else start
        pos = end
        body = mac.begin.body + mac.end if isinstance(mac, Env) else mac.body
        usable = name not in PROTECTED and "@" not in body and bool(_USABLE_NAME.fullmatch(name))
        cs = m.group(0)
        provide = "Provide" in cs or cs.startswith("\\provide")
        renew = "Renew" in cs or cs.startswith("\\renew")
        kind = "env" if isinstance(mac, Env) else "let" if m.group("let") else "cmd"
        kind = "provide" if provide and kind == "cmd" else kind
        explicit = m.lastgroup in ("xcmd", "pair", "op", "star")
        yield Definition(kind, name, mac, start, end, usable, provide, renew, explicit)


def remove_definitions(text: str) -> str:
    """`text` without its (parsable) definitions."""
    if not DEF_START.search(text):
        return text
    out: list[str] = []
    pos = 0
    for d in iter_definitions(text):
        out.append(text[pos : d.start])
        pos = d.end
    out.append(text[pos:])
    return "".join(out)
