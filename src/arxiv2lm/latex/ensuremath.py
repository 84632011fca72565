"""`\\ensuremath` and `\\xspace`, resolved after macro expansion.

Macros expand before math is known, so a macro pack built on `\\ensuremath` leaves
`\\ensuremath{\\vdash}` in prose and in formulas alike. Math mode is decided here by the same
spans `mathmode.protect` finds (so it agrees with what `totext` keeps verbatim):
- in math, `\\ensuremath{x}` is `x` (TeX's `\\@firstofone`);
- in text, it is `$x$`, and everything inside it is math (nested `\\ensuremath` unwrap); next
  to a `$` it takes a space, as `$$` would open display math;
- inside verbatim or a URL it is left as written.
`\\xspace` is dropped, leaving a space where a letter or digit follows directly, as xspace
would (`\\xspace.` -> `.`, `\\xspace{}and` -> ` and`); in verbatim it stays.

>>> resolve("\\\\ensuremath{\\\\ell} and $a+\\\\ensuremath{\\\\ell}$")
'$\\\\ell$ and $a+\\\\ell$'
"""

from __future__ import annotations

import re
from itertools import accumulate

from arxiv2lm.latex import mathmode
from arxiv2lm.latex.scan import GROUP, read_group

_TOKENS = re.compile(r"\\(?:ensuremath(?![A-Za-z@])|xspace(?![A-Za-z@])(?:\{\})?)")
_TOKEN_SPLIT = re.compile(f"({_TOKENS.pattern})")  # `re.split` keeps the tokens
_MARK = re.compile("\ue010(\\d+)\ue011")  # private use, like mathmode's placeholders
_BLANKS = re.compile(r"[ \t]*\n?[ \t]*")
# `_BLANKS`, then a group `read_group` reads (nested at most `GROUP_DEPTH` deep); the blanks
# possessive, so a run of them before no group fails at once, not in time quadratic in it
_GROUP_AFTER = re.compile(r"[ \t]*+\n?+[ \t]*+(" + GROUP.pattern + ")", re.S)
_CS_END = re.compile(r"\\[A-Za-z@]+$")
_SPACES = re.compile(r"\s*")
_TOKEN = re.compile(r"\\[A-Za-z@]+|\\.|[^{}\ue010\s]", re.S)


class _Groups:
    """Closing braces of the groups after marks, read with a budget: a group is read once per
    mark around it, so `\\ensuremath{` nested 10^5 deep would cost its square."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.left = 8 * len(text) + 100_000

    def close(self, j: int) -> int | None:
        """Index of the `}` closing the group at `text[j] == "{"`, or None."""
        if self.left < 0:
            return None
        g = read_group(self.text, j)
        self.left -= (g[1] if g else len(self.text)) - j
        return g[1] - 1 if g else None


def _modes(marked: str, n: int) -> list[str]:
    """For each of the `n` marks: "text", "math" or "verbatim", from mathmode's spans."""
    modes = ["verbatim"] * n  # a mark lost inside `\label{..}` in math: leave it as written
    t, spans = mathmode.protect(marked)
    for m in _MARK.finditer(t):
        modes[int(m.group(1))] = "text"
    for span in spans:
        if "\ue010" in span:
            math = span.startswith("$") or span.startswith("\n$$")
            for m in _MARK.finditer(span):
                modes[int(m.group(1))] = "math" if math else "verbatim"
    return modes


def _escaped(text: str, i: int) -> bool:
    """Whether the backslash at `text[i]` is the second of a `\\` pair (an odd run before it).
    Each run is counted once: a match starts right after the run it ends."""
    k = i
    while k > 0 and text[k - 1] == "\\":
        k -= 1
    return (i - k) % 2 == 1


def _dollar_after(marked: str, i: int, written: list[str]) -> bool:
    """Whether a `$` comes at `marked[i:]`, past `\\xspace` marks (they leave nothing)."""
    while (m := _MARK.match(marked, i)) and written[int(m.group(1))].startswith("\\xspace"):
        i = m.end()
    return marked.startswith("$", i)


def _dollar_before(marked: str, i: int, written: list[str], dollars: set[int]) -> bool:
    """Whether a `$` ends `marked[:i]`, past `\\xspace` marks; `dollars`: the `}` that close
    text-mode groups, which become `$`."""
    while marked[i - 1 : i] == "\ue011":
        k = marked.rfind("\ue010", 0, i)
        if not written[int(marked[k + 1 : i - 1])].startswith("\\xspace"):
            break
        i = k
    return marked[i - 1 : i] == "$" or i - 1 in dollars


