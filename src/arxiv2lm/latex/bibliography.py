"""Bibliographies in every form, dropped or kept as one `- entry` line each.

Forms: `thebibliography` and `references` (AASTeX, A&A) environments with `\\bibitem`,
`\\reference` or `\\refpar` entries; such entries with no environment (journal classes that
set the list by hand, after a `References` heading); amsrefs' `bibdiv`/`biblist` of `\\bib`
records; biblatex's `.bbl` data (`\\refsection{0} ... \\endrefsection`, inlined for
`\\printbibliography`); `\\bibliography{..}` and `\\printbibliography` themselves. Dropped
(`drop`), a heading named References/Bibliography/Literature Cited right before one goes too.
Kept, a record prints as `Authors. Title. Journal volume, pages. Publisher. Year.`

>>> drop("Text.\\n\\\\section*{References}\\n\\\\reference Smith, J. 1999, ApJ, 1, 2\\n")
'Text.\\n'
"""

from __future__ import annotations

import re

from arxiv2lm.latex.keyval import pairs
from arxiv2lm.latex.scan import read_group, read_optional

_HEADING = r"(?i:references|bibliography|literature\s+cited)"
_LIST_START = [
    r"\\begin\{(?:thebibliography|references|bibdiv|biblist)\}",
    r"\\(?:reference|refpar|bibliography|printbibliography)(?![A-Za-z@])",
]
_STARTS = "|".join(_LIST_START)
DROP = re.compile(
    "|".join(
        [
            r"\\(?:sub)*section\*?\s*\{\s*" + _HEADING + r"\s*\}\s*(?=" + _STARTS + ")",
            r"\\begin\{thebibliography\}.*?(?:\\end\{thebibliography\}|\Z)",
            r"\\begin\{references\}.*?(?:\\end\{references\}|\Z)",
            r"\\begin\{bibdiv\}.*?(?:\\end\{bibdiv\}|\Z)",
            r"\\begin\{biblist\}.*?(?:\\end\{biblist\}|\Z)",
            r"\\bibliography\s*\{[^{}]*\}",
            r"\\printbibliography(?:\[[^\]]*\])?",
            r"\\refsection\s*\{[^{}]*\}.*?(?:\\endrefsection|\Z)",
            # entries set by hand: each runs to a blank line, an \end, a heading or the appendix
            r"\\(?:reference|refpar)(?![A-Za-z@]).*?"
            r"(?=\n[ \t]*\n|\\end\{|\\(?:sub)*section(?![A-Za-z@])|\\appendix(?![A-Za-z@])|\Z)",
        ]
    ),
    re.S,
)
LIST_ENVS = ("thebibliography", "references")
ENTRY_WORDS = ("bibitem", "reference", "refpar")
_ENTRY = re.compile(r"\\(bibitem|reference|refpar)(?![A-Za-z@])")
_NEWBLOCK = re.compile(r"\\newblock(?![A-Za-z@])")
# biblatex's guard that stops a .bbl read without biblatex, and its end marker
_BBL_JUNK = re.compile(
    "|".join(
        [
            r"\\begingroup\s*\\makeatletter\s*\\@ifundefined\{ver@biblatex\.sty\}.*?\\endgroup",
            r"\\endinput(?![A-Za-z@])",
        ]
    ),
    re.S,
)
# biblatex name and range macros -> text
_BBL_MACROS = re.compile(r"\\bib(?:initperiod|initdelim|namedelim[abci]|rangedash|inithyphendelim)")
_BBL_TEXT = {"\\bibinitperiod": ".", "\\bibrangedash": "–", "\\bibinithyphendelim": ".-"}


def drop(body: str) -> str:
    """`body` without any bibliography (and without a heading that only announced one)."""
    return DROP.sub("", body)


def entry_start(s: str, i: int, word: str) -> int:
    """Position after an entry command's label and key: `\\bibitem[label]{key}` always has a
    key; `\\reference{key}` has one only when the braces hold no blank (else it is text)."""
    o = read_optional(s, i)
    i = o[1] if o else i
    g = read_group(s, i)
    if g is not None and (word == "bibitem" or not g[0].split() or len(g[0].split()) == 1):
        return g[1]
    return i


