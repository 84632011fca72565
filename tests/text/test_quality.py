import pytest

from arxiv2lm import pool
from arxiv2lm.text.quality import check, normalize_doc, signals
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
