"""Tokenizer training: exact round trips, atomic LaTeX symbols, determinism, refusals,
and a sample drawn from the shard stage's train split only."""

from __future__ import annotations

import hashlib
import importlib
import shutil
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
import yaml

from arxiv2lm.io import file_sha256, read_json
from arxiv2lm.text.mathspan import math_segments
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.shards import split_of
from arxiv2lm.tokens.symbols import mine_latex_symbols, top_by_saving, top_symbols
from arxiv2lm.tokens.tokenizer import (
    MAX_SENTENCE_CHARS,
    is_heldout,
    plan_sample,
    prose_cut,
    sentences,
    train_baseline,
    train_tokenizer,
)

from .conftest import corpus_docs, make_params

ROOT = Path(__file__).resolve().parents[2]
IDS = [f"2301.{i:05d}" for i in range(2000)]

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


def test_newline_is_in_the_alphabet_and_can_merge(trained: tuple[Path, dict]) -> None:
    sp = processor(trained[0])
    assert not sp.is_unknown(sp.piece_to_id("\n"))
    assert not sp.is_byte(sp.encode("\n")[0])
    # trained on paragraphs, BPE learns pieces that hold a newline (the corpus has "}\n")
    assert any("\n" in sp.id_to_piece(i) and sp.id_to_piece(i) != "\n" for i in range(400))


def test_mined_symbols_are_atomic(trained: tuple[Path, dict]) -> None:
    sp = processor(trained[0])
    symbols = trained[1]["symbols"]
    assert {r"\frac", r"\begin{align}", r"\end{align}"} <= set(symbols)
    for sym in symbols:
        assert [sp.id_to_piece(i) for i in sp.encode(sym)] == [sym]


def test_mining_order_is_characters_saved_then_name() -> None:
    # saved = count x (len - 1): begin{proof} 2x12, alpha 2x5, end{proof} 1x10, beta 2x4
    text = r"\beta \alpha \beta \gamma \alpha \begin{proof} \end{proof} \begin{proof}"
    want = [r"\begin{proof}", r"\alpha", r"\end{proof}", r"\beta"]
    assert mine_latex_symbols([text], 4) == want


def test_a_frequent_short_command_ranks_below_a_longer_one() -> None:
    assert top_by_saving(Counter({r"\,": 50, r"\mathbb": 10}), 2) == [r"\mathbb", r"\,"]
    assert top_symbols(Counter({r"\,": 50, r"\mathbb": 10}), 2) == [r"\,", r"\mathbb"]


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


def test_long_paragraphs_are_cut() -> None:
    parts = list(sentences("x" * (MAX_SENTENCE_CHARS + 5) + "\nend"))
    assert [len(p) for p in parts] == [MAX_SENTENCE_CHARS, 9]
    assert "".join(parts).endswith("x\nend")


