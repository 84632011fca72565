"""Brace-aware readers for TeX arguments: `{group}`, `[optional]`, one token.

>>> read_group("  {a{b}c} d", 0)
('a{b}c', 9)
"""

from __future__ import annotations

import re

_BRACE = re.compile(r"\\.|[{}]", re.S)
_BRACKET = re.compile(r"\\.|[{}\[\]]", re.S)
_WS = re.compile(r"[ \t]*\n?[ \t]*")  # TeX skips blanks (not a blank line) before arguments
CONTROL_WORD = re.compile(r"\\([A-Za-z]+)")
GROUP_DEPTH = 8  # brace nesting `GROUP` matches in C; deeper groups take the scan loop


def _group_pattern(depth: int) -> re.Pattern[str]:
    """A `{...}` group nested at most `depth` deep, tokenized as `_BRACE` does (`\\.` is one
    token, so `\\}` closes nothing). Possessive: a failed match never backtracks."""
    pattern = r"\{(?:[^{}\\]++|\\.)*+\}"
    for _ in range(depth - 1):
        pattern = r"\{(?:[^{}\\]++|\\.|" + pattern + r")*+\}"
    return re.compile(pattern, re.S)


GROUP = _group_pattern(GROUP_DEPTH)


def read_group(text: str, i: int) -> tuple[str, int] | None:
    """Content of the `{...}` group at `text[i:]` (after blanks) and the index past it."""
    if text.startswith("{", i):
        j = i
    else:
        ws = _WS.match(text, i)
        j = ws.end() if ws else i
        if j >= len(text) or text[j] != "{":
            return None
    # in C, nested groups too (most of a paper's groups hold a brace): 1.15x a first-`}`
    # fast path for the groups without one
    m = GROUP.match(text, j)
    if m is not None:
        return text[j + 1 : m.end() - 1], m.end()
    if text.find("}", j + 1) < 0:
        return None  # never closed: no scan loop over the rest
    depth = 0
    for m in _BRACE.finditer(text, j):
        c = m.group(0)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1 : m.start()], m.end()
    return None


def read_optional(text: str, i: int) -> tuple[str, int] | None:
    """Content of a `[...]` argument at `text[i:]` (braces may hide `]`), or None."""
    ws = _WS.match(text, i)
    j = ws.end() if ws else i
    if j >= len(text) or text[j] != "[":
        return None
    depth = 0
    for m in _BRACKET.finditer(text, j + 1):
        c = m.group(0)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "]" and depth == 0:
            return text[j + 1 : m.start()], m.end()
    return None


def read_arg(text: str, i: int) -> tuple[str, int] | None:
    """One TeX argument: a brace group, a control sequence or a single character."""
    g = read_group(text, i)
    if g is not None:
        return g
    j = i
    while j < len(text) and text[j] in " \t\n":
        j += 1
    if j >= len(text) or text[j] in "}":
        return None
    if text[j] == "\\":
        m = CONTROL_WORD.match(text, j)
        end = m.end() if m else min(j + 2, len(text))
        return text[j:end], end
    return text[j], j + 1
