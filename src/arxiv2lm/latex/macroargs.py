"""What a macro takes, and reading those arguments at a use.

A macro's parameters are a tuple of `Param`s, one per argument form, so `\\newcommand`,
`\\def` with delimited parameters and xparse specs share one reader:

- `m` one argument (a brace group or one token; empty before a `}`, as TeX recovers);
  `o` `[..]`, `default` when absent; `g` an optional `{..}`; `s` a star and `t` a given
  token (`\\BooleanTrue` / `\\BooleanFalse`);
  `r`/`d` text between `open` and `close` (required / optional), nested pairs kept;
  `v` verbatim between a repeated character (or in braces); `b` an environment's body;
- `u` TeX-delimited: everything up to `close` at brace depth 0, within the paragraph (TeX's
  "runaway argument" for a non-`\\long` macro); `l` literal text that must come first
  (`\\def\\pt(#1){..}`).

An absent optional argument without a default reads as `-NoValue-`, as in xparse.

>>> r = read_args("[a]{b} c", 0, (Param("o", "x"), Param("m")), Budget(100))
>>> r.status, r.args, r.end
(0, ['a', 'b'], 6)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from arxiv2lm.latex.scan import read_arg, read_group

TRUE, FALSE, NOVALUE = "\\BooleanTrue", "\\BooleanFalse", "-NoValue-"
OK, FAIL, STARVED = 0, 1, 2  # read statuses; STARVED: the text ended before all were read
_WS = re.compile(r"[ \t]*\n?[ \t]*")  # TeX skips blanks, not a blank line, before arguments
_CS_AT = re.compile(r"\\[A-Za-z@]+")
OPTIONAL = frozenset("osgtd")  # kinds that may be absent
_PAIRS = {"o": ("[", "]"), "g": ("{", "}")}  # the delimiters of `o` and `g` arguments


@dataclass(frozen=True)
class Param:
    kind: str  # m o g s t r d v b u l (see the module docstring)
    default: str | None = None  # o g r d: the value when absent (None: -NoValue-)
    open: str = ""  # t: the token; r d: the opening character; l: the literal text
    close: str = ""  # r d: the closing character; u: the delimiter text


@dataclass(frozen=True)
class Macro:
    params: tuple[Param, ...]
    body: str
    # computes the replacement from the arguments (`\\IfBooleanTF`): no template, not counted
    builtin: Callable[[list[str]], str] | None = field(default=None, compare=False)
    opaque: bool = False  # a use of an `opaque` macro: `builtin` removes it (counted)


@dataclass(frozen=True)
class Env:
    begin: Macro
    end: str
    # the end code uses an argument or a `b` parameter takes the body: the whole
    # `\\begin..\\end` is one expansion (`body_at`: the body's index among the arguments)
    whole: bool = False
    body_at: int | None = None
    drop: bool = False  # `opaque`: the whole `\\begin..\\end`, content included, goes


class Raw(NamedTuple):
    """A command's definition as written, for `opaque.signature`: `explicit` when its form
    fixes the arguments (an xparse spec, even empty), so its body is not followed. (A tuple:
    one is made per definition of every loaded file.)"""

    params: tuple[Param, ...]
    body: str
    explicit: bool = False


@dataclass
class Macros:
    commands: dict[str, Macro] = field(default_factory=dict)
    envs: dict[str, Env] = field(default_factory=dict)
    # commands whose use defines commands, as written (`definers`); `commands` holds them
    # without their definitions, as they act in the text
    definers: dict[str, Macro] = field(default_factory=dict)
    definer_uses: int = 0
    # every command definition as written, `@` names and unusable ones too (`opaque`)
    raw: dict[str, Raw] = field(default_factory=dict)
    # commands (-> whether the definition draws) and environments (-> parameters) whose
    # uses are removed (`opaque`): never in `commands` / `envs` at the same time
    opaque: dict[str, bool] = field(default_factory=dict)
    opaque_envs: dict[str, tuple[Param, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.commands) + len(self.envs)


@dataclass
class Budget:
    """Characters that failed reads may still scan: `\\foo{` or a `\\def` delimiter that never
    comes, used 10^5 times, would otherwise rescan the rest of the text each time."""

    left: int

    def charge(self, n: int) -> None:
        self.left -= n


class Read(NamedTuple):
    """(A tuple: one is made per argument read, 10^4 in a paper.)"""

    status: int  # OK, FAIL, STARVED
    args: list[str]
    end: int
    k: int  # parameters read; STARVED resumes at params[k]


@lru_cache(maxsize=512)
def delimiter_pattern(delim: str) -> str:
    """A regex for TeX delimiter text: a control word ends at a non-letter and takes the blanks
    after it (TeX's tokenizer drops them), a blank run matches any blank run."""
    parts: list[str] = []
    for m in re.finditer(r"\\[A-Za-z@]+|\\.|\s+|.", delim, re.S):
        t = m.group(0)
        if t.isspace():
            parts.append(r"\s+")
        elif _CS_AT.fullmatch(t):
            parts.append(re.escape(t) + r"(?![A-Za-z@])[ \t]*")
        else:
            parts.append(re.escape(t))
    return "".join(parts)


@lru_cache(maxsize=512)
def _until(delim: str) -> re.Pattern[str]:
    """Tokens of a delimited argument: the delimiter, paragraph ends, groups, escapes."""
    alts = [
        "(?P<d>" + delimiter_pattern(delim) + ")",
        r"(?P<par>\\par(?![A-Za-z@])|\n[ \t]*\n)",
        r"\\[A-Za-z@]+[ \t]*",
        r"\\.",
        r"(?P<b>[{}])",
    ]
    return re.compile("|".join(alts), re.S)


@lru_cache(maxsize=256)
def _pair(open_: str, close: str) -> re.Pattern[str]:
    return re.compile(r"\\.|[{}]|" + re.escape(open_) + "|" + re.escape(close), re.S)


def _read_until(s: str, i: int, delim: str, budget: Budget) -> tuple[str, int] | None:
    """The TeX-delimited argument at `s[i:]`: up to `delim` at brace depth 0, in this paragraph."""
    depth, last = 0, len(s)
    for m in _until(delim).finditer(s, i):
        if m.group("d") is not None and depth == 0:
            arg = s[i : m.start()].strip()
            g = read_group(arg, 0) if arg.startswith("{") else None
            return (g[0] if g and g[1] == len(arg) else arg), m.end()
        if m.group("par") is not None:
            last = m.end()
            break
        b = m.group("b")
        if b is not None:
            depth += 1 if b == "{" else -1
            if depth < 0:
                last = m.end()
                break
    budget.charge(last - i)
    return None


def _read_between(
    s: str, j: int, open_: str, close: str, nest: bool, budget: Budget
) -> tuple[str, int] | None:
    """Text from `s[j] == open_` to its `close` (braces hide both; `nest`: pairs nest)."""
    depth, braces, last = 0, 0, len(s)
    for m in _pair(open_, close).finditer(s, j + 1):
        t = m.group(0)
        if t == "{":
            braces += 1
        elif t == "}":
            braces -= 1
            if braces < 0:
                last = m.end()
                break
        elif braces:
            continue
        elif t == close and depth == 0:
            return s[j + 1 : m.start()], m.end()
        elif t == close:
            depth -= 1
        elif t == open_ and nest:
            depth += 1
    budget.charge(last - j)
    return None


def _read_verbatim(s: str, j: int, budget: Budget) -> tuple[str, int] | None:
    """xparse `v`: `|..|` with any repeated character, or `{..}`, on one line."""
    if s[j] == "{":
        g = read_group(s, j)
        if g is None:
            budget.charge(len(s) - j)
        return g
    eol = s.find("\n", j + 1)
    k = s.find(s[j], j + 1, eol if eol >= 0 else len(s))
    if k < 0 or s[j].isalpha():
        return None
    return s[j + 1 : k], k + 1


def _absent(p: Param) -> str:
    if p.kind in "st":
        return FALSE
    return NOVALUE if p.default is None else p.default


def read_args(
    s: str, i: int, params: tuple[Param, ...], budget: Budget, k: int = 0,
    args: list[str] | None = None,
) -> Read:  # fmt: skip
    """Read `params[k:]` at `s[i:]` (after `args` already read)."""
    got = list(args) if args else []
    n = len(s)
    while k < len(params):
        p = params[k]
        kind = p.kind
        if i < n and s[i] not in " \t\n":  # no blanks to skip (most uses)
            j = i
        else:
            ws = _WS.match(s, i)
            j = ws.end() if ws else i
            if j >= n:
                return Read(STARVED, got, i, k)
        c = s[j]
        if kind == "m" and c == "}":
            # `{\absent}`: TeX stops with "Argument of \absent has an extra }" and goes on
            # with an empty argument; the author's PDF shows the macro with nothing in it
            got.append("")
            i = j
        elif kind == "m":
            a = read_group(s, j) if c == "{" else read_arg(s, i)
            if a is None:
                if c == "{":  # no closing brace: TeX's runaway argument
                    budget.charge(n - j)
                return Read(FAIL, got, i, k)
            got.append(a[0])
            i = a[1]
        elif kind == "u":  # right after the name, blanks are not part of it (TeX drops them)
            a = _read_until(s, j if k == 0 else i, p.close, budget)
            if a is None:
                return Read(FAIL, got, i, k)
            got.append(a[0])
            i = a[1]
        elif kind == "l":
            lit = re.compile(delimiter_pattern(p.open)).match(s, j)
            if lit is None:
                return Read(FAIL, got, i, k)
            i = lit.end()
        elif kind == "s" or kind == "t":
            tok = "*" if kind == "s" else p.open
            hit = s.startswith(tok, j) and not (
                _CS_AT.fullmatch(tok) and s[j + len(tok) : j + len(tok) + 1].isalpha()
            )
            got.append(TRUE if hit else FALSE)
            i = j + len(tok) if hit else i
        elif kind == "v":
            a = _read_verbatim(s, j, budget)
            if a is None:
                return Read(FAIL, got, i, k)
            got.append(a[0])
            i = a[1]
        else:  # o g r d: optional or delimited
            open_, close = _PAIRS.get(kind, (p.open, p.close))
            if c != open_:
                if kind == "r" and p.default is None:
                    return Read(FAIL, got, i, k)
                got.append(_absent(p))
            else:
                if kind == "g":
                    a = read_group(s, j)
                    if a is None:
                        budget.charge(n - j)
                else:
                    a = _read_between(s, j, open_, close, kind != "o" and open_ != close, budget)
                if a is None:
                    return Read(FAIL, got, i, k)
                got.append(a[0])
                i = a[1]
        k += 1
    return Read(OK, got, i, k)


def at_end(r: Read, params: tuple[Param, ...]) -> Read:
    """A STARVED read at the very end of the document: absent optional arguments take their
    defaults; a missing required one fails."""
    if r.status != STARVED:
        return r
    rest = params[r.k :]
    if any(p.kind not in OPTIONAL for p in rest):
        return Read(FAIL, r.args, r.end, r.k)
    return Read(OK, r.args + [_absent(p) for p in rest], r.end, len(params))
