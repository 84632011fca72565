"""Tell binary junk from text, on extract's output before it is normalized.

A PDF, an image or random bytes named `main.tex` decodes (cp1252, else latin-1) into text
whose letters pass every quality threshold; two signals, read before normalization strips
control chars, catch it:

- `control_share`: controls (but tab, LF, FF, CR) and U+FFFD per char. Every binary
  format is full of bytes below 0x20 (random bytes: 11% as cp1252, 24% as latin-1 with
  C1; UTF-16 read as UTF-8: 50%); the 16 real papers and the sample: 0.
- `ascii_run`: mean length of the runs of printable non-space ASCII, which words and math
  keep short (real papers 5-9 chars) and base64 blobs do not (64-76). Runs of ASCII,
  not of any non-space char, so CJK text written without spaces is not junk.

>>> not_text("A plain sentence, $x^2$.") is None
True
>>> not_text("\\x00\\x01 PK" * 100)
Drop(reason='not_text', detail='control chars 40.0% of 500 (> 1%)')
"""

from __future__ import annotations

import re

from arxiv2lm.ledger import Drop

MAX_CONTROL_SHARE = 0.01  # junk is at 11% and up, text at 0: room for stray controls
MAX_ASCII_RUN = 32.0  # chars; real papers 5-9, base64 76 (64 in PEM)

_CONTROL_RANGES = [
    "\x00-\x08",  # C0 controls before tab
    "\x0b",  # vertical tab
    "\x0e-\x1f",  # C0 controls after CR
    "\x7f-\x9f",  # DEL and the C1 controls: bytes 0x7f-0x9f read as latin-1
    "\ufffd",  # the replacement char: bytes the codec could not decode
]
_CONTROL = re.compile("[" + "".join(_CONTROL_RANGES) + "]")
# UTF-8 bytes: printable non-space ASCII -> `a`, every other byte -> space. A multi-byte
# char has no ASCII byte, so the runs of `a` are the runs of printable ASCII chars.
_RUN_BYTES = bytes(ord("a") if 0x21 <= b <= 0x7E else ord(" ") for b in range(256))


def control_share(text: str) -> float:
    """Controls (but tab, LF, FF, CR) and U+FFFD per char of `text`.

    >>> control_share("ab\\x00\\ufffd")
    0.5
    """
    return len(_CONTROL.findall(text)) / len(text) if text else 0.0


def ascii_run(text: str) -> float:
    """Mean length of `text`'s runs of printable non-space ASCII.

    >>> ascii_run("ab cdef é")
    3.0
    """
    marked = text.encode("utf-8", "surrogatepass").translate(_RUN_BYTES)
    runs = marked.count(b" a") + marked.startswith(b"a")  # counted in C: 15x the regex
    return marked.count(b"a") / runs if runs else 0.0


def not_text(text: str) -> Drop | None:
    """A `not_text` Drop when `text` looks like binary junk or a blob, else None."""
    share = control_share(text)
    if share > MAX_CONTROL_SHARE:
        detail = f"control chars {share:.1%} of {len(text)} (> {MAX_CONTROL_SHARE:.0%})"
        return Drop("not_text", detail)
    mean = ascii_run(text)
    if mean > MAX_ASCII_RUN:
        return Drop("not_text", f"ASCII runs of {mean:.1f} chars on average (> {MAX_ASCII_RUN:g})")
    return None
