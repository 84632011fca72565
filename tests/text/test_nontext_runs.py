"""`ascii_run` (counted on translated UTF-8 bytes) equals the mean of the regex's runs."""

import random
import re

import pytest

from arxiv2lm.text.nontext import ascii_run

_ASCII_RUN = re.compile(r"[!-~]+")


def _regex_ascii_run(text: str) -> float:
    runs = _ASCII_RUN.findall(text)
    return sum(map(len, runs)) / len(runs) if runs else 0.0


# every ASCII char, Latin-1 and C1 controls, a wide char, an astral char, a lone surrogate
ALPHABET = [chr(i) for i in range(128)] + ["é", "\x85", "\xa0", "数", "\U0001f600", "\ud800"]


@pytest.mark.parametrize("size", [0, 1, 2, 10, 100, 1000])
def test_ascii_run_equals_regex_runs(size: int) -> None:
    rng = random.Random(size)
    for _ in range(500):
        text = "".join(rng.choices(ALPHABET, k=size))
        assert ascii_run(text) == _regex_ascii_run(text), repr(text)


@pytest.mark.parametrize(
    "text,mean",
    [("", 0.0), ("ab", 2.0), ("é", 0.0), ("aéb", 1.0), (" a bc ", 1.5), ("a\x00b~", 1.5)],
)
def test_ascii_run_edges(text: str, mean: float) -> None:
    assert ascii_run(text) == _regex_ascii_run(text) == mean
