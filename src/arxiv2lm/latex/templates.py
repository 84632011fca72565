"""Macro bodies as templates: cut once at their `#1`..`#9` and `##`, filled per use.

`expansion` fills a body's template for every use of a macro; `definers` fills a definer's
body to find the definitions it makes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARAM = re.compile(r"#(#|[1-9])")
ENDS_CONTROL_WORD = re.compile(r"\\[A-Za-z@]+$")


@dataclass(frozen=True)
class Template:
    """A macro body cut at its `#1`..`#9` and `##`, so a use is one join, not a regex pass."""

    pieces: tuple[str, ...]  # the body's text around the parameters (one more than params)
    params: tuple[int, ...]  # 1..9, or 0 for `##` (a literal `#`)
    spaced: tuple[bool, ...]  # a control word ends right before the parameter
    counts: tuple[int, ...]  # how often `#1`..`#9` occur (index 0 is `#1`)
    uses: tuple[tuple[int, int], ...]  # (index, count) of the parameters that occur
    # each parameter's argument index, when none is `##` or spaced: a use is then one join
    plain: tuple[int, ...] | None = None


def template(body: str) -> Template:
    """Cut `body` at its parameters.

    >>> template("(#1,#2,#1,##)").counts
    (2, 1, 0, 0, 0, 0, 0, 0, 0)
    """
    pieces: list[str] = []
    params: list[int] = []
    spaced: list[bool] = []
    counts = [0] * 9
    pos = 0
    for p in PARAM.finditer(body):
        k = 0 if p.group(1) == "#" else int(p.group(1))
        pieces.append(body[pos : p.start()])
        params.append(k)
        # a control word cannot span a parameter, so searching from the last one suffices
        spaced.append(ENDS_CONTROL_WORD.search(body, pos, p.start()) is not None)
        if k:
            counts[k - 1] += 1
        pos = p.end()
    pieces.append(body[pos:])
    uses = tuple((k, n) for k, n in enumerate(counts) if n)
    plain = None if 0 in params or any(spaced) else tuple(k - 1 for k in params)
    return Template(tuple(pieces), tuple(params), tuple(spaced), tuple(counts), uses, plain)


def fill(tpl: Template, args: list[str]) -> str:
    """Put `args` in place of `#1..#9`. An argument that starts with a letter right after a
    control word gets a space (`\\lVert#1` with `x` is `\\lVert x`, not `\\lVertx`)."""
    if tpl.plain is not None and tpl.uses and tpl.uses[-1][0] < len(args):  # every one given
        out = [""] * (2 * len(tpl.plain) + 1)
        out[0::2] = tpl.pieces
        out[1::2] = map(args.__getitem__, tpl.plain)
        return "".join(out)
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


def substitute(body: str, args: list[str]) -> str:
    """`body` with `args` in place of `#1..#9` and `#` for `##`.

    >>> substitute("\\\\def#1##1{#2_{##1}}", ["\\\\e", "e"])
    '\\\\def\\\\e#1{e_{#1}}'
    """
    return fill(template(body), args)


def expanded_size(body: str, tpl: Template | None, args: list[str]) -> int:
    """An upper bound on the length of `fill(tpl, args)` plus its trailing space,
    known before the string is built: body + each argument times its uses (+1 for the
    space that may precede each use)."""
    size = len(body) + 1
    for k, n in tpl.uses if tpl is not None else ():
        if k < len(args):
            size += n * (len(args[k]) + 1)
    return size
