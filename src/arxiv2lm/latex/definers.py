"""Uses of macros that define macros, run while collecting definitions.

A paper may define a definer (`\\newcommand\\newmeta[2]{\\def#1##1{#2_{##1}}}`, or a body that
calls another definer) and then make its notation with it (`\\newmeta\\e{e}`), so `\\e` has no
definition of its own in the source. `uses` finds the uses of the definers known so far and
gives each one's replacement text, in which `macros.collect` looks for definitions again (TeX
would run them there). Bounded: `MAX_USES` replacements per document (`Macros.definer_uses`)
and `MAX_DEPTH` levels of replacements within replacements, so a definer that uses itself
(`\\def\\a{\\def\\b{x}\\a}`) stops.

>>> from arxiv2lm.latex.macroargs import Budget, Macro, Macros, Param
>>> table = Macros(definers={"newop": Macro((Param("m"),), "\\\\def#1{op}")})
>>> list(uses("\\\\newop\\\\x \\\\newop\\\\y", 0, 99, table, Budget(100)))
['\\\\def\\\\x{op}', '\\\\def\\\\y{op}']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from arxiv2lm.latex.macroargs import OK, Budget, Macros, at_end, read_args
from arxiv2lm.latex.scan import CONTROL_WORD
from arxiv2lm.latex.templates import substitute

MAX_USES = 5000  # replacements per document; the real papers make at most a few hundred
MAX_DEPTH = 8  # a definer used in a definer's replacement, and so on


def is_definer(body: str, definition: re.Pattern[str], definers: dict[str, object]) -> bool:
    """`body` makes a definition when used: a definition command, or a known definer."""
    if definition.search(body):
        return True
    return bool(definers) and any(m.group(1) in definers for m in CONTROL_WORD.finditer(body))


def uses(text: str, start: int, end: int, table: Macros, budget: Budget) -> Iterator[str]:
    """The replacement text of each use of `table.definers` in `text[start:end]`, in order.

    The definers are looked up as the scan goes, so one defined by an earlier replacement
    counts from there on."""
    pos = start
    window = ""  # `text[:end]`, made at the first use: a use reads no further (one copy)
    while table.definers and table.definer_uses < MAX_USES:
        # (the definers change only where this yields: one scan up to the next use)
        mac = None
        for m in CONTROL_WORD.finditer(text, pos, end):
            mac = table.definers.get(m.group(1))
            if mac is not None:
                break
        if mac is None:
            return
        pos = m.end()
        window = window or text[:end]
        r = at_end(read_args(window, pos, mac.params, budget), mac.params)
        if r.status != OK:
            continue
        table.definer_uses += 1
        pos = r.end
        yield substitute(mac.body, r.args) if mac.params else mac.body
