"""`read_group`'s fast paths (first `}`, the nested-group regex) agree with the brace scan."""

import random
import re
import time

import pytest

from arxiv2lm.latex.scan import GROUP_DEPTH, read_group

_BRACE = re.compile(r"\\.|[{}]", re.S)
_WS = re.compile(r"[ \t]*\n?[ \t]*")


def _scan_group(text: str, i: int) -> tuple[str, int] | None:
    """The one-token-at-a-time scan, the reference for every path."""
    j = _WS.match(text, i).end()
    if j >= len(text) or text[j] != "{":
        return None
    depth = 0
    for m in _BRACE.finditer(text, j):
        if m.group(0) == "{":
            depth += 1
        elif m.group(0) == "}":
            depth -= 1
            if depth == 0:
                return text[j + 1 : m.start()], m.end()
    return None


ALPHABET = [*"ab{}\\ \t\n", "\\{", "\\}", "\\\\", "{{", "}}", "\\\n"]


@pytest.mark.parametrize("size", [0, 1, 3, 10, 40])
def test_read_group_equals_brace_scan_on_random_text(size: int) -> None:
    rng = random.Random(size)
    for _ in range(3000):
        text = "".join(rng.choices(ALPHABET, k=size))
        for i in (0, 1):
            assert read_group(text, i) == _scan_group(text, i), repr(text)


@pytest.mark.parametrize(
    "text,group",
    [
        ("{a\\\\}b}", ("a\\\\", 5)),  # an even backslash run: the brace closes
        ("{a\\}b}", ("a\\}b", 6)),  # an odd run: escaped
        ("{a\\{b}c}", ("a\\{b", 6)),  # an escaped opener opens nothing
        ("{" * GROUP_DEPTH + "x" + "}" * GROUP_DEPTH, ("{" * 7 + "x" + "}" * 7, 17)),
        ("{" * 12 + "x" + "}" * 12, ("{" * 11 + "x" + "}" * 11, 25)),  # deeper: the loop
        ("{a{b}", None),
    ],
)
def test_read_group_paths(text: str, group: tuple[str, int] | None) -> None:
    assert read_group(text, 0) == _scan_group(text, 0) == group


def test_read_group_unbalanced_megabyte_is_linear() -> None:
    start = time.process_time()
    for text in ["{" * 1_000_000 + "}", "{" + "{a}" * 300_000, "{" * 9 + "a" * 1_000_000 + "}"]:
        assert read_group(text, 0) is None
    assert time.process_time() - start < 2.0  # ~0.3 s; quadratic would take hours
