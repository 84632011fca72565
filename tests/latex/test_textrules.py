"""`finish` (chained replaces) gives the text of the one-regex pass it replaced."""

import random
import re

import pytest

from arxiv2lm.latex.textrules import LBRACE, LIGATURES, RBRACE, TILDE, finish

_OLD_LIGATURES = re.compile("|".join(["---", "--", "``", "''", "`", "~", "[{}]", "[ \t]+\n"]))
_OLD_MAP = {"---": "—", "--": "–", "``": "“", "''": "”", "`": "‘", "~": " ", "{": "", "}": ""}


def _old_finish(text: str) -> str:
    text = _OLD_LIGATURES.sub(lambda m: _OLD_MAP.get(m.group(0), "\n"), text)
    text = text.replace(LBRACE, "{").replace(RBRACE, "}").replace(TILDE, "~")
    text = re.sub(r"^[ \t]+", "", text, flags=re.M)
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text)


ALPHABET = [*"-`'~{} \t\nab", LBRACE, RBRACE, TILDE, "---", "``", "\u00a0"]


@pytest.mark.parametrize("size", [0, 1, 2, 5, 20, 200])
def test_finish_equals_old_regex_on_random_text(size: int) -> None:
    rng = random.Random(size)
    for _ in range(2000):
        text = "".join(rng.choices(ALPHABET, k=size))
        assert finish(text) == _old_finish(text), repr(text)


@pytest.mark.parametrize(
    "src,out",
    [
        ("a---b", "a—b"),
        ("a--b", "a–b"),
        ("a----b", "a—-b"),
        ("a-----b", "a—–b"),
        ("``q''", "“q”"),
        ("`q'", "‘q'"),
        ("a~b", "a b"),
        ("{a}", "a"),
        ("a-{}-b", "a--b"),  # braces go after the dashes: no en dash across them
        ("a \t\nb", "a\nb"),
        ("a~\nb", "a \nb"),  # a tie's space is no trailing blank
        ("a {}\nb", "a \nb"),
        ("  a\n\t b", "a\nb"),
        (f"{LBRACE}x{RBRACE}{TILDE}", "{x}~"),
    ],
)
def test_finish_each_ligature(src: str, out: str) -> None:
    assert finish(src) == _old_finish(src) == out
    assert len(LIGATURES) == 8