def _marked(text: str) -> tuple[list[str], list[str]]:
    """(`text` split around its tokens, each token replaced by its numbered mark; each mark's
    token as written). A token right after a backslash may be escaped (`\\\\ensuremath`: a
    line break, then a word): with none, one `re.split` in C does it, else a loop."""
    if "\\\\ensuremath" not in text and "\\\\xspace" not in text:
        pieces = _TOKEN_SPLIT.split(text)  # [text, token, text, token, ..., text]
        written = pieces[1::2]
        pieces[1::2] = map("\ue010{}\ue011".format, range(len(written)))
        return pieces, written
    pieces, written = [], []
    pos = 0
    for m in _TOKENS.finditer(text):
        start = m.start()
        if text[start - 1 : start] == "\\" and _escaped(text, start):
            continue  # `\\ensuremath`: a line break, then a word
        pieces += [text[pos:start], f"\ue010{len(written)}\ue011"]
        written.append(m.group(0))
        pos = m.end()
    pieces.append(text[pos:])
    return pieces, written


def resolve(text: str) -> str:
    """`text` with `\\ensuremath` decided by math mode and `\\xspace` applied."""
    if "\\ensuremath" not in text and "\\xspace" not in text:
        return text
    if "\ue010" in text or "\ue011" in text:
        return text  # the marks below would be ambiguous (no paper writes these characters)
    # number each \ensuremath and \xspace (with its `{}`), in one left-to-right pass
    pieces, written = _marked(text)
    marked = "".join(pieces)
    bounds = list(accumulate(map(len, pieces)))
    modes = _modes(marked, len(written))
    groups = _Groups(marked)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in `marked`
    math_until = -1  # inside a text-mode \ensuremath: its marks are math
    dollars: set[int] = set()
    # the text holds no mark character, so the marks are exactly the odd pieces, in order:
    # mark k spans bounds[2k] to bounds[2k + 1]
    for start, end, tok, mode in zip(bounds[0:-1:2], bounds[1::2], written, modes, strict=True):
        if start < math_until:
            mode = "math"
        if mode == "verbatim" or tok[1] == "x":  # `\xspace`
            space = " " if marked[end : end + 1].isalnum() else ""  # xspace before a word
            edits.append((start, end, tok if mode == "verbatim" else space))
            continue
        g = _GROUP_AFTER.match(marked, end)  # the common case in one match: `{..}` in C
        if g is not None and groups.left >= 0:
            j, close = g.start(1), g.end() - 1
            groups.left -= close + 1 - j
        else:
            j = _BLANKS.match(marked, end).end()  # type: ignore[union-attr]
            close = groups.close(j) if marked.startswith("{", j) else None
        if close is None:  # one token (`\ensuremath\alpha`) or nothing to read
            t = _TOKEN.match(marked, j)
            if mode == "math" or t is None:
                edits.append((start, end, ""))
            else:
                edits.append((start, t.end(), "$" + t.group(0) + "$"))
            continue
        first = marked[j + 1]  # (`close` > j: the group's `}`)
        blank = first == "}" or (
            first.isspace() and _SPACES.match(marked, j + 1).end() >= close  # type: ignore[union-attr]
        )
        if blank:
            # `\ensuremath{}`: `$$` would open display math
            edits.append((start, close + 1, ""))
        elif mode == "math":
            glue = first.isalpha() and marked[start - 1 : start].isalpha()
            glue = glue and _CS_END.search(marked, max(0, start - 64), start)
            edits += [(start, j + 1, " " if glue else ""), (close, close + 1, "")]
        else:  # text mode: the group is inline math, kept apart from a `$` next to it
            before = " $" if _dollar_before(marked, start, written, dollars) else "$"
            after = "$ " if _dollar_after(marked, close + 1, written) else "$"
            edits += [(start, j + 1, before), (close, close + 1, after)]
            math_until = max(math_until, close)
            dollars.add(close)
    edits.sort()
    out: list[str] = []
    pos = 0
    for a, b, rep in edits:
        out += [marked[pos:a], rep]
        pos = b
    out.append(marked[pos:])
    return "".join(out)
