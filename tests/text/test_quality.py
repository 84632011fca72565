import random
import re

import pytest

from arxiv2lm import pool
from arxiv2lm.text.mathspan import math_spans
from arxiv2lm.text.quality import Signals, alpha_count, check, normalize_doc, signals
from tests.helpers import project_params

P = project_params(
    "normalize", min_chars=100, min_words=20, max_command_density=0.02, min_alpha_ratio=0.5,
    workers=1,
)  # fmt: skip
GOOD = "\n".join(f"Line {i} says something new about the energy of field {i}." for i in range(10))


def test_signals_values():
    s = signals("Hello world $x$ \\foo")
    assert s.words == 4 and s.chars == 20
    assert s.math_fraction == pytest.approx(3 / 20)
    assert s.command_density == pytest.approx(1 / 20)
    assert s.alpha_ratio == pytest.approx(14 / 17)


def test_commands_inside_math_do_not_count():
    assert signals("$\\alpha$ and $$\\beta$$ text").command_density == 0.0


def test_dup_line_fraction():
    assert signals("a\nb\na\na\n\n").dup_line_fraction == pytest.approx(0.5)


def test_good_doc_kept():
    assert check(signals(GOOD), P) is None


@pytest.mark.parametrize(
    "text,reason",
    [
        ("short text", "too_short"),
        ("x" * 200, "too_short"),  # enough chars, one word
        (GOOD + " \\foo" * 40, "command_heavy"),
        (GOOD + " 1234567890" * 100, "low_alpha"),
        (
            "\n".join(["The same repeated line of words here."] * 14) + "\n" + GOOD,
            "duplicate_lines",
        ),
    ],
)
def test_drop_reasons(text, reason):
    drop = check(signals(text), P)
    assert drop is not None and drop.reason == reason


def test_normalize_doc_roundtrip():
    d = normalize_doc(("id1", "A  b\n\n\n\nc"))
    assert (d.id, d.text, d.signals.chars) == ("id1", "A b\n\nc", 6)


MB = 1_000_000


@pytest.mark.parametrize(
    "text,math_fraction",
    [
        ("$$" + "a" * MB, 0.0),  # a display opener that nothing closes
        ("$" + "\\$" * (MB // 2), 0.0),  # an inline opener, then only escaped dollars
        ("$" * MB, 1.0),  # `$$$$$` after `$$$$$`: all math
        ("\\" * MB, 0.0),
    ],
)
def test_signals_linear_on_hostile_megabyte(text: str, math_fraction: float) -> None:
    # the audit of the `_MATH` regex: a lazy `.+?` that fails rescans at most 3 openers
    try:
        s = pool.call_with_timeout(signals, text, 2.0)  # ~0.15 s on a 2-core dev machine
    except pool.ItemTimeout:
        pytest.fail(f"signals took over 2 s on {len(text)} chars")
    assert s.math_fraction == pytest.approx(math_fraction)


def _reference_signals(text: str) -> Signals:
    """The per-char implementation the fast paths replaced, kept as the oracle."""
    n = len(text)
    math_chars = sum(end - start for start, end in math_spans(text))
    pieces, pos = [], 0
    for start, end in math_spans(text):
        pieces.append(text[pos:start])
        pos = end
    prose = " ".join([*pieces, text[pos:]])
    nonspace = n - sum(text.count(c) for c in " \n\t")
    alpha = sum(1 for c in text if c.isalpha())
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return Signals(
        chars=n,
        words=len(re.findall(r"\S+", text)),
        math_fraction=math_chars / n if n else 0.0,
        command_density=len(re.findall(r"\\[A-Za-z]+", prose)) / n if n else 0.0,
        alpha_ratio=alpha / nonspace if nonspace else 0.0,
        dup_line_fraction=(len(lines) - len(set(lines))) / len(lines) if lines else 0.0,
    )


# ASCII (controls and every whitespace char included), then Latin-1 letters and signs,
# combining marks, Greek, NBSP and other Unicode spaces, CJK, an astral letter, emoji and a
# lone surrogate
ASCII_ALPHABET = [chr(i) for i in range(128)] + ["the ", "$x$ ", "\\alpha ", "\n", "$$"]
UNICODE_ALPHABET = ASCII_ALPHABET + list(
    "éÉßøµ×÷ª\u0301\u0308αβΣ\u00a0\u2009\u3000\u2028\x85\x1c数学\U0001d49c\U0001f600\ufffd\ud800"
)


@pytest.mark.parametrize("alphabet", [ASCII_ALPHABET, UNICODE_ALPHABET], ids=["ascii", "unicode"])
def test_signals_equal_reference_on_random_text(alphabet: list[str]) -> None:
    rng = random.Random(12)
    for size in [0, 1, 2, 5, 50, 500, 5000]:
        for _ in range(20):
            text = "".join(rng.choices(alphabet, k=size))
            assert signals(text) == _reference_signals(text), repr(text[:80])
    for tricky in ["", "a", "é", "\U0001d49c", " \t\n", "数学 ab", "x" * 3 + "\u0301" * 3]:
        assert signals(tricky) == _reference_signals(tricky)


def test_alpha_count_counts_every_isalpha_char() -> None:
    text = "".join(chr(cp) for cp in range(0x30000) if not 0xD800 <= cp < 0xE000)
    assert alpha_count(text) == sum(c.isalpha() for c in text)
    assert alpha_count(text[:128]) == 52
