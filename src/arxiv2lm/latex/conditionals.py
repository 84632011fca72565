"""Evaluate the TeX conditionals a document decides; keep the first branch of the others.

Decided: `\\iftrue`/`\\iffalse`; switches of `\\newif\\ifX` (or `\\newboolean`, `\\newbool`,
`\\let\\ifX\\iftrue`) as set by `\\Xtrue`, `\\Xfalse`, `\\setboolean`, ... earlier in the text;
etoolbox toggles (`\\iftoggle{x}{..}{..}`) and booleans (`\\ifbool`); ifthen's `\\ifthenelse`
on `\\boolean{x}`, `\\equal{a}{b}` or `\\isundefined{\\foo}` (with `\\not`); `\\ifdefined\\foo`,
`\\ifcsname foo\\endcsname`, `\\ifx\\foo\\undefined`, `\\expandafter\\ifx\\csname foo\\endcsname
\\relax`, `\\@ifundefined{foo}`, etoolbox's `\\ifdef`/`\\ifcsdef` (and `un` forms),
`\\@ifpackageloaded`/`\\@ifclassloaded`; `\\ifnum`, `\\ifdim`, `\\ifodd`, `\\if` on literals. A
name is defined when the text defined it earlier (`\\newcommand`, `\\def`, `\\let`, ...;
`\\usepackage{x}` defines `\\ver@x.sty`) or the caller names it (a paper's own .sty files);
any other name with `@` belongs to a package and is unknown; any other name is undefined.
Every other conditional (`\\ifmmode`, `\\ifcase`, `\\ifpdf`, `\\ifnum` on a counter) keeps its
first branch and is counted `unknown`. The pass runs on the whole document, after its files are
inlined; `strip_literal` removes `\\iffalse` blocks from each file before (`comments`).

Nesting is TeX's, with one safety rule. Only TeX's conditionals nest: the primitives, switches
declared earlier, and package switches (`\\ifpdf`, `\\ifxetex`, `\\ifCLASSOPTION..`, `\\if@..`);
`\\iff` or an undeclared `\\ifdraft` is plain text. A conditional pairs only with an `\\else`/
`\\or`/`\\fi` of its own brace group (no paper of the dev set crosses one). An opener whose group
or text ends first loses its own tokens and keeps all its text; a stray `\\else`/`\\fi` is
removed (an `\\or` too, when its `\\ifcase` has no `\\fi`); both are counted `unbalanced`, and
nothing else is deleted for them. Verbatim and `\\verb` are opaque. Linear time: one regex
pass with a stack, then one walk.

>>> evaluate("\\\\newif\\\\ifdraft A \\\\ifdraft B\\\\else C\\\\fi.").text
'A C.'
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from arxiv2lm.latex.comments import VERBATIM_ENVS
from arxiv2lm.latex.texstate import (
    DECLARING,
    DECLARING_STARTS,
    FLAGS,
    PRIMITIVES,
    Names,
    State,
    W,
    decide,
    decide_args,
    declaration,
    declared,
)

__all__ = ["Evaluated", "Names", "declared", "evaluate", "strip_literal"]

# Switches of packages and classes a paper loads but rarely ships: conditionals, value unknown.
_PACKAGE_SWITCH = re.compile(
    "|".join(
        [
            r"pdf(?:tex)?",  # ifpdf, iftex
            r"xetex|luatex|vtex",
            r"(?:PDF|Xe|Lua)TeX",  # iftex's capitalised forms
            r"CLASS(?:OPTION|INFO)[A-Za-z@]*",  # IEEEtran
            r"@[A-Za-z@]+",  # \if@twocolumn, \if@tempswa: LaTeX internals
        ]
    )
)
# `\name{test}{then}{else}`; the `not`/`un` forms swap the branches.
ARG_FORMS = frozenset(["iftoggle", "nottoggle", "ifbool", "notbool", "ifthenelse",
    "@ifundefined", "@ifpackageloaded", "@ifclassloaded", "ifdef", "ifundef", "ifcsdef",
    "ifcsundef"])  # fmt: skip
_VERBATIM = "|".join(re.escape(e) for e in VERBATIM_ENVS)
_TRUE_FALSE = r"(?=[A-Za-z@]++(?:(?<=[A-Za-z@]true)|(?<=[A-Za-z@]false)))"
# Braces, and after a backslash the tokens that matter. The top level is three literals, so
# re skips the text between them in C (named groups at the top cost ~1 us a character).
ALTERNATIVES = [
    r"(?P<ESC>[\\{}])",  # `\\`, `\{`, `\}`: no group, no command after
    rf"(?P<COND>(?P<cond>@?if[A-Za-z@]*|nottoggle|notbool){W})",
    rf"(?P<ELSE>else{W})",
    rf"(?P<OR>or{W})",
    rf"(?P<FI>fi{W})",
    r"(?P<VERB>verb\*?(?P<vd>[^A-Za-z\s*])[^\n]*?(?P=vd))",
    rf"(?P<VENV>begin\{{(?P<venv>{_VERBATIM})\}}(?s:.*?\\end\{{(?P=venv)\}}|.*))",
    *DECLARING,
    r"(?P<CSX>expandafter\s*\\ifx\s*\\csname\s*(?P<csx>[A-Za-z@]+)\s*\\endcsname"
    rf"\s*\\relax{W})",
    # \Xtrue of a \newif: a word that ends so (the lookahead tells in one pass, where the
    # lazy name alone tries every split of every word)
    rf"(?P<SET>{_TRUE_FALSE}(?P<set>[A-Za-z@]+?)(?P<val>true|false){W})",
]
# What each alternative starts with, tried before them: a literal first is checked in C and
# skipped at once, where each named group is entered (2.4x faster on papers). A superset:
# `tests/latex/test_conditionals.py` checks that every alternative's tokens start so.
STARTS = [
    r"[\\{}]",
    "@?if",
    "not",
    "else",
    "or",
    "fi",
    "verb",
    "begin",
    *DECLARING_STARTS,
    "expandafter",
    _TRUE_FALSE[3:-1],
]
_BACKSLASHED = r"\\(?=" + "|".join(STARTS) + ")(?:" + "|".join(ALTERNATIVES) + ")"
_TOKEN = re.compile(r"\{|\}|" + _BACKSLASHED)
# The same tokens but braces: a brace match is one character that no other token starts at,
# so both find the same other tokens. Braces matter only to conditionals; a text with none
# skips them (most of a paper's tokens are braces, each a Python step).
_NO_BRACES = re.compile(_BACKSLASHED)
# Found before any COND, CSX, ELSE, OR or FI token (a superset: one C search decides).
_MAYBE_CONDITIONAL = re.compile(
    "|".join(
        [
            r"\\@?if",
            r"\\not(?:toggle|bool)",
            r"\\expandafter",
            rf"\\(?:else|or|fi){W}",
        ]
    )
)
# Found before any NEWIF, LETIF or FLAG token: with no conditional and no switch declared
# outside, the only tokens that would change the text (a superset: one C search decides)
_SWITCH = re.compile(r"\\(?:newif|let\s*\\if|" + "|".join(FLAGS) + ")")
_SLOT = {"ELSE": 0, "OR": 1, "FI": 2}  # in an opener's [else, or, fi]
_AFTER_WORD = re.compile(r"[ \t]*+(?:\n[ \t]*+(?!\n))?")  # TeX skips these after a word
_BLANKS = re.compile(r"\s*")
_BLANK = frozenset(" \t\n")


@dataclass(frozen=True)
class Evaluated:
    text: str
    decided: int  # conditionals whose test the text decides
    unknown: int  # conditionals whose first branch was kept for want of a decision
    unbalanced: int  # openers without their `\fi`, `\else`/`\fi` without their opener


@dataclass
class _Structure:
    """Pass 1: the tokens that matter, in order, as parallel lists (a million tuples would
    cost the garbage collector more than the pass), and how they pair."""

    kind: list[str] = field(default_factory=list)  # open, csx, arg, ELSE/OR/FI, switch, toggle, def
    start: list[int] = field(default_factory=list)
    end: list[int] = field(default_factory=list)
    # open/csx/arg: the name; switch/toggle: (name, value, provide, *names defined); def: names
    payload: list[object] = field(default_factory=list)
    link: list[int] = field(default_factory=list)  # opener: its `\fi`; ELSE/OR/FI: its opener
    else_of: dict[int, int] = field(default_factory=dict)  # opener -> its `\else`
    or_of: dict[int, int] = field(default_factory=dict)  # `\ifcase` -> its first `\or`
    close_of: dict[int, int] = field(default_factory=dict)  # `{` position -> its `}`
    ambiguous: list[int] = field(default_factory=list)  # undeclared `\ifX` before each token

    def unmatched(self, opener: int) -> None:
        """`opener` has no `\\fi`: its `\\else` and `\\or` are stray."""
        for j in (self.else_of.get(opener, -1), self.or_of.get(opener, -1)):
            if j >= 0:
                self.link[j] = -1


def _kind_of(name: str, switches: set[str]) -> str:
    """How the pass reads `\\name`: open (a conditional), arg (a `{test}{..}{..}` form), amb
    (undeclared here: perhaps a switch another file declares), or "" (a command that only
    looks like one: `\\@ifnextchar`, `\\iff`)."""
    if name in ARG_FORMS:
        return "arg"
    if name.startswith("@") or name == "iff":  # `\@ifnextchar`, amsmath's `\iff`: commands
        return ""
    if name in PRIMITIVES or name[2:] in switches or _PACKAGE_SWITCH.fullmatch(name, 2):
        return "open"
    return "amb"


def _token(m: re.Match[str], kind: str, switches: set[str]) -> tuple[str, object] | None:
    """(kind, payload) of a stateful token (a switch or toggle set, a definition), or None."""
    if kind == "SET":
        name = m.group("set")
        return ("switch", (name, m.group("val") == "true", False)) if name in switches else None
    names, switch = declaration(m)
    if switch:
        switches.add(switch)
    if kind == "FLAG":
        table, value, provide = FLAGS[m.group("flag")]
        value = (m.group("fval") == "true") if value is None and m.group("fval") else value
        return None if value is None else (table, (m.group("fname"), value, provide))
    if kind in ("NEWIF", "LETIF"):
        return "switch", (switch, m.group("letval") == "true", False, *names)
    return "def", names


def _structure(text: str, switches: set[str]) -> _Structure:
    st = _Structure()
    link, close_of, else_of, payload = st.link, st.close_of, st.else_of, st.payload
    braces: list[int] = []
    conds: list[int] = []  # open conditionals, by token index
    depths: list[int] = []  # and their brace depths
    kinds: dict[str, str] = {}  # `_kind_of` by name, until a switch is declared
    n_amb = 0
    kind_, start_, end_, payload_, link_, amb_ = (
        st.kind.append, st.start.append, st.end.append, payload.append, link.append,
        st.ambiguous.append,
    )  # fmt: skip

    def add(kind: str, m: re.Match[str], value: object) -> None:
        kind_(kind)
        start_(m.start())
        end_(m.end())
        payload_(value)
        link_(-1)
        amb_(n_amb)

    conditional = _MAYBE_CONDITIONAL.search(text) is not None
    for m in (_TOKEN if conditional else _NO_BRACES).finditer(text):
        kind = m.lastgroup
        if kind is None:  # a brace
            pos = m.start()
            if text[pos] == "{":
                braces.append(pos)
            elif braces:
                close_of[braces.pop()] = pos
                while depths and depths[-1] > len(braces):
                    depths.pop()
                    st.unmatched(conds.pop())
            continue
        i = len(link)
        if kind == "COND" or kind == "CSX":
            name = m.group(kind.lower())
            how = "csx" if kind == "CSX" else kinds.get(name)
            if how is None:
                how = kinds[name] = _kind_of(name, switches)
            if how == "amb":
                n_amb += 1
            elif how:
                if how != "arg":
                    conds.append(i)
                    depths.append(len(braces))
                add(how, m, name)
        elif kind in _SLOT:
            top = conds[-1] if depths and depths[-1] == len(braces) else -1
            if kind == "OR" and (top < 0 or payload[top] != "ifcase" or top in else_of):
                continue  # ifthen's `\or`, a case after an `\else`, or TeX's error
            add(kind, m, None)
            if top < 0:
                continue
            if kind == "FI":
                link[top], link[i] = i, top
                conds.pop()
                depths.pop()
            elif kind == "ELSE" and top not in else_of:
                else_of[top], link[i] = i, top
            elif kind == "OR" and top not in st.or_of:
                st.or_of[top], link[i] = i, top
        elif kind not in ("ESC", "VERB", "VENV"):
            tok = _token(m, kind, switches)
            if tok is not None:
                add(tok[0], m, tok[1])
            if kind in ("NEWIF", "LETIF", "FLAG"):
                kinds.clear()  # perhaps a new switch
    for opener in set(conds) & (else_of.keys() | st.or_of.keys()):
        st.unmatched(opener)
    st.ambiguous.append(n_amb)
    return st


def _groups(text: str, i: int, close_of: dict[int, int]) -> list[tuple[int, int]] | None:
    """The three `{..}` groups (brace positions) from `i`, or None."""
    out = []
    for _ in range(3):
        j = _BLANKS.match(text, i).end()
        if j not in close_of:
            return None
        out.append((j, close_of[j]))
        i = close_of[j] + 1
    return out


def _walk(text: str, st: _Structure, state: State, literal: bool) -> Evaluated:
    """Pass 2: read the tokens in order, decide each conditional reached, cut what goes."""
    kinds, starts, ends, payloads, link = st.kind, st.start, st.end, st.payload, st.link
    cuts: list[int] = []  # start, end, start, end, ...
    pending: list[tuple[int, int]] = []  # (end of a kept argument, end of what follows it)
    live: set[int] = set()  # openers decided: their `\else`, `\or`, `\fi` are ours
    count = {"decided": 0, "unknown": 0, "unbalanced": 0}

    def cut(a: int, b: int) -> None:
        if text[b : b + 1] in _BLANK and text[b - 1].isalnum():  # TeX skips blanks after a word
            b = _AFTER_WORD.match(text, b).end()
        cuts.extend((a, b))

    i, n = 0, len(kinds)
    while pending or i < n:
        if pending and (i >= n or starts[i] >= pending[-1][0]):
            at, end = pending.pop()
            cut(at, end)
            i = bisect_left(starts, end, i)
            continue
        kind, s, e, payload = kinds[i], starts[i], ends[i], payloads[i]
        i += 1
        if kind in _SLOT:
            opener = link[i - 1]
            if opener < 0 and not literal:
                cut(s, e)
                count["unbalanced"] += 1
            elif opener in live and kind == "FI":
                cut(s, e)
            elif opener in live:  # the end of a kept branch: drop the rest, through `\fi`
                fi = link[opener]
                cut(s, ends[fi])
                i = fi + 1
        elif kind == "open" or kind == "csx":
            fi = link[i - 1]
            if literal and (
                payload not in ("iftrue", "iffalse")
                or fi < 0
                or st.ambiguous[fi] > st.ambiguous[i - 1]  # an `\ifX` undeclared here
            ):
                continue
            if kind == "csx":
                defined = state.is_defined(str(payload))
                value, end = (None if defined is None else not defined), e
            else:
                value, end = decide(str(payload), text, e, state)
            if end > e and i < n and end > starts[i]:
                end = starts[i]  # a test never swallows the next token
            if fi < 0:
                cut(s, end)
                count["unbalanced"] += 1
                continue
            count["unknown" if value is None else "decided"] += 1
            live.add(i - 1)
            else_ = st.else_of.get(i - 1, -1)
            if value is not False:
                cut(s, end)
            elif else_ >= 0:
                cut(s, ends[else_])
                i = else_ + 1
            else:
                cut(s, ends[fi])
                i = fi + 1
        elif literal:
            continue
        elif kind == "arg":
            g = _groups(text, e, st.close_of)
            if g is None:
                continue  # not the form TeX reads: plain text
            (t0, t1), (a0, a1), (b0, b1) = g
            value = decide_args(str(payload), text[t0 + 1 : t1], state)
            count["unknown" if value is None else "decided"] += 1
            keep = (a0, a1) if value is not False else (b0, b1)
            cut(s, keep[0] + 1)
            pending.append((keep[1], b1 + 1))
            i = bisect_left(starts, keep[0] + 1, i)
        elif kind == "def":
            state.defined.update(payload)  # type: ignore[call-overload]
        else:  # a switch or toggle set
            name, value, provide, *names = payload  # type: ignore[misc]
            table = state.switch if kind == "switch" else state.toggle
            table[name] = table.get(name, value) if provide else value
            state.defined.update(names)
            cut(s, e)
    pieces = [text[b:a] for b, a in zip([0, *cuts[1::2]], [*cuts[::2], len(text)], strict=True)]
    return Evaluated("".join(pieces), **count)


def evaluate(text: str, outside: Names | None = None) -> Evaluated:
    """`text` with its conditionals evaluated (see the module doc); `outside`: names defined
    elsewhere, as `declared` finds them.

    >>> r = evaluate("\\\\ifmmode a\\\\else b\\\\fi, \\\\ifdefined\\\\foo c\\\\else d\\\\fi")
    >>> r.text, r.decided, r.unknown
    ('a, d', 1, 1)
    """
    outside = outside or Names()
    if not outside.switches and not _MAYBE_CONDITIONAL.search(text) and not _SWITCH.search(text):
        return Evaluated(text, 0, 0, 0)  # nothing to decide, no switch or toggle to set
    st = _structure(text, set(outside.switches))
    state = State(outside, switch=dict.fromkeys(outside.switches))
    return _walk(text, st, state, literal=False)


def strip_literal(text: str) -> str:
    """`text` without its `\\iffalse` blocks (and `\\iftrue`'s `\\else` parts), one file at a
    time: a block holding an `\\ifX` this file does not declare waits for `evaluate`, which
    sees every file's `\\newif`.

    >>> strip_literal("a \\\\iffalse x \\\\ifx\\\\y\\\\z q\\\\fi hidden \\\\fi b")
    'a b'
    """
    if "\\iffalse" not in text and "\\iftrue" not in text:
        return text
    return _walk(text, _structure(text, set()), State(Names()), literal=True).text
