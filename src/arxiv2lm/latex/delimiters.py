"""mathtools paired delimiters as macros over the xparse conditionals.

`\\DeclarePairedDelimiter{\\abs}{\\lvert}{\\rvert}` makes `\\abs` take a star, an optional size
and the content: `\\abs{x}` -> `\\lvert x\\rvert`, `\\abs*{x}` -> `\\left\\lvert x\\right\\rvert`,
`\\abs[\\big]{x}` -> `\\bigl\\lvert x\\bigr\\rvert`. The `X` form takes `[n]` arguments and a
body where `\\delimsize` is the size in use (`\\middle` when starred, nothing when plain); the
`XPP` form adds code before and after.

>>> [p.kind for p in paired("\\\\lvert", "\\\\rvert").params]
['s', 'o', 'm']
"""

from __future__ import annotations

import re

from arxiv2lm.latex.macroargs import Macro, Param

_PARAM = re.compile(r"#([1-9#])")
_DELIMSIZE = re.compile(r"\\delimsize(?![A-Za-z@])")
MAX_ARGS = 7  # two more (star, size) make TeX's nine


def paired(
    left: str, right: str, body: str = "#1", nargs: int = 1, pre: str = "", post: str = ""
) -> Macro | None:
    """The macro `\\DeclarePairedDelimiterXPP{..}[nargs]{pre}{left}{right}{post}{body}`
    defines (None when `nargs` is out of range)."""
    if not 0 <= nargs <= MAX_ARGS:
        return None
    shifted = _PARAM.sub(lambda m: "##" if m.group(1) == "#" else f"#{int(m.group(1)) + 2}", body)

    def sized(size: str) -> str:
        return _DELIMSIZE.sub(lambda _m: size, shifted)

    star = f"{pre}\\left{left}{sized(chr(92) + 'middle')}\\right{right}{post}"
    plain = f"{pre}{left}{sized('')}{right}{post}"
    big = f"{pre}#2l{left}{sized('#2')}#2r{right}{post}"
    text = f"\\IfBooleanTF{{#1}}{{{star}}}{{\\IfNoValueTF{{#2}}{{{plain}}}{{{big}}}}}"
    return Macro((Param("s"), Param("o"), *(Param("m"),) * nargs), text)
