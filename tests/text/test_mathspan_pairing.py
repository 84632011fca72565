"""`math_spans` pairs delimiters with `list.index` jumps; checked against the plain rule it
implements: each opener takes the first closer of its kind after it, else it is skipped."""

import random

import pytest

from arxiv2lm.text.mathspan import DELIMITER, _closer, _kind, math_spans


def _reference(text: str) -> list[tuple[int, int]]:
    delims = [(m.start(), m.end(), k) for m in DELIMITER.finditer(text) if (k := _kind(m.group()))]
    spans, i = [], 0
    while i < len(delims):
        closer = _closer(delims[i][2])
        j = next((j for j in range(i + 1, len(delims)) if delims[j][2] == closer), None)
        if closer is None or j is None:
            i += 1
            continue
        spans.append((delims[i][0], delims[j][1]))
        i = j + 1
    return spans


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        (r"\( a \( b \) c", [(0, 12)]),  # the first opener takes the first closer
        (r"\( a $b$ \(", [(5, 8)]),  # an opener with no closer after it is text
        (r"$a$ \\$b$ \$ $c", [(0, 3), (6, 9)]),  # escapes are no delimiters
        (r"\] $x$ \end{align}", [(3, 6)]),  # closers outside math
        (r"\begin{align}a\end{align*}\end{align}", [(0, 26)]),  # starred or not: one kind
    ],
)
def test_pairing(text: str, spans: list[tuple[int, int]]) -> None:
    assert math_spans(text) == spans == _reference(text)


def test_pairing_matches_reference_on_random_delimiters() -> None:
    rng = random.Random(0)
    alphabet = ["$", "$$", r"\(", r"\)", r"\[", r"\]", "\\\\", r"\$", "a", " ", "\\"]
    alphabet += [r"\begin{align}", r"\end{align}", r"\begin{equation*}", r"\end{equation*}"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert math_spans(text) == _reference(text), text
