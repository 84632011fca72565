import pytest

from arxiv2lm.text.normalize import normalize_text, text_hash


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
