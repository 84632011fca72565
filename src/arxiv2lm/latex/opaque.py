"""Own macros that cannot be expanded to text: their uses are removed whole, arguments included.

A macro of the paper's own sources (document, local .sty/.cls) is *opaque* when its
definition is one the expander does not run: the body draws (TikZ/pgf/picture code: no text
a reader sees as words), uses package internals (`@` names, pgfkeys), or, in a loaded file,
programs TeX (`macros._PROGRAMMING`). Leaving `\\dynkin[parabolic=1]{B}{}` in the text teaches
nothing; leaving its arguments (`B`, `parabolic=1`) after dropping the name is worse. So each
use is removed with the arguments its definition takes (`Expanded.dropped` counts them), in
text and in math alike (in math it leaves nothing: a picture has no formula).

The arguments are those TeX would read: the parameters of the definition (xparse specs,
`[n][default]`, `\\def` delimited parameters), then, for a parameterless body, those of the
LaTeX 2e idiom it ends with: `\\@ifstar\\a\\b` (a star, then `\\b`'s), `\\@ifnextchar[{\\a}{\\b}`
(an optional `[..]`), `\\@testopt\\a{x}` and `\\@dblarg\\a` (an optional `[..]`), or a tail
call to another macro (`\\let\\infer\\mpr@infer`), followed through the definitions of every
local file (`signature`).

An environment is opaque only when its begin code draws (`\\begin{tikzpicture}`): then its
content is drawing code too, and the whole `\\begin..\\end` goes. Names the converter handles
(`\\section`, `\\caption`, `\\and`, `\\item`, ...) are never made opaque, and a redefinition
(`\\renewcommand`) of a command LaTeX or a package already has keeps its old meaning.

>>> from arxiv2lm.latex.macroargs import Param, Raw
>>> raw = {"foo": Raw((), "\\\\@ifstar\\\\foo@s\\\\foo@n"), "foo@n": Raw((Param("m"),), "#1")}
>>> [p.kind for p in signature("foo", raw)[0]]
['s', 'm']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from arxiv2lm.latex import acronyms, siunitx, textrules
from arxiv2lm.latex.macroargs import Param, Raw
from arxiv2lm.latex.scan import read_group

MAX_TRACE = 8  # macros followed from a name to the one that reads the arguments

# drawing code: TikZ and pgf commands (`\tikz`, `\tikzset`, `\pgfkeys`, `\pgfmathsetmacro`),
# TikZ path commands, and the picture environments (LaTeX's, TikZ's, PSTricks')
_DRAWING = re.compile(
    "|".join(
        [
            r"\\(?:tikz|pgf)[A-Za-z@]*",
            r"\\(?:draw|filldraw|shadedraw|node|coordinate)(?![A-Za-z@])",
            r"\\begin\s*\{(?:tikzpicture|pspicture|picture)\}",
        ]
    )
)
# commands the converter gives a meaning (`totext`, `frontmatter`, `bibliography`, `acronyms`,
# `siunitx`), LaTeX's author and mathpar separator `\and`; names it reads by pattern (`cite`,
# `..ref`) and TeX's conditionals are checked in `may_hide`
KNOWN = frozenset(
    [
        *textrules.WORDS,
        *textrules.DROP_WORDS,
        *textrules.DROP_ARGS,
        *textrules.HEADINGS,
        *textrules.UNWRAP,
        *textrules.BREAKS,
        *acronyms.COMMANDS,
        *siunitx.COMMANDS,
    ]
) | textrules._words(
    "footnote footnotetext item enquote say caption captionof subcaption begin end reference"
    " refpar refsection and icmltitle newblock bib endinput"
)
_LETTERS = re.compile(r"[A-Za-z]+")
# a definition made by a body, up to its replacement's `{`: what it stores is not printed
_STORE = re.compile(
    r"\\(?:[gex]?def|(?:renew|provide|new)command\*?)\s*"
    r"(?:\{?\\[A-Za-z@]+\}?|\\csname.*?\\endcsname)[^{]{0,200}?(?=\{)"
)
_PARAM_USE = re.compile(r"(?<!#)(?:##)*#[1-9]")
_BLANKS = re.compile(r"\s*")
_UNIT = re.compile(r"\\([A-Za-z@]+|.)|([^\\{}\[\]()\s]+|\S)", re.S)  # a cs, or a run of others
# a control sequence right after one of these is its operand, not a call
_ASSIGNS = textrules._words("let def gdef edef xdef global futurelet noexpand expandafter string")
# LaTeX 2e's ways for a parameterless macro to look ahead: name -> how many units follow
_IDIOMS = {"@ifstar": 2, "@ifnextchar": 3, "kernel@ifnextchar": 3, "@testopt": 2, "@dblarg": 1}


def prints(body: str) -> bool:
    """The body uses a parameter outside the definitions it makes: `{\\color{blue}#1}`
    prints its argument, `\\gdef\\@editor{#1}` stores it (to print elsewhere, if at all).

    >>> prints("\\\\gdef\\\\@e{#1}"), prints("(#1)\\\\def\\\\x{#2}")
    (False, True)
    """
    out: list[str] = []
    pos = 0
    while (m := _STORE.search(body, pos)) is not None:
        g = read_group(body, m.end())
        if g is None:
            break
        out.append(body[pos : m.start()])
        pos = g[1]
    out.append(body[pos:])
    return _PARAM_USE.search("".join(out)) is not None


def draws(body: str) -> bool:
    """The body holds drawing code.

    >>> draws("\\\\tikz[baseline]{\\\\draw (0,0) -- (1,0);}"), draws("\\\\mathbb{R}")
    (True, False)
    """
    # substring tests first (in C): most bodies name none of these
    hint = "tikz" in body or "pgf" in body or "draw" in body or "node" in body
    hint = hint or "coordinate" in body or "picture" in body
    return hint and _DRAWING.search(body) is not None


def may_hide(name: str) -> bool:
    """A command name whose uses may be removed: letters only, not one the converter handles."""
    return (
        "@" not in name
        and _LETTERS.fullmatch(name) is not None
        and name not in KNOWN
        and "cite" not in name.lower()
        and not name.endswith("ref")
        and not name.startswith(("if", "fi", "else", "or"))  # conditionals stay balanced
    )


@dataclass(frozen=True)
class _Unit:
    kind: str  # cs | group | opt | char
    text: str  # the name (cs), the content (group, opt: `[..]` or `(..)`) or the character


def _units(body: str) -> list[_Unit]:
    """The top-level units of `body`: control sequences, `{..}` groups, `[..]` or `(..)` right
    after a control sequence (a literal optional argument), other characters (blanks
    skipped)."""
    out: list[_Unit] = []
    i = 0
    while (i := _BLANKS.match(body, i).end()) < len(body):  # type: ignore[union-attr]
        if body[i] == "{":
            g = read_group(body, i)
            if g is None:
                return out
            out.append(_Unit("group", g[0]))
            i = g[1]
            continue
        close = {"[": "]", "(": ")"}.get(body[i])
        if close and out and out[-1].kind == "cs" and out[-1].text not in _IDIOMS:
            j = body.find(close, i)
            if j > 0 and "{" not in body[i:j]:
                out.append(_Unit("opt", body[i + 1 : j]))
                i = j + 1
                continue
        m = _UNIT.match(body, i)
        if m is None:
            break
        out.append(_Unit("cs", m.group(1)) if m.group(1) else _Unit("char", m.group(2)))
        i = m.end()
    return out


def _delimited(params: tuple[Param, ...]) -> tuple[Param, ...]:
    """`\\def\\a@x[#1]#2`'s parameters read as xparse would: `[#1]` is an optional `o`."""
    if len(params) >= 2 and params[0].kind == "l" and params[1].kind == "u":
        opener, closer = params[0].open, params[1].close
        if (opener, closer) == ("[", "]"):
            return (Param("o"), *params[2:])
        if len(opener) == 1 and len(closer) == 1:
            return (Param("d", None, opener, closer), *params[2:])
    return params


