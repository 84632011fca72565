"""Collect a paper's own macro definitions (expanded by `expansion.expand`).

Collected (from comment-free text):
- `\\newcommand`, `\\renewcommand`, `\\providecommand` (only if undefined: not collected
  before, and not a command the converter knows, like `\\text`),
  `\\DeclareRobustCommand`: starred, `[n]` args, `[default]` first arg;
- `\\def` / `\\gdef` / `\\edef` / `\\xdef` (with `\\long`, `\\global`, `\\protected` before),
  undelimited `#1#2` or delimited parameters (`\\def\\foo#1.{..}` reads up to the `.`);
- `\\let\\a\\b`, `\\let\\a=\\b`, `\\NewCommandCopy\\a\\b`;
- `\\DeclareMathOperator` (-> `\\operatorname{..}`, starred -> `\\operatorname*`);
- `\\newenvironment` / `\\renewenvironment` with `[n][default]`;
- xparse: `\\NewDocumentCommand`, `\\RenewDocumentCommand`, `\\ProvideDocumentCommand`,
  `\\DeclareDocumentCommand` (and `..Expandable..`), the same for `..Environment`;
- mathtools: `\\DeclarePairedDelimiter`, `..X`, `..XPP` (see `delimiters`).

Structural commands (sections, cite, ref, ...) are never redefined, and definitions with `@`
(package internals) are not expanded. A definition made inside a body (`\\renewcommand
\\arraystretch{2}` in an environment's begin code) is dropped from it. For files the paper
loads (`packages`), `code=False` also skips bodies that program TeX (`\\csname`, `\\fi`, ...).
A command so skipped, or one whose body draws, is *opaque* (`opaque`): its uses are removed
with their arguments. Every definition is kept as written (`Macros.raw`), `@` names too, so
an opaque command's arguments can be traced through the internals that read them.

>>> m = collect("\\\\newcommand{\\\\R}{\\\\mathbb{R}}")
>>> expand("$x\\\\in\\\\R$, $\\\\Rightarrow$", m).text
'$x\\\\in\\\\mathbb{R}$, $\\\\Rightarrow$'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import NamedTuple

from arxiv2lm.latex import definers, delimiters, opaque, xparse
from arxiv2lm.latex.expansion import Expanded, expand
from arxiv2lm.latex.macroargs import Budget, Env, Macro, Macros, Param, Raw
from arxiv2lm.latex.scan import read_arg, read_group, read_optional
from arxiv2lm.latex.textrules import DROP_ARGS, DROP_WORDS, HEADINGS, UNWRAP, WORDS

__all__ = ["Definition", "Env", "Expanded", "Macro", "Macros", "collect", "expand"]

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
_DEF_START = re.compile(r"\\(?=[" + DEF_LETTERS + "])(?:" + "|".join(DEF_FORMS) + ")")
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
# commands the converter knows (`textrules`): LaTeX or a common package defines them, so a
# `\providecommand` of one (`\providecommand\text{..please load mathtools..}`) never applies
CONVERTED = frozenset([*WORDS, *DROP_WORDS, *DROP_ARGS, *HEADINGS, *UNWRAP])
# TeX programming: conditionals (each `\if..` has its `\fi`; a paper's `\ifliteral` may be
# notation), \csname, assignments to registers. A class's `\altaffiltext`
# built on them would put `\global\advance\affilcount by 1` into the text if expanded.
_PROGRAMMING = re.compile(
    r"\\(?:fi|else|or|ifthenelse|csname|expandafter|noexpand|global|advance"
    r"|multiply|divide|setbox|count|dimen|skip|toks|the|afterassignment|aftergroup|futurelet"
    r"|let|[gex]?def|new(?:count|dimen|skip|toks|if|box)|catcode|string"
    r"|(?:set|addto|step|refstep)counter|setlength|addtolength)(?![A-Za-z@])"
)


def _is_notation(mac: Macro | Env) -> bool:
    """The body writes text or math, not TeX programming."""
    body = mac.begin.body + mac.end if isinstance(mac, Env) else mac.body
    return _PROGRAMMING.search(body) is None


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


def collect(
    text: str, into: Macros | None = None, skip: frozenset[str] = frozenset(), code: bool = True
) -> Macros:
    """Add the definitions in comment-free `text` to `into` (later ones win), except those of
    the command names in `skip` and, unless `code`, those whose body programs TeX. Uses of
    definers (macros that define macros, see `definers`) add the definitions they make."""
    out = into if into is not None else Macros()
    _collect(text, out, skip, code, Budget(max(10**6, 32 * len(text))), 0)
    return out


def collect_and_remove(text: str, into: Macros) -> str:
    """`collect(text, into)`, and `text` without its definitions (`remove_definitions`),
    from one parse of them.

    >>> m = Macros()
    >>> collect_and_remove("a\\\\newcommand{\\\\R}{x}b", m), list(m.commands)
    ('ab', ['R'])
    """
    spans: list[tuple[int, int]] = []
    _collect(text, into, frozenset(), True, Budget(max(10**6, 32 * len(text))), 0, spans)
    if not spans:
        return text
    starts = [a for a, _ in spans] + [len(text)]
    ends = [0] + [b for _, b in spans]
    return "".join([text[b:a] for b, a in zip(ends, starts, strict=True)])


def _collect(
    text: str, out: Macros, skip: frozenset[str], code: bool, budget: Budget, depth: int,
    spans: list[tuple[int, int]] | None = None,
) -> None:  # fmt: skip
    pos = 0
    for d in iter_definitions(text):
        _run_definers(text, pos, d.start, out, skip, code, budget, depth)
        pos = d.end
        _add(d, out, skip, code)
        if spans is not None:
            spans.append((d.start, d.end))
    _run_definers(text, pos, len(text), out, skip, code, budget, depth)


def _run_definers(
    text: str, start: int, end: int, out: Macros, skip: frozenset[str], code: bool,
    budget: Budget, depth: int,
) -> None:  # fmt: skip
    if out.definers and depth < definers.MAX_DEPTH:
        for made in definers.uses(text, start, end, out, budget):
            _collect(made, out, skip, code, budget, depth + 1)


def _add(d: Definition, out: Macros, skip: frozenset[str], code: bool) -> None:
    if d.name in skip:
        return
    if isinstance(d.macro, Macro):
        out.raw[d.name] = Raw(d.macro.params, d.macro.body, d.explicit)
    if not d.usable:
        _hide(d, out)
        return
    mac = _strip_inner(d.macro)
    if not (code or _is_notation(mac)):
        _hide(d, out)
        return
    if opaque.draws(mac.begin.body if isinstance(mac, Env) else mac.body):
        _hide(d, out, drawing=True)
        return
    if isinstance(mac, Env):
        if not (d.provide and d.name in out.envs):
            out.envs[d.name] = mac
            out.opaque_envs.pop(d.name, None)
        return
    if d.provide and (d.name in out.commands or d.name in CONVERTED or d.name in out.opaque):
        return  # \providecommand never overrides
    out.opaque.pop(d.name, None)
    if d.kind == "let" and mac.body[1:] in out.commands:
        out.commands[d.name] = out.commands[mac.body[1:]]  # alias of a known macro
        definer = out.definers.get(mac.body[1:])
    else:
        out.commands[d.name] = mac
        raw = d.macro
        assert isinstance(raw, Macro)
        definer = raw if definers.is_definer(raw.body, _DEF_START, out.definers) else None
    if definer is not None:
        out.definers[d.name] = definer
    else:
        out.definers.pop(d.name, None)


def _hide(d: Definition, out: Macros, drawing: bool = False) -> None:
    """Make `d.name` opaque (see `opaque`): a drawing definition always (TeX uses the last
    one); one the expander cannot run only when it is new and no usable one came before."""
    if isinstance(d.macro, Env):
        if drawing or opaque.draws(d.macro.begin.body):
            out.envs.pop(d.name, None)
            out.opaque_envs[d.name] = d.macro.begin.params
        return
    if d.name in PROTECTED or not opaque.may_hide(d.name):
        return
    drawing = drawing or opaque.draws(d.macro.body)
    if not drawing and (d.renew or d.name in out.commands):
        return
    out.commands.pop(d.name, None)
    out.definers.pop(d.name, None)
    out.opaque[d.name] = drawing


def _without_definitions(body: str) -> str:
    """A body without the definitions it makes when used (`\\renewcommand\\arraystretch{2}` in an
    environment's begin code, `\\def#1{..}` in a definer's): TeX would run them; left in, they
    would reach the text. One level only, so nesting costs nothing more (the inner ones go with
    the outer)."""
    return remove_definitions(body)


def _strip_inner(mac: Macro | Env) -> Macro | Env:
    bodies = mac.begin.body + mac.end if isinstance(mac, Env) else mac.body
    if not _DEF_START.search(bodies):
        return mac
    if isinstance(mac, Env):
        begin = replace(mac.begin, body=_without_definitions(mac.begin.body))
        return replace(mac, begin=begin, end=_without_definitions(mac.end))
    return replace(mac, body=_without_definitions(mac.body))


def iter_definitions(text: str) -> Iterator[Definition]:
    """Every parsable definition in `text`, in order."""
    pos = 0
    while True:
        m = _DEF_START.search(text, pos)
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
    if not _DEF_START.search(text):
        return text
    out: list[str] = []
    pos = 0
    for d in iter_definitions(text):
        out.append(text[pos : d.start])
        pos = d.end
    out.append(text[pos:])
    return "".join(out)
