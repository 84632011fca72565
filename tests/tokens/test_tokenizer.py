"""Tokenizer training: exact round trips, atomic LaTeX symbols, determinism, refusals."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sentencepiece as spm

from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.symbols import mine_latex_symbols
from arxiv2lm.tokens.tokenizer import (
    MAX_SENTENCE_CHARS,
    is_heldout,
    plan_sample,
    sentences,
    train_baseline,
    train_tokenizer,
)

from .conftest import corpus_docs, make_params

TRICKY = [
    "",
    "a",
    "Poincaré Erdős Ñ 東京",
    r"$$\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$$ and $\alpha_{ij}^{(k)}$",
    r"a \\ b \\\\ c",
    "$$",
    "3141592653589793238462643383279502884197",
    "line one\nline two\n\n\nafter blank lines\n",
    "  two  spaces   three    four ",
    "\ttab\t\tand\t",
    " leading space",
    "\n",
    "mixed \r\n endings 🤖 \x00 \u00a0",
]


def processor(tok_dir: Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(tok_dir / "tokenizer.model"))


@pytest.mark.parametrize("text", TRICKY)
def test_round_trip_is_byte_exact(trained: tuple[Path, dict], text: str) -> None:
    sp = processor(trained[0])
    assert sp.decode(sp.encode(text)).encode("utf-8") == text.encode("utf-8")


def test_newline_is_its_own_token(trained: tuple[Path, dict]) -> None:
    sp = processor(trained[0])
    assert [sp.id_to_piece(i) for i in sp.encode("a\nb")] == ["a", "\n", "b"]


def test_mined_symbols_are_atomic(trained: tuple[Path, dict]) -> None:
    sp = processor(trained[0])
    symbols = trained[1]["symbols"]
    assert {r"\frac", r"\begin{align}", r"\end{align}"} <= set(symbols)
    for sym in symbols:
        assert [sp.id_to_piece(i) for i in sp.encode(sym)] == [sym]


def test_mining_order_is_count_then_name() -> None:
    text = r"\beta \alpha \beta \gamma \alpha \begin{proof} \end{proof} \begin{proof}"
    assert mine_latex_symbols([text], 4) == [r"\alpha", r"\begin{proof}", r"\beta", r"\end{proof}"]


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        (r"\begin{align*}", r"\begin{align*}"),
        (r"\end{align*}", r"\end{align*}"),
        (r"\mathbb{R}", r"\mathbb"),
    ],
)
def test_each_symbol_alternative(text: str, symbol: str) -> None:
    assert mine_latex_symbols([text], 5) == [symbol]


def test_bare_begin_and_overlong_commands() -> None:
    assert mine_latex_symbols(["\\begin \\" + "x" * 40], 5) == [r"\begin"]


def test_training_is_deterministic(tmp_path: Path, trained: tuple[Path, dict]) -> None:
    stats = train_tokenizer(corpus_docs(), make_params(), tmp_path)
    model = (tmp_path / "tokenizer.model").read_bytes()
    assert hashlib.sha256(model).hexdigest() == trained[1]["model_sha256"]
    assert model == (trained[0] / "tokenizer.model").read_bytes()
    assert stats["symbols"] == trained[1]["symbols"]


def test_vocab_too_large_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocab_size 50000"):
        train_tokenizer(["tiny text here"] * 3, make_params(vocab_size=50000), tmp_path)


def test_user_symbols_must_fit(tmp_path: Path) -> None:
    params = make_params(
        latex_symbols="list", symbol_list=[f"\\c{i}" for i in range(20)], vocab_size=16
    )
    with pytest.raises(ValueError, match="vocab_size 16"):
        train_tokenizer(corpus_docs(), params, tmp_path)


def test_nfkc_normalises(tmp_path: Path) -> None:
    train_tokenizer(corpus_docs(), make_params(normalization="nfkc"), tmp_path)
    sp = processor(tmp_path)
    assert sp.decode(sp.encode("ﬁeld")) == "field"


def test_long_lines_are_cut() -> None:
    parts = list(sentences("x" * (MAX_SENTENCE_CHARS + 5) + "\nend"))
    assert [len(p) for p in parts] == [MAX_SENTENCE_CHARS, 5, 3]


def test_heldout_is_stable_and_disjoint() -> None:
    ids = [f"2301.{i:05d}" for i in range(2000)]
    params = make_params(heldout_fraction=0.1, sample_mb=1.0)
    train, held = plan_sample(((i, 10) for i in ids), params, 10**9)
    assert not set(train) & set(held)
    assert set(train) | set(held) == set(ids)
    assert 150 < len(held) < 250
    assert all(is_heldout(i, 0.1, 7) for i in held)
    assert plan_sample(((i, 10) for i in ids), params, 10**9) == (train, held)


def test_sample_is_bounded_by_sample_mb() -> None:
    params = make_params(heldout_fraction=0.0, sample_mb=1.0)
    train, _ = plan_sample(((f"id{i}", 2**18) for i in range(10)), params, 0)
    assert len(train) == 4


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a $$x+y$$ b", ["$$x+y$$"]), ("a $x$ and $y$", ["$x$", "$y$"]), (r"costs \$5 and \$6", [])],
)
def test_math_segment_alternatives(text: str, segments: list[str]) -> None:
    assert metrics.math_segments(text) == segments


def test_project_beats_baseline_on_exactness(trained: tuple[Path, dict]) -> None:
    held = [("math", d) for d in corpus_docs(5)]
    ours = metrics.evaluate(processor(trained[0]), held, trained[1]["top50_commands"])
    base = spm.SentencePieceProcessor(model_proto=train_baseline(corpus_docs(), make_params()))
    theirs = metrics.evaluate(base, held, trained[1]["top50_commands"])
    assert ours["roundtrip_rate"] == 1.0
    assert theirs["roundtrip_rate"] < 1.0
    assert ours["command_single_token_share"] > theirs["command_single_token_share"]
    assert set(ours["domains"]) == {"math"}
    assert ours["math_segments"] > 0


def test_newlines_survive_without_byte_fallback(tmp_path: Path) -> None:
    train_tokenizer(corpus_docs(), make_params(byte_fallback=False, vocab_size=150), tmp_path)
    sp = processor(tmp_path)
    text = "proof of\n\n  the lemma\tholds\n"
    assert sp.decode(sp.encode(text)) == text


def test_comparison_rows_put_ours_beside_the_baseline() -> None:
    from arxiv2lm.tokens.metrics import comparison_rows

    ours = {
        "tokens_per_char": 0.25,
        "tokens_per_word": 1.7,
        "domains": {"math": {"tokens_per_char": 0.3, "tokens_per_word": 2.0}},
    }
    base = {
        "tokens_per_char": 0.34,
        "tokens_per_word": 2.2,
        "domains": {"math": {"tokens_per_char": 0.4, "tokens_per_word": 2.5}},
    }
    rows = comparison_rows(ours, base)
    assert [(r["series"], r["tokens_per_char"]) for r in rows] == [
        ("all · project", 0.25),
        ("all · baseline", 0.34),
        ("math · project", 0.3),
        ("math · baseline", 0.4),
    ]