def test_sentences_are_paragraphs_packed_to_the_limit() -> None:
    para = "y" * (MAX_SENTENCE_CHARS // 2) + "\n\n\n"
    parts = list(sentences(para * 3))
    assert parts == [para, para, para]  # two do not fit in one sentence
    assert list(sentences("a\nb\n\nc")) == ["a\nb\n\nc"]  # short ones are packed
    assert list(sentences("")) == []


def test_split_by_script_off_lets_latex_punctuation_join(tmp_path: Path) -> None:
    docs = corpus_docs()
    train_tokenizer(docs, make_params(latex_symbols="none"), tmp_path / "joined")
    train_tokenizer(docs, make_params(latex_symbols="none", split_by_script=True), tmp_path / "s")
    mixed = [processor(tmp_path / d).id_to_piece(i) for d in ("joined", "s") for i in range(400)]
    joined, split = mixed[:400], mixed[400:]

    def latex(pieces: list[str]) -> list[str]:  # a letter beside a backslash or brace
        return [p for p in pieces if any(c.isalpha() for c in p) and any(c in "\\{}" for c in p)]

    assert latex(joined) and not latex(split)


def test_prose_cut_keeps_math_whole_and_every_character() -> None:
    text = "we see (Fig. 2), $x_{i}^{2}$ and \\[ a, b \\] then\n\nnext-step."
    parts = list(prose_cut(text))
    assert "".join(parts) == text
    assert "$x_{i}^{2}$" in "".join(p for p in parts if "$" in p)  # math is never cut
    assert r"\[ a, b \]" in "".join(parts[parts.index(next(p for p in parts if "\\[" in p)) :])
    assert parts[:3] == ["we see (", "Fig", ". 2"] and parts[-3:] == ["-", "step", "."]
    assert list(prose_cut("")) == [] and list(prose_cut("word")) == ["word"]


def test_split_prose_punct_keeps_prose_pieces_apart_from_punctuation(tmp_path: Path) -> None:
    docs = ["the model, as (see above) the model; " * 20 + "$\\frac{a}{b} + x^{2}$ " * 20] * 30
    for cut in (True, False):
        params = make_params(split_prose_punct=cut, vocab_size=300)
        train_tokenizer(docs, params, tmp_path / str(cut))
    pieces = {
        cut: {processor(tmp_path / str(cut)).id_to_piece(i) for i in range(300)}
        for cut in (True, False)
    }

    def glued(ps: set[str]) -> set[str]:  # a letter with prose punctuation (math has none)
        return {p for p in ps if any(c.isalpha() for c in p) and any(c in ",;()" for c in p)}

    assert glued(pieces[False]) and not glued(pieces[True])
    assert any("{a}" in p or "}{" in p or "^{" in p for p in pieces[True])  # math still joins


def test_math_and_prose_are_counted_apart(trained: tuple[Path, dict]) -> None:
    sp = processor(trained[0])
    text = r"the proof $\frac{a}{b}$ holds"
    counts = metrics.count_doc(sp, text, set())
    assert counts["math_segments"] == 1
    assert counts["math_chars"] == len(r"$\frac{a}{b}$")
    assert counts["prose_chars"] == len(text) - counts["math_chars"]
    assert counts["math_tokens"] == len(sp.encode(r"$\frac{a}{b}$"))
    res = metrics.evaluate(sp, [("math", text), ("cs", "plain words")], [r"\frac"])
    assert res["domains"]["cs"]["tokens_per_math_segment"] == 0.0
    assert res["domains"]["math"]["math_tokens_per_char"] > 0
    assert res["roundtrip_rate"] == 1.0


def _plan(val_fraction: float = 0.1, salt: str = "s", **changes: object) -> tuple:
    params = make_params(**{"heldout_fraction": 0.05, "sample_mb": 1.0, **changes})
    return plan_sample(((i, 10) for i in IDS), params, 10**9, val_fraction, salt)


def _val(val_fraction: float = 0.1, salt: str = "s") -> set[str]:
    return {i for i in IDS if split_of(i, val_fraction, salt) == "val"}


def test_sample_never_includes_a_val_paper() -> None:
    plan = _plan()
    assert 150 < len(_val()) < 250
    assert not set(plan.train) & _val()
    # sample_mb holds every paper here: the sample is exactly the train split
    assert set(plan.train) == set(IDS) - _val()


def test_heldout_comes_from_val_and_is_never_trained_on() -> None:
    plan = _plan()
    assert plan.heldout_split == "val"
    assert not set(plan.heldout) & set(plan.train)
    # heldout_fraction 0.05 of the corpus out of a 0.1 val split: half the val papers
    assert set(plan.heldout) == {i for i in _val() if is_heldout(i, 0.5, 7)}
    assert 0.4 < len(plan.heldout) / len(_val()) < 0.6
    assert plan == _plan()


def test_val_split_is_split_of() -> None:
    # heldout_fraction >= val_fraction scores the whole val split (and no more)
    for heldout_fraction in (0.1, 0.5):
        plan = _plan(heldout_fraction=heldout_fraction)
        assert set(plan.heldout) == _val()
        assert set(plan.train) | set(plan.heldout) == set(IDS)


def test_changing_the_salt_changes_the_sample() -> None:
    a, b = _plan(salt="a"), _plan(salt="b")
    assert set(a.train) != set(b.train)
    assert set(a.heldout) != set(b.heldout)
    assert not set(b.train) & _val(salt="b")
    assert set(a.train) & _val(salt="b")  # what salt "b" validates on, salt "a" trained on


def test_no_val_split_holds_out_part_of_train() -> None:
    plan = _plan(val_fraction=0.0, heldout_fraction=0.1)
    assert plan.heldout_split == "train"
    assert not set(plan.train) & set(plan.heldout)
    assert set(plan.train) | set(plan.heldout) == set(IDS)
    assert set(plan.heldout) == {i for i in IDS if is_heldout(i, 0.1, 7)}
    assert 150 < len(plan.heldout) < 250


def test_a_val_split_drawn_empty_falls_back_to_train() -> None:
    # 0.001 of 5 papers: the hash puts none of them in val
    ids = IDS[:5]
    assert not {i for i in ids if split_of(i, 0.001, "s") == "val"}
    params = make_params(heldout_fraction=0.5)
    plan = plan_sample(((i, 10) for i in ids), params, 10**9, 0.001, "s")
    assert plan.heldout_split == "train"
    assert set(plan.heldout) == {i for i in ids if is_heldout(i, 0.5, 7)}
    assert set(plan.train) == set(ids) - set(plan.heldout)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"val_fraction": 1.0}, "val_fraction 1.0 must be in"),
        ({"heldout_fraction": 1.5}, "heldout_fraction 1.5 must be in"),
    ],
)
def test_fractions_out_of_range_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _plan(**changes)


