import random
import re
import time
import unicodedata
from collections.abc import Callable

import pytest

from arxiv2lm import pool
from arxiv2lm.text.normalize import (
    MAX_MARKS,
    cap_marks,
    math_delimiters,
    normalize_text,
    text_hash,
)


@pytest.mark.parametrize(
    "src,out",
    [
        ("", ""),
        ("x", "x"),
        ("Cafe\u0301", "Café"),  # NFC
        ("a  \t b", "a b"),
        ("a \nb", "a\nb"),
        ("a\n\n\n\nb", "a\n\nb"),
        ("  a  ", "a"),
        ("\\(x\\) and \\[y\\]", "$x$ and $$y$$"),
        ("$a$ and $$b$$", "$a$ and $$b$$"),
        ("a\ue000b\x07c", "abc"),  # private-use placeholders and control chars
        ("a\u00a0b", "a b"),
    ],
)
def test_normalize(src, out):
    assert normalize_text(src) == out


def test_code_indentation_kept():
    assert normalize_text("def f():\n    return  1") == "def f():\n    return 1"


def test_idempotent_on_tricky_text():
    s = "Ünïcödé  $\\alpha$\n\n\n\\(x\\)\t \nend "
    once = normalize_text(s)
    assert normalize_text(once) == once


def test_hash_equal_iff_text_equal():
    assert text_hash("a") == text_hash("a") != text_hash("b")


# --- hostile input: every step linear, combining-mark runs capped ---------------------------

OLD_INLINE = re.compile(r"\\\((.+?)\\\)", re.S)  # the quadratic regexes, kept as the spec
OLD_DISPLAY = re.compile(r"\\\[(.+?)\\\]", re.S)


def _within(seconds: float, fn: Callable[[str], str], text: str) -> str:
    """`fn(text)`, failing the test when it takes over `seconds` (sre checks signals)."""
    try:
        return pool.call_with_timeout(fn, text, seconds)
    except pool.ItemTimeout:
        pytest.fail(f"{fn.__name__} took over {seconds}s on {len(text)} chars")


MB = 1_000_000
HOSTILE = {
    # a lazy `.+?` after an opener that no closer follows rescans the rest from each opener
    "inline_openers": ("\\(" * (MB // 2), "\\(" * (MB // 2)),
    "display_openers": ("\\[" * (MB // 2), "\\[" * (MB // 2)),
    "inline_pairs": ("\\(x\\) " * (MB // 6), ("$x$ " * (MB // 6)).strip()),
    # `[ \t]+\n` tried from each blank of a run that a visible char ends
    "indent_spaces": (" " * MB + "x", "x"),
    "indent_tabs": ("y\n" + "\t" * MB + "x", "y\n" + "\t" * MB + "x"),
    "blank_lines": ("a" + "\n" * MB + "b", "a\n\nb"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_megabyte_is_fast(name: str) -> None:
    src, out = HOSTILE[name]
    # linear: ~0.1 s on a 2-core dev machine; the old quadratic steps took 150 s and up
    assert _within(2.0, normalize_text, src) == out


def test_a_million_combining_marks_in_well_under_a_second() -> None:
    # canonical reordering runs in C, deaf to SIGALRM, quadratic in a run of marks of mixed
    # classes (230, 220): 50 k marks take ~2 s uncapped, a million ~15 min, so the small
    # one goes first and fails fast without the cap
    capped = unicodedata.normalize("NFC", "a" + "\u0301\u0323" * (MAX_MARKS // 2))
    assert _within(0.5, normalize_text, "a" + "\u0301\u0323" * 25_000) == capped
    start = time.perf_counter()
    assert normalize_text("a" + "\u0301\u0323" * (MB // 2)) == capped
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "Tiếng Việt: người được những nghiêng, ữ ặ ỗ ậ ệ ộ.",  # stacked marks, NFC
        "Ελληνικά ᾅ ᾧ, Ünïcödé, Dvořák, Łódź, Ærøskøbing",
        "数学的帰納法によって証明する。" * 40,  # a long run of wide chars, no marks
        "ά" * 100,  # Greek letters with one decomposed mark each: a wide run of 200
        "x" + "\u0301" * MAX_MARKS,  # exactly the cap
    ],
)
def test_ordinary_marks_unchanged(text: str) -> None:
    nfc = unicodedata.normalize("NFC", text)
    assert cap_marks(text) == text
    assert normalize_text(text) == nfc
    assert normalize_text(unicodedata.normalize("NFD", text)) == nfc


@pytest.mark.parametrize(
    "base,mark",
    [
        ("a", "\u0301"),  # combining acute (ccc 230)
        ("\u05d0", "\u05b0"),  # Hebrew sheva (ccc 10)
        ("\u0f40", "\u0f73"),  # Tibetan: ccc 0 but decomposes to two non-starters
        ("\U0001e900", "\U0001e944"),  # Adlam: an astral mark
    ],
)
def test_cap_marks_keeps_the_first_thirty(base: str, mark: str) -> None:
    kept = base + mark * MAX_MARKS
    assert cap_marks(base + mark * (MAX_MARKS + 9) + " b") == kept + " b"
    assert cap_marks("x " + base + mark * 5000) == "x " + kept


def test_run_of_marks_split_by_a_starter_is_two_runs() -> None:
    # U+034F (combining grapheme joiner) has class 0: UAX #15 inserts it to split runs
    text = "a" + "\u0301" * 20 + "\u034f" + "\u0301" * 20
    assert cap_marks(text) == text


@pytest.mark.parametrize(
    "opener,closer,dollars,old",
    [("\\(", "\\)", "$", OLD_INLINE), ("\\[", "\\]", "$$", OLD_DISPLAY)],
)
def test_math_delimiters_match_the_old_regex(
    opener: str, closer: str, dollars: str, old: re.Pattern[str]
) -> None:
    rng = random.Random(5)
    pieces = [opener, closer, " ", "x", "\\", "(", ")", "[", "]"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        want = old.sub(lambda m: dollars + m.group(1).strip() + dollars, text)
        assert math_delimiters(text, opener, closer, dollars) == want, text


@pytest.mark.parametrize(
    "src,out",
    [
        ("a \t \nb", "a\nb"),  # trailing blanks after text
        ("a\n \t \nb", "a\n\nb"),  # a line of blanks only
        ("a\n    b  \n", "a\n    b"),  # indentation kept, trailing blanks gone
        ("a\n" + " " * 5000 + "b", "a\n" + " " * 5000 + "b"),  # a run that `b` ends stays
    ],
)
def test_trailing_blanks(src: str, out: str) -> None:
    assert normalize_text(src) == out
