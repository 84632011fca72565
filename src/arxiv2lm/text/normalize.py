"""Normalize extracted text: Unicode NFC, whitespace, one math delimiter convention.

A safety net behind `extract`: `\\(..\\)` -> `$..$`, `\\[..\\]` -> `$$..$$`; runs of spaces
and tabs after a visible character collapse to one space (a line's indentation stays),
trailing blanks go, at most one blank line in a row. Runs of combining marks are cut to
`MAX_MARKS` before NFC. Every step is linear in the text's length: a megabyte of `\\(`, a
line indented by a million spaces or a million combining marks takes milliseconds, where
a lazy `.+?` between delimiters that may be missing, or a blank run before a char that
fails, costs time quadratic in the run.

>>> normalize_text("Cafe\\u0301  x\\\\(a\\\\)\\n\\n\\n\\ny  ")
'Café x$a$\\n\\ny'
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata

# UAX #15 "stream-safe text format" allows at most 30 non-starters in a row. CPython's
# canonical reordering is quadratic in a run of them (120 k marks: 15-27 s, inside one C
# call that no SIGALRM interrupts), so the marks after the 30th of a run are dropped: no
# script writes more than a handful on one base (Vietnamese stacks 2), so only junk loses
# any. Four marks (U+0344, U+0F73, U+0F75, U+0F81) decompose to two, so NFC sees <= 60.
MAX_MARKS = 30


def _non_starter_class() -> str:
    """Regex class body of every code point whose decomposition starts with a non-starter
    (canonical combining class > 0): the characters that lengthen a run of marks.

    >>> print(_non_starter_class()[:21])  # combining diacriticals, but U+034F (a starter)
    \\U00000300-\\U0000034e
    """
    spans: list[list[int]] = []
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.combining(ch) == 0 and not (
            unicodedata.decomposition(ch)
            and unicodedata.combining(unicodedata.normalize("NFD", ch)[0])
        ):
            continue
        if spans and spans[-1][1] == cp - 1:
            spans[-1][1] = cp
        else:
            spans.append([cp, cp])
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in spans)


_MARKS = _non_starter_class()
# the lookbehinds start a match only at a run's first char: each run is scanned once
_MARK_RUN = re.compile(f"(?<![{_MARKS}])([{_MARKS}]{{{MAX_MARKS}}})[{_MARKS}]+")
# Every non-starter is at or above U+0300, so a long run of marks lies inside a long run of
# such chars, which one range test per char finds; `_MARKS` has ~100 astral ranges that
# sre tries one by one on every char (0.1 s/MB), so it only reads these runs. Patterns here
# open with a char class, not a lookbehind: sre then skips to a candidate char in C instead
# of running the matcher at every position (3-4x faster on papers); the lookbehinds that
# follow see the same chars, so the matches are those of the lookbehind-first forms.
_WIDE = "\\u0300-\\U0010ffff"
_WIDE_RUN = re.compile(f"[{_WIDE}](?<![{_WIDE}].)[{_WIDE}]{{{MAX_MARKS},}}")
# runs of blanks after a visible char collapse; a line's indentation (code listings) stays.
# A lone space after a visible char is already collapsed: only longer runs and a lone
# other blank match, so the common word gap costs no replacement.
_BLANK = "[ \\t\\u00a0\\u2009\\u202f\\u3000]"
_SPACES = re.compile(f"{_BLANK}(?<=\\S{_BLANK})(?:{_BLANK}+|(?<! ))")
# Where every blank is a space, `_SPACES` only matches runs of two or more: this form opens
# with a literal, which sre finds without stopping at each single space between words.
_OTHER_BLANK = re.compile("[\\t\\u00a0\\u2009\\u202f\\u3000]")
_SPACE_RUN = re.compile("  (?<=\\S  ) *")
_BLANKS = re.compile(r"\n\n\n+")  # a literal prefix, which sre searches for in C
_CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000-\uf8ff"
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
# a control char or a blank other than the space: what the two passes below look for
_ODD = re.compile(f"[{_CONTROL_CHARS}{_OTHER_BLANK.pattern[1:-1]}]")


def cap_marks(text: str) -> str:
    """`text` with every run of combining marks cut to its first `MAX_MARKS`.

    >>> cap_marks("a" + "\\u0301" * 40 + "b") == "a" + "\\u0301" * 30 + "b"
    True
    """
    return _WIDE_RUN.sub(lambda m: _MARK_RUN.sub(r"\1", m.group()), text)


def math_delimiters(text: str, opener: str, closer: str, dollars: str) -> str:
    """`text` with each `opener`..`closer` span holding at least one char as
    `dollars`..`dollars`, the nearest closer ending it (what a lazy regex would match).

    A plain scan: when no closer follows an opener, none follows a later one, so it stops
    there; the regex `\\\\\\((.+?)\\\\\\)` instead rescans the rest from every later opener.

    >>> math_delimiters("a \\\\( x \\\\) b \\\\(", "\\\\(", "\\\\)", "$")
    'a $x$ b \\\\('
    """
    out: list[str] = []
    pos = 0
    while (start := text.find(opener, pos)) >= 0:
        body = start + len(opener)
        end = text.find(closer, body + 1)
        if end < 0:
            break
        out += [text[pos:start], dollars, text[body:end].strip(), dollars]
        pos = end + len(closer)
    out.append(text[pos:])
    return "".join(out)


def normalize_text(text: str) -> str:
    """Return `text` in NFC with tidy whitespace and `$`/`$$` math only."""
    text = unicodedata.normalize("NFC", cap_marks(text))
    odd = _ODD.search(text) is not None  # most texts have neither kind: one scan, not two
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if odd:
        text = _CONTROL.sub("", text)
    text = math_delimiters(text, "\\(", "\\)", "$")
    text = math_delimiters(text, "\\[", "\\]", "$$")
    if odd and _OTHER_BLANK.search(text):
        text = _SPACES.sub(" ", text)
    elif "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    # blanks before each newline go (blanks at the very end go with the final strip anyway)
    text = "\n".join([line.rstrip(" \t") for line in text.split("\n")])
    text = _BLANKS.sub("\n\n", text)
    return text.strip()


def text_hash(text: str) -> str:
    """Hex digest used for exact de-duplication of normalized text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