def items(body: str, env: str) -> str:
    """A list environment's body as TeX with one `\\item` per entry (widest label dropped)."""
    if env == "thebibliography" and (g := read_group(body, 0)) is not None:
        body = body[g[1] :]
    out, pos = [], 0
    for m in _ENTRY.finditer(body):
        if m.start() < pos:
            continue
        out.append(body[pos : m.start()].rstrip())
        out.append("\\item ")
        pos = entry_start(body, m.end(), m.group(1))
    out.append(body[pos:])
    return _NEWBLOCK.sub(" ", "".join(out))


def _record(fields: list[tuple[str, str]], names: list[str]) -> str:
    """`Authors. Title. Journal volume, pages. Publisher. Year.` of one record's fields."""
    get = dict(fields)
    where = get.get("journaltitle") or get.get("journal") or get.get("booktitle", "")
    where = " ".join(w for w in (where, get.get("volume", "")) if w)
    where = ", ".join(w for w in (where, get.get("pages", "")) if w)
    year = get.get("year") or get.get("date", "")[:4]
    names = names or [v for k, v in fields if k == "author"]
    authors = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
    parts = [authors, get.get("title", ""), where, get.get("publisher", ""), year]
    return "\\item " + " ".join(_sentence(p) for p in parts if p.strip())


def _sentence(part: str) -> str:
    part = part.strip()
    return part if part.endswith((".", "?", "!")) else part + "."


def amsrefs(body: str) -> str:
    """amsrefs `\\bib{key}{type}{field=value,...}` records as `\\item` lines."""
    out = []
    for m in re.finditer(r"\\bib(?![A-Za-z@])", body):
        key = read_group(body, m.end())
        kind = read_group(body, key[1]) if key else None
        rec = read_group(body, kind[1]) if kind else None
        if rec is not None:
            out.append(_record(pairs(rec[0]), []))
    return "".join(out)


def _bbl_name(group: str) -> str:
    """`{{hash=..}{family={Knuth}, given={Donald E.}}}` (or the older positional
    `{{..}{Knuth}{K.}{Donald E.}{D.~E.}{prefix}{..}{suffix}{..}}`) -> `Donald E. Knuth`."""
    parts, i = [], 0
    while (g := read_group(group, i)) is not None:
        parts.append(g[0])
        i = g[1]
    kv = dict(pairs(parts[-1])) if parts and "family" in parts[-1] else {}
    if kv:
        family, given, prefix = kv.get("family", ""), kv.get("given", ""), kv.get("prefix", "")
    elif len(parts) >= 4:
        family, given, prefix = parts[1], parts[3], parts[5] if len(parts) > 5 else ""
    else:
        return ""
    return " ".join(p for p in (given, prefix, family) if p.strip())


def biblatex(s: str, i: int) -> tuple[str, int]:
    """biblatex `.bbl` data from `s[i]` (after `\\refsection`) to `\\endrefsection`, as
    `\\item` lines, and the position after it."""
    end = s.find("\\endrefsection", i)
    stop = len(s) if end < 0 else end + len("\\endrefsection")
    data = _BBL_MACROS.sub(lambda m: _BBL_TEXT.get(m.group(0), " "), s[i:stop])
    out = []
    pos = 0
    while (start := data.find("\\entry{", pos)) >= 0:
        close = data.find("\\endentry", start)
        close = len(data) if close < 0 else close  # no end: the rest is one entry, the last
        fields: list[tuple[str, str]] = []
        names: list[str] = []
        for m in re.finditer(r"\\(field|name|list)\{([^{}]*)\}", data[start:close]):
            j = start + m.end()
            if m.group(1) != "field":  # `\\name{role}{count}{options}`, `\\list{role}{count}`
                for _ in range(2 if m.group(1) == "name" else 1):
                    g = read_group(data, j)
                    j = g[1] if g else j
            g = read_group(data, j)
            if g is None:
                continue
            if m.group(1) == "field":
                fields.append((m.group(2), g[0]))
            elif m.group(1) == "name" and m.group(2) == "author":
                k = 0
                while (n := read_group(g[0], k)) is not None:
                    names.append(_bbl_name(n[0]))
                    k = n[1]
            elif m.group(1) == "list":
                first = read_group(g[0], 0)
                fields.append((m.group(2), first[0] if first else g[0]))
        out.append(_record(fields, [n for n in names if n]))
        pos = close + 1
    return "".join(out), stop


def clean_bbl(text: str) -> str:
    """A kept biblatex `.bbl` without its guard and `\\endinput`."""
    return _BBL_JUNK.sub("", text)
