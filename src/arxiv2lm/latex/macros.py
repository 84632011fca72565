"""Collect a paper's own macro definitions and expand their uses.

Collected (from comment-free text): `\\newcommand`, `\\renewcommand`, `\\providecommand`,
`\\DeclareRobustCommand` (starred, `[n]` args, `[default]` first arg), `\\def` / `\\gdef` with
undelimited `#1#2` parameters, `\\let\\a\\b` / `\\let\\a=\\b`, `\\DeclareMathOperator` (->
`\\operatorname{..}`, starred -> `\\operatorname*`), `\\newenvironment` / `\\renewenvironment`.
Uses are found with one regex for control words plus a dict lookup, so `\\R` never touches
`\\Rightarrow`. Structural commands (sections, cite, ref, ...) are never redefined, and bodies
with `@` (package internals) are skipped.

>>> m = collect("\\\\newcommand{\\\\R}{\\\\mathbb{R}}")
>>> expand("$x\\\\in\\\\R$, $\\\\Rightarrow$", m).text
'$x\\\\in\\\\mathbb{R}$, $\\\\Rightarrow$'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from arxiv2lm.latex.includes import TooLarge
from arxiv2lm.latex.scan import CONTROL_WORD, read_arg, read_group, read_optional

_NAME = re.compile(r"\s*(?:\{\s*\\([A-Za-z@]+|.)\s*\}|\\([A-Za-z@]+|.))")
_DEF_START = re.compile(
    "|".join(
        [
            r"\\(?P<new>newcommand|renewcommand|providecommand|DeclareRobustCommand)"
            r"(?![A-Za-z@])\*?",
            r"\\(?P<def>[gex]?def)(?![A-Za-z@])",
            r"\\(?P<let>let)(?![A-Za-z@])",
            r"\\(?P<op>DeclareMathOperator)(?![A-Za-z@])(?P<star>\*?)",
            r"\\(?P<env>newenvironment|renewenvironment)(?![A-Za-z@])\*?",
        ]
    )
)
_NARGS = re.compile(r"\s*\[\s*(\d)\s*\]")
_DEF_PARAMS = re.compile(r"((?:#\d)*)\s*\{")
_PARAM = re.compile(r"#(#|[1-9])")
_ENDS_CONTROL_WORD = re.compile(r"\\[A-Za-z@]+$")
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
MAX_DEPTH = 32


@dataclass(frozen=True)
class Macro:
    nargs: int
    body: str
    default: str | None = None  # the optional first argument's default


@dataclass
class Macros:
    commands: dict[str, Macro] = field(default_factory=dict)
    envs: dict[str, tuple[Macro, str]] = field(default_factory=dict)  # begin macro, end body

    def __len__(self) -> int:
        return len(self.commands) + len(self.envs)


@dataclass
class Expanded:
    text: str
    expansions: int
    capped: bool


def _parse_def(
    text: str, m: re.Match[str]
) -> tuple[str, str, Macro | tuple[Macro, str], int] | None:
    """(kind, name, macro, end) for the definition starting at match `m`, or None."""
    i = m.end()
    if m.group("env"):
        g = read_group(text, i)
        if g is None:
            return None
        name, i = g[0].strip(), g[1]
    else:
        nm = _NAME.match(text, i)
        if nm is None:
            return None
        name, i = nm.group(1) or nm.group(2), nm.end()
    if m.group("let"):
        rest = re.match(r"\s*=?\s*(\\[A-Za-z@]+|\\.|[^\s])", text[i : i + 200])
        if rest is None:
            return None
        return "cmd", name, Macro(0, rest.group(1)), i + rest.end()
    if m.group("op"):
        g = read_group(text, i)
        if g is None:
            return None
        op = "\\operatorname*" if m.group("star") else "\\operatorname"
        return "cmd", name, Macro(0, op + "{" + g[0] + "}"), g[1]
    nargs, default = 0, None
    if m.group("def"):
        p = _DEF_PARAMS.match(text, i)
        if p is None:
            return None  # delimited parameters: not supported
        nargs = len(p.group(1)) // 2
        i = p.end() - 1
    else:
        n = _NARGS.match(text, i)
        if n:
            nargs, i = int(n.group(1)), n.end()
            opt = read_optional(text, i)
            if opt is not None:
                default, i = opt
    body = read_group(text, i)
    if body is None:
        return None
    if m.group("env"):
        end = read_group(text, body[1])
        if end is None:
            return None
        return "env", name, (Macro(nargs, body[0], default), end[0]), end[1]
    return "cmd", name, Macro(nargs, body[0], default), body[1]


def collect(text: str, into: Macros | None = None) -> Macros:
    """Add the definitions in comment-free `text` to `into` (later ones win)."""
    out = into if into is not None else Macros()
    for d in iter_definitions(text):
        if not d.usable:
            continue
        if isinstance(d.macro, tuple):
            out.envs[d.name] = d.macro
        elif d.kind == "provide" and d.name in out.commands:
            continue  # \providecommand never overrides
        elif d.kind == "let" and d.macro.body[1:] in out.commands:
            out.commands[d.name] = out.commands[d.macro.body[1:]]  # alias of a known macro
        else:
            out.commands[d.name] = d.macro
    return out


@dataclass(frozen=True)
class Definition:
    kind: str  # cmd | env | let | provide
    name: str
    macro: Macro | tuple[Macro, str]
    start: int
    end: int
    usable: bool  # False: structural names and package internals (`@`) are never expanded


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
        kind, name, mac, end = parsed
        pos = end
        body = mac[0].body + mac[1] if isinstance(mac, tuple) else mac.body
        usable = name not in PROTECTED and "@" not in body and "@" not in name
        if m.group("let") or m.group("new") == "providecommand":
            kind = "let" if m.group("let") else "provide"
        yield Definition(kind, name, mac, m.start(), end, usable)


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


@dataclass(frozen=True)
class _Template:
    """A macro body cut at its `#1`..`#9` and `##`, so a use is one join, not a regex pass."""

    pieces: tuple[str, ...]  # the body's text around the parameters (one more than params)
    params: tuple[int, ...]  # 1..9, or 0 for `##` (a literal `#`)
    spaced: tuple[bool, ...]  # a control word ends right before the parameter
    counts: tuple[int, ...]  # how often `#1`..`#9` occur (index 0 is `#1`)


def _template(body: str) -> _Template:
    """Cut `body` at its parameters.

    >>> _template("(#1,#2,#1,##)").counts
    (2, 1, 0, 0, 0, 0, 0, 0, 0)
    """
    pieces: list[str] = []
    params: list[int] = []
    spaced: list[bool] = []
    counts = [0] * 9
    pos = 0
    for p in _PARAM.finditer(body):
        k = 0 if p.group(1) == "#" else int(p.group(1))
        pieces.append(body[pos : p.start()])
        params.append(k)
        # a control word cannot span a parameter, so searching from the last one suffices
        spaced.append(_ENDS_CONTROL_WORD.search(body, pos, p.start()) is not None)
        if k:
            counts[k - 1] += 1
        pos = p.end()
    pieces.append(body[pos:])
    return _Template(tuple(pieces), tuple(params), tuple(spaced), tuple(counts))


def _substitute(mac: Macro, tpl: _Template, args: list[str]) -> str:
    """Put `args` in place of `#1..#9`. An argument that starts with a letter right after a
    control word gets a space (`\\lVert#1` with `x` is `\\lVert x`, not `\\lVertx`)."""
    if not args:
        return mac.body
    out = [tpl.pieces[0]]
    for k, spaced, piece in zip(tpl.params, tpl.spaced, tpl.pieces[1:], strict=True):
        if k == 0:
            out.append("#")
        else:
            a = args[k - 1] if k <= len(args) else ""
            if spaced and a[:1].isalpha():
                out.append(" ")
            out.append(a)
        out.append(piece)
    return "".join(out)


def _expanded_size(mac: Macro, tpl: _Template | None, args: list[str]) -> int:
    """An upper bound on the length of `_substitute(mac, tpl, args)` plus its trailing space,
    known before the string is built: body + each argument times its uses (+1 for the
    space that may precede each use)."""
    counts = tpl.counts if tpl is not None and args else ()
    return len(mac.body) + 1 + sum(n * (len(a) + 1) for n, a in zip(counts, args, strict=False))


def expand(
    text: str, macros: Macros, max_expansions: int = 20000, max_chars: int = 10**8
) -> Expanded:
    """Expand uses of `macros` in `text`, bounded by expansions and depth (`capped`).

    Raises TooLarge, before building it, when an expansion would take the characters
    produced past `max_chars`: one `\\newcommand` with 3,000 `#1` applied to a 250 KB
    argument would otherwise build 750 MB first and check after.
    """
    # n: expansions; caps: times a cap stopped a scan; deep: the deepest cap check so far
    state = {"n": 0, "caps": 0, "chars": 0, "deep": -1}
    if not macros.commands and not macros.envs:
        return Expanded(text, 0, False)

    templates: dict[str, _Template] = {}  # by body: each is cut once per document
    # substituted body -> (its expansion, expansions, chars, deepest check below it): papers
    # repeat a macro with the same arguments (60-90% of expansions in the real ones)
    memo: dict[str, tuple[str, int, int, int]] = {}

    def nested(rep: str, depth: int) -> str:
        """`run(rep, depth)`, or its earlier result where no cap could act differently: every
        check it makes sees fewer than `max_expansions` and a depth under MAX_DEPTH."""
        hit = memo.get(rep)
        if hit is not None:
            out, n, chars, reach = hit
            if state["n"] + n < max_expansions and depth + reach < MAX_DEPTH:
                state["n"] += n
                state["chars"] += chars
                state["deep"] = max(state["deep"], depth + reach)
                if state["chars"] > max_chars:  # where inside it passed: same error
                    raise TooLarge(f"macro expansion passed {max_chars} chars")
                return out
        n0, chars0, caps0, deep0 = state["n"], state["chars"], state["caps"], state["deep"]
        state["deep"] = depth - 1
        out = run(rep, depth)
        reach = state["deep"] - depth
        state["deep"] = max(deep0, state["deep"])
        if state["caps"] == caps0:
            memo[rep] = (out, state["n"] - n0, state["chars"] - chars0, reach)
        return out

    commands, envs = macros.commands, macros.envs

    def run(s: str, depth: int) -> str:
        out: list[str] = []
        pos = 0
        rescan = True
        while rescan:
            rescan = False
            for m in CONTROL_WORD.finditer(s, pos):
                name = m.group(1)
                if envs and (name == "begin" or name == "end"):
                    g = read_group(s, m.end())
                    env = envs.get(g[0].strip()) if g else None
                    if env is None or g is None:
                        continue
                    mac, end = (env[0] if name == "begin" else Macro(0, env[1])), g[1]
                else:
                    mac = commands.get(name)
                    if mac is None:
                        continue
                    end = m.end()
                state["deep"] = max(state["deep"], depth)
                if state["n"] >= max_expansions or depth >= MAX_DEPTH:
                    state["caps"] += 1
                    break
                args: list[str] = []
                if mac.default is not None:
                    opt = read_optional(s, end)
                    args.append(opt[0] if opt else mac.default)
                    end = opt[1] if opt else end
                ok = True
                while len(args) < mac.nargs:
                    a = read_arg(s, end)
                    if a is None:
                        ok = False
                        break
                    args.append(a[0])
                    end = a[1]
                if not ok:
                    continue
                tpl = None
                if args:
                    tpl = templates.get(mac.body)
                    if tpl is None:
                        tpl = templates[mac.body] = _template(mac.body)
                state["n"] += 1
                state["chars"] += _expanded_size(mac, tpl, args)
                if state["chars"] > max_chars:
                    raise TooLarge(f"macro expansion passed {max_chars} chars")
                rep = _substitute(mac, tpl, args) if tpl is not None else mac.body
                if (
                    rep[-1:].isalpha()
                    and s[end : end + 1].isalpha()
                    and rep.rsplit("\\", 1)[-1].isalpha()
                ):
                    rep += " "  # `\foo` -> `\bar` followed by a letter must not become `\barx`
                out.append(s[pos : m.start()])
                out.append(nested(rep, depth + 1) if "\\" in rep else rep)
                pos = end
                # rescan past the arguments: the control words inside them were read by the
                # expansion, not again here only to be skipped (3x fewer reads when nested)
                rescan = True
                break
        out.append(s[pos:])
        return "".join(out)

    return Expanded(run(text, 0), state["n"], state["caps"] > 0)
