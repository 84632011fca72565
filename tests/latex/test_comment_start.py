"""`_comment_start` (one possessive match) finds the `%` the old token scan found."""

import random
import re

import pytest

from arxiv2lm.latex.comments import _comment_start

_OLD_TOKENS = re.compile(
    "|".join(
        [
            r"\\verb\*?([^A-Za-z\s*])(?:.*?)\1",
            r"\\(?:url|href|path)\{[^}\n]*\}",
            r"\\.",
            r"%",
        ]
    )
)


def _old_comment_start(line: str) -> int:
    for m in _OLD_TOKENS.finditer(line):
        if m.group(0) == "%":
            return m.start()
    return -1


ALPHABET = [*"ab%\\|{}* !", "\\verb", "\\verb*", "\\url{", "\\href{", "\\path{", "\\%", "\\\\"]


@pytest.mark.parametrize("size", [0, 1, 3, 10, 40])
def test_comment_start_equals_token_scan(size: int) -> None:
    rng = random.Random(size)
    for _ in range(3000):
        line = "".join(rng.choices(ALPHABET, k=size))
        assert _comment_start(line) == _old_comment_start(line), repr(line)


@pytest.mark.parametrize(
    "line,start",
    [
        ("a % b", 2),
        ("50\\% of % x", 8),  # an escaped percent
        ("\\verb|%| % c", 9),  # hidden in \verb
        ("\\verb*!%! %", 10),
        ("\\url{a%b} %", 10),  # hidden in \url
        ("\\href{a%b}{t} %", 14),
        ("\\path{%} %", 9),
        ("\\verb|% never closed", 6),  # an unclosed \verb hides nothing
        ("\\\\% c", 2),  # after an escaped backslash
        ("no comment \\", -1),
    ],
)
def test_comment_start_each_token(line: str, start: int) -> None:
    assert _comment_start(line) == _old_comment_start(line) == start
