import pytest

from arxiv2lm import pool
from arxiv2lm.text.mathspan import math_segments, math_spans, toggle_parity


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        (r"a \(x\) b", [r"\(x\)"]),  # \(
        (r"a \) b", []),  # \) alone
        (r"a \[x\] b", [r"\[x\]"]),  # \[
        (r"a \] b", []),  # \] alone
        (r"\begin{align*}x\end{align*} y", [r"\begin{align*}x\end{align*}"]),  # \begin
        (r"\end{equation} y", []),  # \end alone
        (r"\begin{itemize}x\end{itemize}", []),  # not a math environment
        (r"costs \$5 and \$6", []),  # escape
        (r"\\$x$", ["$x$"]),  # an escaped backslash, then a real dollar
        ("a $$x+y$$ b", ["$$x+y$$"]),  # $$
        ("a $x$ and $y$", ["$x$", "$y$"]),  # $
        ("$$ never closed", []),
        (r"$a \(b$ c\)", [r"$a \(b$"]),  # inside math only the matching closer counts
        ("", []),
        ("é $α$", ["$α$"]),
    ],
)
def test_math_segment_alternatives(text: str, segments: list[str]) -> None:
    assert math_segments(text) == segments


def test_spans_are_offsets() -> None:
    assert math_spans("ab $c$") == [(3, 6)]


def test_toggle_parity_agrees_with_spans_on_closed_math() -> None:
    pieces = ["Let", " $", "x", "^2", "$", " and", " \\[", "y", "\\]", "."]
    open_before = []
    parity = 0
    for p in pieces:
        open_before.append(parity == 1)
        parity ^= toggle_parity(p)
    assert open_before == [False, False, True, True, True, False, False, True, True, False]


@pytest.mark.parametrize("text", ["\\(" * 500_000, "\\begin{align}" * 100_000, "$a" * 500_000])
def test_linear_on_hostile_input(text: str) -> None:
    try:
        pool.call_with_timeout(math_spans, text, 5.0)
    except pool.ItemTimeout:
        pytest.fail(f"math_spans took over 5 s on {len(text)} chars")


def test_spans_match_the_escape_any_character_rule_on_random_text() -> None:
    """The escape alternative matches only `\\\\` and `\\$`; the old `\\\\.` (any escaped
    character) gave the same spans, since every delimiter starts with `\\` or `$`."""
    import random
    import re

    from arxiv2lm.text import mathspan

    old_alternatives = [r"\\." if a == r"\\[\\$]" else a for a in mathspan._DELIMITER_ALTERNATIVES]
    old = re.compile("|".join(old_alternatives), re.DOTALL)
    rng = random.Random(0)
    pieces = ["\\", "$", "(", ")", "[", "]", "{", "}", "x", " ", "\\begin{align}", "\\end{align}"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        new_spans = math_spans(text)
        mathspan.DELIMITER, saved = old, mathspan.DELIMITER
        try:
            assert math_spans(text) == new_spans, text
        finally:
            mathspan.DELIMITER = saved
