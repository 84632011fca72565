"""The sped-up normalize steps give exactly the text of the lookbehind-first regexes."""

import random
import re
import unicodedata

import pytest

from arxiv2lm.text.normalize import (
    _CONTROL,
    _MARK_RUN,
    MAX_MARKS,
    cap_marks,
    math_delimiters,
    normalize_text,
)

# the forms before the speed-up: each opens with a lookbehind, tried at every position
_OLD_WIDE_RUN = re.compile(f"(?<![\\u0300-\\U0010ffff])[\\u0300-\\U0010ffff]{{{MAX_MARKS + 1},}}")
_OLD_SPACES = re.compile(r"(?<=\S)[ \t\u00a0\u2009\u202f\u3000]+")
_OLD_TRAILING = re.compile(r"(?<![ \t])[ \t]+\n")
_OLD_BLANKS = re.compile(r"\n{3,}")


def _old_cap_marks(text: str) -> str:
    return _OLD_WIDE_RUN.sub(lambda m: _MARK_RUN.sub(r"\1", m.group()), text)


def _old_normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", _old_cap_marks(text))
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = math_delimiters(text, "\\(", "\\)", "$")
    text = math_delimiters(text, "\\[", "\\]", "$$")
    text = _OLD_SPACES.sub(" ", text)
    text = _OLD_TRAILING.sub("\n", text)
    text = _OLD_BLANKS.sub("\n\n", text)
    return text.strip()


# every blank the steps treat apart, newlines, CR, marks (one astral), wide non-marks, math
ALPHABET = [
    *" \t\n\r\u00a0\u2009\u202f\u3000\u2028\x0b\x0c\x07",
    *"ab$\\()[]",
    *"\u0301\u0308\u0344\U0001d165é数\ue000",
    "  ",
    "\n\n\n",
    "\u0301" * 31,
    "\u0301" * 29,
]


# spaces the only blank: the path that collapses runs of spaces alone
SPACES_ONLY = [c for c in ALPHABET if c not in "\t\u00a0\u2009\u202f\u3000"] + ["   "]


@pytest.mark.parametrize("alphabet", [ALPHABET, SPACES_ONLY], ids=["all_blanks", "spaces"])
@pytest.mark.parametrize("size", [0, 1, 2, 3, 10, 100, 1000])
def test_normalize_equals_old_regexes_on_random_text(alphabet: list[str], size: int) -> None:
    rng = random.Random(size)
    for _ in range(300 if size < 1000 else 30):
        text = "".join(rng.choices(alphabet, k=size))
        assert normalize_text(text) == _old_normalize(text), repr(text)
        assert cap_marks(text) == _old_cap_marks(text), repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "a \t\u00a0 b",  # a mixed run collapses to one space
        "a\tb a\u3000b a b",  # a lone non-space blank becomes a space, a lone space stays
        "\t  indented\n  x  \n",  # indentation stays, trailing blanks go
        "x" + "\u0301" * 40 + "数" * 40,  # a run of marks, then wide non-marks
        "数" * 40 + "\u0301" * 40,  # marks after wide non-marks: one wide run
        "a \n\n\n\n \nb",
    ],
)
def test_normalize_equals_old_regexes_on_edge_cases(text: str) -> None:
    assert normalize_text(text) == _old_normalize(text)
    assert cap_marks(text) == _old_cap_marks(text)
