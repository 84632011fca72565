"""What a TeX document has said so far, and the value of a conditional's test against it.

`State` holds the names defined (`\\newcommand`, `\\def`, `\\let`, `\\newenvironment`, ...),
`\\newif` switches and etoolbox toggles, in reading order; `decide` reads and decides a primitive's
test (`\\ifx\\foo\\undefined`, `\\ifnum 1<2`), `decide_args` the test of a `\\name{test}{..}{..}`
form (`\\iftoggle`, `\\ifthenelse`, `\\@ifundefined`). A name is defined when the document
defined it earlier or `Names` lists it; a name with `@` belongs to a package: unknown (None).

>>> decide("ifx", "\\\\foo\\\\undefined", 0, State(Names()))
(True, 14)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

PRIMITIVES = frozenset(["if", "ifx", "ifnum", "ifdim", "ifodd", "ifvmode", "ifhmode", "ifmmode",
    "ifinner", "ifcat", "ifcase", "ifeof", "iftrue", "iffalse", "ifvoid", "ifhbox", "ifvbox",
    "ifdefined", "ifcsname", "iffontchar"])  # fmt: skip
_NEW_SWITCH = frozenset(["newboolean", "provideboolean", "newbool", "providebool"])
_NEGATED = frozenset(["nottoggle", "notbool", "ifundef", "ifcsundef", "@ifundefined"])
DEFINERS = ["newcommand", "renewcommand", "providecommand", "DeclareRobustCommand",
    "NewDocumentCommand", "RenewDocumentCommand", "ProvideDocumentCommand",
    "DeclareDocumentCommand", "def", "gdef", "edef", "xdef", "let", "chardef", "mathchardef",
    "countdef", "newcount", "newdimen", "newskip", "newlength", "newsavebox", "newbox", "newtoks",
    "DeclareMathOperator", "font"]  # fmt: skip
# toggle and boolean commands: (table, value: True/False, or None for the `{true}` argument,
# provide: keep a value already set)
FLAGS = {"newtoggle": ("toggle", False, False), "providetoggle": ("toggle", False, True),
    "toggletrue": ("toggle", True, False), "togglefalse": ("toggle", False, False),
    "settoggle": ("toggle", None, False), "newboolean": ("switch", False, False),
    "provideboolean": ("switch", False, True), "setboolean": ("switch", None, False),
    "newbool": ("switch", False, False), "providebool": ("switch", False, True),
    "booltrue": ("switch", True, False), "boolfalse": ("switch", False, False),
    "setbool": ("switch", None, False)}  # fmt: skip
W = r"(?![A-Za-z@])"  # the end of a control word
# After a backslash: alternatives that declare or define a name (alone in `_DECLARE`).
DECLARING = [
    rf"(?P<LETIF>let\s*\\if(?P<letif>[A-Za-z@]+)\s*=?\s*\\if(?P<letval>true|false){W})",
    r"(?P<NEWIF>newif\s*\\if(?P<newif>[A-Za-z@]+))",
    rf"(?P<FLAG>(?P<flag>{'|'.join(FLAGS)})\s*\{{\s*(?P<fname>[^{{}}\\]*?)\s*\}}"
    r"(?:\s*\{\s*(?P<fval>true|false)\s*\})?)",
    rf"(?P<DEF>(?:{'|'.join(DEFINERS)}){W}\*?\s*"
    r"(?:\{\s*\\(?P<dname>[A-Za-z@]+)\s*\}|\\(?P<dname2>[A-Za-z@]+)))",
    r"(?P<ENV>(?:newenvironment|renewenvironment|newtheorem)\*?\s*\{\s*(?P<env>[A-Za-z@*]+)\s*\})",
    r"(?P<CTR>newcounter\s*\{\s*(?P<ctr>[A-Za-z@]+)\s*\})",
    r"(?P<CSDEF>cs[gex]?def\s*\{\s*(?P<csdef>[A-Za-z@]+)\s*\})",
    r"(?P<CSNAME>expandafter\s*\\[gex]?def\s*\\csname\s*(?P<csname>[A-Za-z@]+)\s*\\endcsname)",
    # loading defines `\ver@name.sty` (`.cls`), what `\@ifpackageloaded` tests
    r"(?P<USE>(?P<use>usepackage|RequirePackage|documentclass|LoadClass)\s*(?:\[[^\]{}]*\])?"
    r"\s*\{(?P<pkgs>[^{}\\]*)\})",
]
# What `DECLARING`'s alternatives start with, tested first: a literal is checked in C and
# skipped at once, where each named group would be entered (`conditionals.STARTS` too)
DECLARING_STARTS = [
    "let",
    "newif",
    *FLAGS,
    *DEFINERS,
    "newenvironment",
    "renewenvironment",
    "newtheorem",
    "newcounter",
    "cs",
    "expandafter",
    "usepackage",
    "RequirePackage",
    "documentclass",
    "LoadClass",
]
_DECLARE = re.compile(r"\\(?=" + "|".join(DECLARING_STARTS) + ")(?:" + "|".join(DECLARING) + ")")
_INT = r"(?:[-+]?\d+|\\[A-Za-z@]+(?:\s*\{[^{}]*\})?|#\d)"
_DIM = r"(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)\s*(?:pt|pc|in|bp|cm|mm|dd|cc|sp|em|ex)|" + _INT + ")"
_ONE = r"(?:\\[A-Za-z@]+|\\.|#\d|[^\s\\{}])"
_TESTS = {  # how each primitive reads its test
    "two": re.compile(rf"\s*({_ONE})\s*({_ONE})"),
    "int": re.compile(rf"\s*({_INT})\s*([<=>])\s*({_INT})"),
    "dim": re.compile(rf"\s*({_DIM})\s*([<=>])\s*({_DIM})"),
    "one": re.compile(rf"\s*({_INT})"),
    "name": re.compile(r"\s*\\([A-Za-z@]+|.)"),
    "csname": re.compile(r"\s*([A-Za-z@]+)\s*\\endcsname|[^{}]{0,200}?\\endcsname"),
    "font": re.compile(rf"\s*\\[A-Za-z@]+\s*({_INT})"),
}
_TEST_OF = {"if": "two", "ifcat": "two", "ifx": "two", "ifnum": "int", "ifdim": "dim",
            "ifodd": "one", "ifcase": "one", "ifvoid": "one", "ifhbox": "one", "ifvbox": "one",
            "ifeof": "one", "ifdefined": "name", "ifcsname": "csname",
            "iffontchar": "font"}  # fmt: skip
_UNDEFINED = ("\\undefined", "\\@undefined")
_NUMBER = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]*)")
_IFTHEN = re.compile(
    r"\s*(?P<not>\\not\s*)?(?:"
    + "|".join(
        [
            r"\\boolean\s*\{\s*(?P<boolean>[^{}\\]*?)\s*\}",
            r"\\equal\s*\{(?P<left>[^{}\\#]*)\}\s*\{(?P<right>[^{}\\#]*)\}",
            r"\\isundefined\s*(?:\{\s*\\(?P<u1>[A-Za-z@]+)\s*\}|\\(?P<u2>[A-Za-z@]+))",
        ]
    )
    + r")\s*"
)


@dataclass(frozen=True)
class Names:
    """Names defined outside the text (a paper's .sty files): commands and `\\newif` switches."""

    commands: frozenset[str] = frozenset()
    switches: frozenset[str] = frozenset()


def declaration(m: re.Match[str]) -> tuple[tuple[str, ...], str | None]:
    """(names defined, switch declared) by a `DECLARING` match."""
    kind = m.lastgroup
    if kind == "DEF":  # the most common: a definition (no switch, no other name)
        name = m.group("dname") or m.group("dname2")
        return ((name,) if name else ()), None
    switch = m.group("newif") or m.group("letif")
    if switch:
        return ("if" + switch, switch + "true", switch + "false"), switch
    if kind == "FLAG":
        return (), m.group("fname") if m.group("flag") in _NEW_SWITCH else None
    if kind == "ENV":
        return (m.group("env"), "end" + m.group("env")), None
    if kind == "USE":
        ext = ".cls" if m.group("use") in ("documentclass", "LoadClass") else ".sty"
        return tuple(f"ver@{p.strip()}{ext}" for p in m.group("pkgs").split(",")), None
    if kind == "CTR":
        return ("the" + m.group("ctr"), "c@" + m.group("ctr")), None
    names = m.group("dname") or m.group("dname2") or m.group("csdef") or m.group("csname")
    return (names,) if names else (), None


def declared(texts: Iterable[str]) -> Names:
    """Names that `texts` (comment-free .sty files, say) define or declare as switches.

    >>> sorted(declared(["\\\\newif\\\\ifdraft \\\\def\\\\R{x}"]).commands)
    ['R', 'draftfalse', 'drafttrue', 'ifdraft']
    """
    commands: set[str] = set()
    switches: set[str] = set()
    for text in texts:
        for m in _DECLARE.finditer(text):
            names, switch = declaration(m)
            commands.update(names)
            if switch:
                switches.add(switch)
    return Names(frozenset(commands), frozenset(switches))


@dataclass
class State:
    """What the text has said so far, in reading order."""

    outside: Names
    defined: set[str] = field(default_factory=set)
    switch: dict[str, bool | None] = field(default_factory=dict)  # None: declared outside
    toggle: dict[str, bool | None] = field(default_factory=dict)

    def is_defined(self, name: str) -> bool | None:
        if name in self.defined or name in self.outside.commands:
            return True
        # `@`: a package's internal, unknown; but a package the text does not load is not loaded
        return None if "@" in name and not name.startswith("ver@") else False


def _number(s: str) -> tuple[float, str] | None:
    m = _NUMBER.fullmatch(s)
    return (float(m.group(1)), m.group(2)) if m else None


def decide(name: str, text: str, end: int, state: State) -> tuple[bool | None, int]:
    """(value, or None when unknown; end of the test) of `\\name` ending at `end`."""
    kind = _TEST_OF.get(name)
    if kind is None:  # true, false, a mode, a switch, a package's switch
        if name in ("iftrue", "iffalse"):
            return name == "iftrue", end
        return (None if name in PRIMITIVES else state.switch.get(name[2:])), end
    m = _TESTS[kind].match(text, end)
    if m is None or name in ("ifcase", "ifcat") or kind in ("one", "font") and name != "ifodd":
        return None, m.end() if m else end
    if kind in ("name", "csname"):
        return (state.is_defined(m.group(1)) if m.group(1) else None), m.end()
    if kind == "two":
        a, b = m.group(1), m.group(2)
        if a == b and (name == "ifx" or a[0] not in "\\#"):
            return True, m.end()
        if name == "if":
            return (None if "\\" in a + b or "#" in a + b else False), m.end()
        other = b if a in _UNDEFINED else a if b in _UNDEFINED else ""
        known = state.is_defined(other[1:]) if other.startswith("\\") else None
        return (None if known is None else not known), m.end()
    x, y = _number(m.group(1)), _number(m.group(len(m.groups())))
    if x is None or y is None or x[1] != y[1]:
        return None, m.end()
    if name == "ifodd":
        return x[0] % 2 == 1, m.end()
    return {"<": x[0] < y[0], "=": x[0] == y[0], ">": x[0] > y[0]}[m.group(2)], m.end()


def decide_args(name: str, test: str, state: State) -> bool | None:
    """The value of `\\name{test}{..}{..}`, or None."""
    value: bool | None = None
    if name.endswith("toggle"):
        value = state.toggle.get(test.strip())
    elif name.endswith("bool"):
        value = state.switch.get(test.strip())
    elif name in ("ifdef", "ifundef"):
        m = re.fullmatch(r"\s*\\([A-Za-z@]+)\s*", test)
        value = state.is_defined(m.group(1)) if m else None
    elif name.endswith("loaded"):  # \@ifpackageloaded, \@ifclassloaded
        ext = ".cls" if name == "@ifclassloaded" else ".sty"
        value = state.is_defined(f"ver@{test.strip()}{ext}")
    elif name != "ifthenelse":  # \ifcsdef, \ifcsundef, \@ifundefined
        value = state.is_defined(test.strip())
    elif c := _IFTHEN.fullmatch(test):
        if c.group("boolean") is not None:
            value = state.switch.get(c.group("boolean"))
        elif c.group("left") is not None:
            value = c.group("left").strip() == c.group("right").strip()
        else:
            defined = state.is_defined(c.group("u1") or c.group("u2"))
            value = None if defined is None else not defined
        value = None if value is None else value != bool(c.group("not"))
    return None if value is None else value != (name in _NEGATED)
