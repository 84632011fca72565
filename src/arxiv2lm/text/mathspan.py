r"""Where math is in text: the one rule that quality, tokenizer metrics and evaluate share.

Math is what lies between a delimiter and its closer: `$..$`, `$$..$$`, `\(..\)`, `\[..\]`
and `\begin{E}..\end{E}` for a math environment E (`MATH_ENVIRONMENTS`). `\$` and `\\` are
escapes, never delimiters. An opener that nothing closes is not math. Inside math only the
matching closer counts (`$a \(b$` is one span). One pass over the delimiters, so linear.

>>> math_spans(r"a $x$ b \[y\] c \$5")
[(2, 5), (8, 13)]
>>> math_segments(r"a \begin{equation}e\end{equation} $$")
['\\begin{equation}e\\end{equation}']
"""

from __future__ import annotations

import re
from itertools import accumulate, compress, repeat
from operator import is_not

MATH_ENVIRONMENTS = [
    "equation",
    "align",
    "alignat",
    "flalign",
    "gather",
    "multline",
    "eqnarray",
    "displaymath",
    "math",
]
_ENV = "|".join(MATH_ENVIRONMENTS)
# Each alternative has a test (tests/text/test_mathspan.py). Escapes come after the
# bracket delimiters they would otherwise swallow, and before the dollars they protect.
_DELIMITER_ALTERNATIVES = [
    r"\\\(",  # \(
    r"\\\)",  # \)
    r"\\\[",  # \[
    r"\\\]",  # \]
    rf"\\begin\{{(?:{_ENV})\*?\}}",  # \begin{equation*}
    rf"\\end\{{(?:{_ENV})\*?\}}",  # \end{equation*}
    # An escape, never a delimiter: only `\\` and `\$` can hide one (every delimiter starts
    # with `\` or `$`), so other escapes (`\{`) need no match of their own.
    r"\\[\\$]",
    r"\$\$",  # $$
    r"\$",  # $
]
DELIMITER = re.compile("|".join(_DELIMITER_ALTERNATIVES), re.DOTALL)
_DELIMITER_SPLIT = re.compile(f"({DELIMITER.pattern})", re.DOTALL)  # `re.split` keeps them
_CLOSER = {"$": "$", "$$": "$$", r"\(": r"\)", r"\[": r"\]"}


def _kind(token: str) -> str | None:
    """The delimiter a token is (`$`, `\\)`, `\\end{align}`), None for an escape."""
    if token.startswith(("\\begin", "\\end")):
        return token.rstrip("*}").replace("{", ":")  # `\begin:align`, `\end:align`
    if token in _CLOSER or token in (r"\)", r"\]"):
        return token
    return None


def _closer(kind: str) -> str | None:
    if kind.startswith("\\begin:"):
        return "\\end:" + kind.removeprefix("\\begin:")
    return _CLOSER.get(kind)


def math_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each math span, delimiters included, in order, non-overlapping."""
    # [text, token, text, token, ..., text] and each piece's end, in C: no Python step per
    # token (most are escapes or `$`) until the delimiters are paired
    pieces = _DELIMITER_SPLIT.split(text)
    ends = list(accumulate(map(len, pieces)))
    tokens = pieces[1::2]
    kinds = {token: _kind(token) for token in set(tokens)}  # a few distinct tokens
    closer_of = {kind: _closer(kind) for kind in kinds.values() if kind is not None}
    starts, stops, delims = ends[0::2], ends[1::2], list(map(kinds.__getitem__, tokens))
    if None in kinds.values():  # escapes: not delimiters
        keep = list(map(is_not, delims, repeat(None)))
        starts, stops = list(compress(starts, keep)), list(compress(stops, keep))
        delims = list(compress(delims, keep))
    spans: list[tuple[int, int]] = []
    closed: set[str] = set()  # closers that occur no more: an opener of theirs opens nothing
    i = 0
    while i < len(delims):
        closer = closer_of[delims[i]]
        if closer is None or closer in closed:
            i += 1  # a closer outside math, or an opener nothing closes
            continue
        try:
            j = delims.index(closer, i + 1)  # the first closer of its kind after it, in C
        except ValueError:
            closed.add(closer)  # none after i, so none after a later opener: one miss each
            i += 1
            continue
        spans.append((starts[i], stops[j]))
        i = j + 1
    return spans


def math_segments(text: str) -> list[str]:
    r"""The math spans of `text` as strings, delimiters included; `\$` is no delimiter."""
    return [text[a:b] for a, b in math_spans(text)]


def toggle_parity(piece: str) -> int:
    r"""1 if `piece` holds an odd number of delimiters (`$$`, `\(`, ... each counts once).

    The per-token form of `math_spans`, for a stream of token pieces: math is open before
    a token when the delimiters before it are odd in number. A delimiter split across two
    pieces, or an unclosed opener, is not seen.

    >>> [toggle_parity(p) for p in ["$x", "$$", r"\$", r"\(", "a"]]
    [1, 1, 0, 1, 0]
    """
    return sum(_kind(m.group()) is not None for m in DELIMITER.finditer(piece)) % 2
