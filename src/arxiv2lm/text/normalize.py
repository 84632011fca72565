"""Normalize extracted text: Unicode NFC, whitespace, one math delimiter convention.

A safety net behind `extract`: `\\(..\\)` -> `$..$`, `\\[..\\]` -> `$$..$$`; runs of spaces
and tabs after a visible character collapse to one space (a line's indentation stays),
trailing blanks go, at most one blank line in a row.

>>> normalize_text("Cafe\\u0301  x\\\\(a\\\\)\\n\\n\\n\\ny  ")
'Café x$a$\\n\\ny'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_INLINE = re.compile(r"\\\((.+?)\\\)", re.S)
_DISPLAY = re.compile(r"\\\[(.+?)\\\]", re.S)
# runs of blanks after a visible char collapse; a line's indentation (code listings) stays
_SPACES = re.compile(r"(?<=\S)[ \t\u00a0\u2009\u202f\u3000]+")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ue000-\uf8ff]")


def normalize_text(text: str) -> str:
    """Return `text` in NFC with tidy whitespace and `$`/`$$` math only."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if "\\(" in text:
        text = _INLINE.sub(lambda m: "$" + m.group(1).strip() + "$", text)
    if "\\[" in text:
        text = _DISPLAY.sub(lambda m: "$$" + m.group(1).strip() + "$$", text)
    text = _SPACES.sub(" ", text)
    text = _TRAILING.sub("\n", text)
    text = _BLANKS.sub("\n\n", text)
    return text.strip()


def text_hash(text: str) -> str:
    """Hex digest used for exact de-duplication of normalized text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