def test_sample_is_bounded_by_sample_mb() -> None:
    params = make_params(heldout_fraction=0.0, sample_mb=1.0)
    plan = plan_sample(((f"id{i}", 2**18) for i in range(10)), params, 0, 0.0, "s")
    assert len(plan.train) == 4


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a $$x+y$$ b", ["$$x+y$$"]), ("a $x$ and $y$", ["$x$", "$y$"]), (r"costs \$5 and \$6", [])],
)
def test_math_segment_alternatives(text: str, segments: list[str]) -> None:
    assert math_segments(text) == segments


def test_project_beats_baseline_on_exactness(trained: tuple[Path, dict]) -> None:
    held = [("math", d) for d in corpus_docs(5)]
    ours = metrics.evaluate(processor(trained[0]), held, trained[1]["top_commands"])
    base = spm.SentencePieceProcessor(model_proto=train_baseline(corpus_docs(), make_params()))
    theirs = metrics.evaluate(base, held, trained[1]["top_commands"])
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


def _stage_project(root: Path, val_fraction: float, salt: str) -> list[str]:
    """params.yaml with a tiny tokenizer and the given split, and a normalize part of 60
    papers whose first line is their id; returns the ids."""
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    doc["tokenizer"].update(
        vocab_size=400, n_mined_symbols=12, character_coverage=1.0, heldout_fraction=0.05, seed=7
    )
    doc["shard"].update(val_fraction=val_fraction, split_salt=salt)
    (root / "params.yaml").write_text(yaml.safe_dump(doc))
    ids = [f"2301.{i:05d}" for i in range(60)]
    texts = [f"paper {i}\n{body}" for i, body in zip(ids, corpus_docs(60), strict=True)]
    (root / "normalize/parts").mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": ids, "domain": ["math"] * len(ids), "text": texts,
                      "bytes": [len(t.encode()) for t in texts]})  # fmt: skip
    pq.write_table(table, root / "normalize/parts/arXiv_src_2301_001.parquet")
    return ids