def _given(params: tuple[Param, ...], given: list[_Unit]) -> tuple[Param, ...]:
    """`params` less those the literal units after a call supply (`\\a@x[default]`)."""
    rest = list(params)
    for u in given:
        if not rest:
            break
        if rest[0].kind not in {"opt": "od", "group": "mg"}.get(u.kind, ""):
            break
        rest.pop(0)
    return tuple(rest)


class _Trace:
    """Follows definitions from a name to the arguments its use reads (see `signature`)."""

    def __init__(self, raw: dict[str, Raw]) -> None:
        self.raw = raw
        self.prints = False  # a definition that reads arguments puts one in its output

    def name(self, name: str, depth: int) -> tuple[Param, ...]:
        d = self.raw.get(name)
        if d is None or depth > MAX_TRACE:
            return ()
        if d.params and not self.prints:
            self.prints = prints(d.body)
        if d.explicit:
            return _delimited(d.params)
        # TeX reads the parameters, then whatever the end of the body reads
        return (*_delimited(d.params), *self.code(_units(d.body), depth))

    def code(self, units: list[_Unit], depth: int) -> tuple[Param, ...]:
        """What the code `units` reads from the text after it: through the idiom or the
        macro it ends with (nothing when it ends otherwise)."""
        for idiom, n in _IDIOMS.items():
            k = len(units) - 1 - n
            if k >= 0 and units[k].kind == "cs" and units[k].text == idiom:
                return self.idiom(idiom, units[k + 1 :], depth)
        for k in range(len(units) - 1, -1, -1):
            if units[k].kind != "cs":
                continue
            tail = units[k + 1 :]
            before = {t.text for t in units[max(0, k - 2) : k] if t.kind == "cs"}
            if all(t.kind in ("group", "opt") for t in tail) and not before & _ASSIGNS:
                return _given(self.name(units[k].text, depth + 1), tail)
            return ()
        return ()

    def idiom(self, idiom: str, args: list[_Unit], depth: int) -> tuple[Param, ...]:
        """The arguments read by `\\idiom` with its units `args`, a `_IDIOMS` look-ahead."""
        if idiom == "@ifstar":
            return (Param("s"), *self.branch(args[1], depth))
        if idiom == "@testopt":
            got = self.branch(args[0], depth)
            return got if got[:1] and got[0].kind == "o" else (Param("o"), *got)
        if idiom == "@dblarg":
            got = self.branch(args[0], depth)
            return (Param("o"), *(got[1:] if got[:1] and got[0].kind == "o" else got))
        # \@ifnextchar: the branch without the character reads what follows the optional part
        first = {"*": Param("s"), "[": Param("o"), "(": Param("d", None, "(", ")")}
        peek = first.get(args[0].text.strip())
        return () if peek is None else (peek, *self.branch(args[2], depth))

    def branch(self, u: _Unit, depth: int) -> tuple[Param, ...]:
        if u.kind == "cs":
            return self.name(u.text, depth + 1)
        return self.code(_units(u.text), depth + 1) if u.kind == "group" else ()


def signature(name: str, raw: dict[str, Raw]) -> tuple[tuple[Param, ...], bool]:
    """The arguments a use of `name` takes, following `raw` (every definition, `@` names
    included) through LaTeX's look-ahead idioms and tail calls (at most 9), and whether a
    definition that reads them prints one (`prints`)."""
    t = _Trace(raw)
    return t.name(name, 0)[:9], t.prints
