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
    found = [(m.start(), m.end(), m.group()) for m in DELIMITER.finditer(text)]
    kinds = {token: _kind(token) for token in {f[2] for f in found}}  # a few distinct tokens
    delims = [(a, b, kind) for a, b, token in found if (kind := kinds[token]) is not None]
    # nxt[i]: index of the first closer of delims[i]'s kind after i (backward pass: linear)
    nxt: list[int | None] = [None] * len(delims)
    last: dict[str, int] = {}
    for i in range(len(delims) - 1, -1, -1):
        kind = delims[i][2]
        assert kind is not None
        closer = _closer(kind)
        nxt[i] = last.get(closer) if closer else None
        last[kind] = i
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(delims):
        j = nxt[i]
        if j is None:
            i += 1  # a closer outside math, or an opener nothing closes
            continue
        spans.append((delims[i][0], delims[j][1]))
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