def test_stage_trains_on_the_train_split_and_scores_val(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = importlib.import_module("stages.tokenizer")
    trained_on: list[str] = []

    def spy(texts: list[str], *args: object, **kwargs: object) -> dict:
        trained_on[:] = [t.split("\n", 1)[0].removeprefix("paper ") for t in texts]
        return train_tokenizer(texts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stage, "train_tokenizer", spy)
    monkeypatch.chdir(tmp_path)
    argv = ["normalize", "tokenizer", "reports/tokenizer.json", "reports/tokenizer.csv"]
    seen = {}
    for salt in ("a", "b"):
        ids = _stage_project(tmp_path, 0.25, salt)
        val = {i for i in ids if split_of(i, 0.25, salt) == "val"}
        stage.main(argv)
        stats = read_json(tmp_path / "tokenizer/stats.json")
        assert set(trained_on) == set(ids) - val  # the whole train split, no val paper
        held = {i for i in val if is_heldout(i, 0.05 / 0.25, 7)}
        assert stats["heldout"]["docs"] == len(held)
        assert stats["heldout_split"] == "val"
        assert stats["split"] == {"val_fraction": 0.25, "split_salt": salt}
        seen[salt] = set(trained_on)
        shutil.rmtree(tmp_path / "tokenizer")
    assert seen["a"] != seen["b"]


def test_a_pinned_tokenizer_is_kept_and_scored_on_the_new_papers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trained: tuple[Path, dict]
) -> None:
    """`tokenizer.reuse`: the model is copied byte for byte (so every shard unit keeps its
    key), nothing is trained for it, and it is scored on this run's held-out papers."""
    stage = importlib.import_module("stages.tokenizer")
    monkeypatch.chdir(tmp_path)
    _stage_project(tmp_path, 0.25, "a")
    pinned = trained[0] / "tokenizer.model"
    doc = yaml.safe_load((tmp_path / "params.yaml").read_text())
    doc["tokenizer"]["reuse"] = str(pinned)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))

    def refuse(*args: object, **kwargs: object) -> dict:
        raise AssertionError("a pinned tokenizer must not be trained")

    monkeypatch.setattr(stage, "train_tokenizer", refuse)
    stage.main(["normalize", "tokenizer", "reports/tokenizer.json", "reports/tokenizer.csv"])
    assert (tmp_path / "tokenizer/tokenizer.model").read_bytes() == pinned.read_bytes()
    stats = read_json(tmp_path / "tokenizer/stats.json")
    assert stats["pinned"] == str(pinned)
    assert stats["model_sha256"] == file_sha256(pinned)
    assert stats["vocab_size"] == trained[1]["vocab_size"] and stats["model_type"] == "bpe"
    assert stats["symbols"] == trained[1]["symbols"]
    assert stats["heldout"]["docs"] > 0 and stats["heldout"]["roundtrip_rate"] == 1.0

    doc["tokenizer"]["reuse"] = str(tmp_path / "missing.model")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SystemExit, match="missing.model' is not a file"):
        stage.main(["normalize", "tokenizer", "reports/tokenizer.json", "reports/tokenizer.csv"])
    (tmp_path / "junk.model").write_bytes(b"not a model")
    doc["tokenizer"]["reuse"] = str(tmp_path / "junk.model")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(SystemExit, match="not a SentencePiece model"):
        stage.main(["normalize", "tokenizer", "reports/tokenizer.json", "reports/tokenizer.csv"])


def test_a_dummy_prefix_does_not_count_against_one_token(trained: tuple[Path, dict]) -> None:
    base = spm.SentencePieceProcessor(model_proto=train_baseline(corpus_docs(), make_params()))
    assert base.encode("energy", out_type=str) in (["▁energy"], ["▁", "energy"])
    assert metrics.is_one_token(base, "energy")
    assert not metrics.is_one_token(base, "energy field")
    assert metrics.is_one_token(processor(trained[0]), r"\frac")
