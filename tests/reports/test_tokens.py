from pathlib import Path

import pytest
import sentencepiece as spm

from arxiv2lm.reports.tokens import (
    Estimator,
    TextCount,
    count_docs,
    doc_tokens,
    in_sample,
    member_sizes,
)
from tests.reports.synthetic import SIZES, build, train_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.model"
    train_model(path)
    return path


@pytest.mark.parametrize("text", ["we show that", "$\\alpha_i$ é", "x", "\n"])
def test_a_document_counts_as_shard_writes_it(model: Path, text: str) -> None:
    ids = spm.SentencePieceProcessor(model_file=str(model)).encode(text)
    assert doc_tokens(text, str(model)) == len(ids) + 1  # its ids and one EOS


def test_an_empty_text_has_no_tokens(model: Path) -> None:
    assert doc_tokens("", str(model)) == 0  # shard drops it: no EOS written either


def test_the_sample_is_seeded_and_near_its_fraction() -> None:
    ids = [f"2301.{i:05d}" for i in range(4000)]
    picked = [i for i in ids if in_sample(i, 0.1, seed=3)]
    assert picked == [i for i in ids if in_sample(i, 0.1, seed=3)]
    assert picked != [i for i in ids if in_sample(i, 0.1, seed=4)]
    assert 300 < len(picked) < 500


def test_count_docs_keeps_order_and_counts_only_the_sample(model: Path) -> None:
    docs = [((f"p{i}", i), "we show é " * (i + 1)) for i in range(40)]
    texts = {meta[0]: t for meta, t in docs}
    for workers in (1, 2):
        out = list(count_docs(docs, model, 0.5, seed=1, workers=workers))
        assert [m for m, _, _ in out] == [m for m, _ in docs]
        assert [b for _, b, _ in out] == [len(t.encode()) for _, t in docs]
        counted = {m[0]: t for m, _, t in out if t is not None}
        assert set(counted) == {i for i in texts if in_sample(i, 0.5, seed=1)}
        assert counted == {i: doc_tokens(texts[i], str(model)) for i in counted}


def test_text_count_scales_the_sample_by_bytes() -> None:
    c = TextCount()
    c.add(100, 50)
    c.add(300, None)
    assert not c.exact and c.tokens() == 200  # 0.5 tokens per byte over 400 bytes
    whole = TextCount()
    whole.add(10, 7)
    assert whole.exact and whole.tokens() == 7
    unsampled = TextCount()
    unsampled.add(40, None)
    assert unsampled.tokens(fallback_per_byte=0.25) == 10


def test_estimator_keeps_the_sum_and_reports_its_error() -> None:
    est = Estimator.fit([(100, 50), (100, 30), (200, 80), (0, 9), (50, 0)], "byte")
    assert est.papers == 3  # no size or no token: not fitted
    assert est.tokens_per_byte == 0.4  # 160 tokens / 400 bytes
    assert sum(est.estimate(b) for b in (100, 100, 200)) == 160
    # |40-50|/50 = 20 %, |40-30|/30 = 33.3 %, |80-80| = 0 %
    assert est.median_abs_pct_error == 20.0 and est.p90_abs_pct_error == 33.33
    empty = Estimator.fit([], "byte")
    assert empty.tokens_per_byte == 0.0 and empty.median_abs_pct_error is None


def test_member_sizes_read_from_chunk_headers(tmp_path: Path) -> None:
    dirs = build(tmp_path)
    want = {"2301.00001", "2301.00002v2", "2301.00003", "2301.00006", "README", "2302.00001v2"}
    sizes = member_sizes(dirs["ingest"], want)
    # the first chunk's member of 2301.00001 counts (the second chunk's has 99 bytes);
    # versions are stripped on both sides; no member, no size
    assert sizes == {i: SIZES[i] for i in ("2301.00001", "2301.00002", "2301.00003")}


def test_an_unreadable_chunk_is_named(tmp_path: Path) -> None:
    dirs = build(tmp_path)
    chunk = dirs["ingest"] / "src" / "arXiv_src_2301_002.tar"
    chunk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match="arXiv_src_2301_002.tar: cannot list its members"):
        member_sizes(dirs["ingest"], {"2301.00003"})
