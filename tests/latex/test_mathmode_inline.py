"""`_inline_close`'s regex path finds the closer the token scan finds, or defers to it."""

import random
import re

import pytest

from arxiv2lm.latex.mathmode import _inline_close, protect, restore

_SCAN = re.compile(r"\\.|[{}$]|\n[ \t]*\n", re.S)


def _scan_close(text: str, start: int) -> int | None:
    """The token-at-a-time scan, the reference."""
    depth = 0
    for m in _SCAN.finditer(text, start):
        tok = m.group(0)
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth = max(0, depth - 1)
        elif tok == "$":
            if depth == 0:
                return m.start()
        elif tok[0] == "\n":
            return None
    return None


ALPHABET = [*"ab{}$\\ \t\n", "\\$", "\\{", "\\}", "\\\\", "\n\n", "\n \n", "{{", "}}"]


@pytest.mark.parametrize("size", [0, 1, 3, 10, 40])
def test_inline_close_equals_token_scan(size: int) -> None:
    rng = random.Random(size)
    for _ in range(3000):
        text = "".join(rng.choices(ALPHABET, k=size))
        for start in (0, 1):
            assert _inline_close(text, start) == _scan_close(text, start), repr(text)


@pytest.mark.parametrize(
    "text,close",
    [
        ("a \\text{ if $b$} c$", 18),  # `$` inside braces closes nothing
        ("a}b$", 3),  # a `}` outside braces is ignored
        ("a\\$b$", 4),  # an escaped dollar
        ("a\n \nb$", None),  # a blank line ends inline math
        ("a\nb$", 3),  # a single newline does not
        ("{" * 8 + "$" + "}" * 8 + "$", 17),  # deeper than the regex: the scan
        ("{a$", None),
    ],
)
def test_inline_close_cases(text: str, close: int | None) -> None:
    assert _inline_close(text, 0) == _scan_close(text, 0) == close


def test_protect_inline_math_roundtrip() -> None:
    text, spans = protect("x $a_{b$c}$ y $unclosed")
    assert restore(text, spans) == "x $a_{b$c}$ y $unclosed"
