"""Acronyms and glossary terms (acro, acronym, glossaries, glossaries-extra) as printed.

A term is defined by `\\DeclareAcronym{id}{short=..,long=..}` (acro), `\\acro{id}[short]{long}`
or `\\acrodef` (acronym), `\\newacronym[..]{key}{short}{long}` or `\\newabbreviation`
(glossaries), `\\newglossaryentry{key}{name=..,text=..,first=..,description=..}`. A use shows
what the default styles print: an acronym's first automatic use (`\\ac`, `\\gls`, `\\acp`,
`\\glspl`, ...) is `long (short)`, later ones `short`; a glossary entry shows its `first`
text, then its `text` (both default to `name`). Explicit forms ignore first use: `\\acs`,
`\\acrshort` -> short; `\\acl`, `\\acrlong` -> long; `\\acf`, `\\acrfull` -> `long (short)`.
A plural appends `s` unless a plural is given; a capital first letter (`\\Ac`, `\\Gls`)
capitalizes, all capitals (`\\GLS`, `\\ACRshort`) upper-cases. An unknown key prints itself
(plural: with `s`).
Lists of terms (`\\printglossaries`, `\\printacronyms`, the `acronym` environment) are dropped.
In math (`$t^{\\text{\\gls{ml}}}$`) a use prints the same text, in reading order (`in_math`).

>>> g = Glossary(collect("\\\\newacronym{svm}{SVM}{support vector machine}"))
>>> [g.command("gls", "\\\\gls{svm}", 4, str)[0] for _ in range(2)]
['support vector machine (SVM)', 'SVM']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from arxiv2lm.latex.keyval import keyvals
from arxiv2lm.latex.scan import read_group, read_optional

Convert = Callable[[str], str]


@dataclass(frozen=True)
class Term:
    short: str
    long: str
    short_pl: str
    long_pl: str
    text: str  # a later automatic use
    text_pl: str
    first: str  # the first automatic use
    first_pl: str
    name: str
    desc: str
    symbol: str = ""


def acronym(short: str, long: str, short_pl: str = "", long_pl: str = "") -> Term:
    short_pl, long_pl = short_pl or short + "s", long_pl or long + "s"
    full, full_pl = f"{long} ({short})", f"{long_pl} ({short_pl})"
    return Term(short, long, short_pl, long_pl, short, short_pl, full, full_pl, short, long)


def entry(kv: dict[str, str]) -> Term:
    """A `\\newglossaryentry` from its key=value fields."""
    name = kv.get("name", "")
    text = kv.get("text", name)
    first = kv.get("first", text)
    plural = kv.get("plural", text + "s")
    first_pl = kv.get("firstplural", first + "s" if "first" in kv else plural)
    return Term(
        text, text, plural, plural, text, plural, first, first_pl, name,
        kv.get("description", ""), kv.get("symbol", ""),
    )  # fmt: skip


def read_args(s: str, i: int, spec: str) -> tuple[list[str | None], int]:
    """Arguments after `s[:i]` by `spec`: `g` a `{group}` (None if absent), `o` an optional
    `[..]` (None if absent)."""
    args: list[str | None] = []
    for kind in spec:
        r = read_group(s, i) if kind == "g" else read_optional(s, i)
        args.append(r[0] if r else None)
        i = r[1] if r else i
    return args, i


# definition command -> argument spec (see `read_args`)
DEFINITIONS: dict[str, str] = {
    "DeclareAcronym": "gg", "newacronym": "oggg", "newabbreviation": "oggg",
    "newglossaryentry": "gg", "provideglossaryentry": "gg", "longnewglossaryentry": "ggg",
    "acro": "gog", "acrodef": "gog", "newacro": "gog", "acroplural": "gog",
    "acrodefplural": "gog",
}  # fmt: skip
_DEFINITION = re.compile(r"\\(" + "|".join(DEFINITIONS) + r")(?![A-Za-z@])")


def _defined(word: str, args: list[str | None], old: Term | None) -> Term | None:
    if word == "DeclareAcronym":
        kv = keyvals(args[1] or "")
        short, long = kv.get("short", args[0] or ""), kv.get("long", "")
        short_pl = kv.get("short-plural-form") or short + kv.get("short-plural", "s")
        long_pl = kv.get("long-plural-form") or long + kv.get("long-plural", "s")
        return acronym(short, long, short_pl, long_pl)
    if word in ("newacronym", "newabbreviation"):
        kv = keyvals(args[0] or "")
        return acronym(args[2] or "", args[3] or "", kv.get("shortplural", ""),
                       kv.get("longplural", ""))  # fmt: skip
    if word in ("acroplural", "acrodefplural"):
        if old is None:
            return None
        return acronym(old.short, old.long, args[1] or old.short + "s", args[2] or "")
    if word.startswith(("acro", "newacro")):
        return acronym(args[1] or args[0] or "", args[2] or "")
    kv = keyvals(args[1] or "")
    if word == "longnewglossaryentry":
        kv.setdefault("description", args[2] or "")
    return entry(kv)


def collect(doc: str) -> dict[str, Term]:
    """Every term `doc` defines, by key; a later definition of a key wins."""
    terms: dict[str, Term] = {}
    for m in _DEFINITION.finditer(doc):
        word = m.group(1)
        args, _ = read_args(doc, m.end(), DEFINITIONS[word])
        key = (args[1] if DEFINITIONS[word].startswith("o") else args[0]) or ""
        term = _defined(word, args, terms.get(key.strip()))
        if term is not None and key.strip():
            terms[key.strip()] = term
    return terms


def _variants(
    base: str, form: str, plural: str = "", upper: bool = True, is_plural: bool = False
) -> dict[str, tuple[str, bool, str]]:
    """`gls` -> gls, Gls, GLS (and with `plural`: glspl, Glspl, GLSpl) -> (form, plural, case);
    case '' as is, 'cap' first letter capital, 'upper' all capitals."""
    out: dict[str, tuple[str, bool, str]] = {}
    for pl in ("", plural) if plural else ("",):
        name, many = base + pl, is_plural or bool(pl)
        out[name] = (form, many, "")
        out[name[0].upper() + name[1:]] = (form, many, "cap")
        if upper:
            out[name[:3].upper() + name[3:]] = (form, many, "upper")
    return out


USES: dict[str, tuple[str, bool, str]] = {
    # acro and acronym packages (and the glossaries `shortcuts` option)
    **_variants("ac", "auto", "p", upper=False),
    **_variants("acs", "short", "p", upper=False),
    **_variants("acl", "long", "p", upper=False),
    **_variants("acf", "full", "p", upper=False),
    **_variants("iac", "indefinite", upper=False),
    "acsu": ("short", False, ""), "aclu": ("long", False, ""), "acfi": ("full", False, ""),
    "acpdfstring": ("short", False, ""),
    # glossaries and glossaries-extra
    **_variants("gls", "auto", "pl"),
    **_variants("glstext", "text"),
    **_variants("glsplural", "text", is_plural=True),
    **_variants("glsfirst", "first"),
    **_variants("glsfirstplural", "first", is_plural=True),
    **_variants("glsname", "name"),
    **_variants("glsdesc", "desc"),
    **_variants("glssymbol", "symbol"),
    **_variants("acrshort", "short", "pl"),
    **_variants("acrlong", "long", "pl"),
    **_variants("acrfull", "full", "pl"),
    **_variants("glsxtrshort", "short", "pl"),
    **_variants("glsxtrlong", "long", "pl"),
    **_variants("glsxtrfull", "full", "pl"),
    **{k: v for f in ("text", "name", "desc", "first", "short", "long", "symbol")
       for k, v in _variants("glsentry" + f, f, upper=False).items()},
    **_variants("glsentryplural", "text", upper=False, is_plural=True),
    **_variants("glsentryshortpl", "short", upper=False, is_plural=True),
    **_variants("glsentrylongpl", "long", upper=False, is_plural=True),
}  # fmt: skip
# commands that only change first-use state, or show given text
STATE = {
    "acused": "use", "glsunset": "use", "acreset": "reset", "glsreset": "reset",
    "acresetall": "resetall", "glsresetall": "resetall", "acuseall": "useall",
    "glsunsetall": "useall", "glsadd": "use_none", "glsdisp": "disp", "glslink": "disp",
}  # fmt: skip
# setup and list commands: nothing printed in place
SETUP: dict[str, int] = {
    "printglossaries": 0, "printglossary": 0, "printacronyms": 0, "printnoidxglossaries": 0,
    "makeglossaries": 0, "makenoidxglossaries": 0, "glsaddall": 0, "glsdisablehyper": 0,
    "acsetup": 1, "setacronymstyle": 1, "setabbreviationstyle": 1, "loadglsentries": 1,
    "glssetwidest": 1,
}  # fmt: skip
COMMANDS = frozenset(USES) | frozenset(STATE) | frozenset(SETUP) | frozenset(DEFINITIONS)
_GLS_FAMILY = ("gls", "Gls", "GLS", "acr", "Acr", "ACR")  # these take a trailing `[insert]`


def _case(text: str, case: str) -> str:
    if case == "upper":
        return text.upper()
    if case == "cap":
        for j, c in enumerate(text):
            if c.isalpha():
                return text[:j] + c.upper() + text[j + 1 :]
    return text


class Glossary:
    """The terms of one document and which of them were used already, in reading order."""

    def __init__(self, terms: dict[str, Term]) -> None:
        self.terms = terms
        self.used: set[str] = set()
        self.active: set[str] = set()  # keys being rendered: a self-referring term stops

    def command(self, word: str, s: str, i: int, conv: Convert) -> tuple[str, int]:
        """(text, position after) of the glossary command `\\word` whose name ends at `s[i]`."""
        if s.startswith("+", i):  # `\\gls+{key}`: same text
            i += 1
        if word in DEFINITIONS:
            return "", read_args(s, i, DEFINITIONS[word])[1]
        if word in SETUP:
            return "", read_args(s, i, "o" + "g" * SETUP[word])[1]
        (key,), i = read_args(s, read_args(s, i, "o")[1], "g")
        keys = [k.strip() for k in (key or "").split(",") if k.strip()]
        if word in STATE:
            return self.state(STATE[word], keys, s, i, conv)
        form, plural, case = USES[word]
        insert = ""
        if word.startswith(_GLS_FAMILY) and s.startswith("[", i):
            o = read_optional(s, i)
            insert, i = (o[0], o[1]) if o else ("", i)
        k = keys[0] if keys else ""
        term = self.terms.get(k)
        if term is None or k in self.active:  # the key, as a reader would guess it
            return conv(k + ("s" if plural else "") + insert), i
        self.active.add(k)
        try:
            text = conv(self.form(term, k, form, plural) + insert)
        finally:
            self.active.discard(k)
        return _case(text, case), i

    def form(self, term: Term, key: str, form: str, plural: bool) -> str:
        """TeX of one use of `term` (marks it used when the form is automatic)."""
        if form in ("auto", "indefinite"):
            first = key not in self.used
            self.used.add(key)
            text = (term.first_pl if plural else term.first) if first else (
                term.text_pl if plural else term.text
            )  # fmt: skip
            return ("a " + text) if form == "indefinite" else text
        if form == "full":
            return (term.first_pl if plural else term.first) if term.short != term.long else (
                term.long_pl if plural else term.long
            )  # fmt: skip
        if form == "first":
            return term.first_pl if plural else term.first
        plurals = {"short": term.short_pl, "long": term.long_pl, "text": term.text_pl}
        if plural and form in plurals:
            return plurals[form]
        return str(getattr(term, form))

    def state(self, what: str, keys: list[str], s: str, i: int, conv: Convert) -> tuple[str, int]:
        if what == "use":
            self.used.update(keys)
        elif what == "reset":
            self.used.difference_update(keys)
        elif what == "resetall":
            self.used.clear()
        elif what == "useall":
            self.used.update(self.terms)
        elif what == "disp":  # `\\glsdisp{key}{shown text}`
            g = read_group(s, i)
            if keys:
                self.used.add(keys[0])
            return (conv(g[0]), g[1]) if g else ("", i)
        return "", i


# a use in math: the use and state commands (definitions and setup do not occur there)
_IN_MATH = re.compile(
    r"\\(" + "|".join(sorted([*USES, *STATE], key=len, reverse=True)) + r")(?![A-Za-z@])"
)


def uses_in(math: str) -> bool:
    """`math` holds a glossary command."""
    return "\\" in math and _IN_MATH.search(math) is not None


def in_math(math: str, glossary: Glossary, conv: Convert) -> str:
    """`math` with each glossary command replaced by the text it prints (`Glossary.command`).

    >>> g = Glossary(collect("\\\\newacronym{ml}{ML}{maximum likelihood}"))
    >>> in_math("$t^{\\\\text{\\\\gls{ml}}}$", g, str)
    '$t^{\\\\text{maximum likelihood (ML)}}$'
    """
    out: list[str] = []
    pos = 0
    while (m := _IN_MATH.search(math, pos)) is not None:
        text, end = glossary.command(m.group(1), math, m.end(), conv)
        out += [math[pos : m.start()], text]
        pos = max(end, m.end())
    out.append(math[pos:])
    return "".join(out)
