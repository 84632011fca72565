"""Token shards: dtype choice, stable splits, buckets, index consistent with the tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sentencepiece as spm

from arxiv2lm.io import file_sha256, read_json
from arxiv2lm.ledger import Ledger
from arxiv2lm.tokens.shards import (
    BUCKET_HIGH,
    BUCKET_MID,
    ShardWriter,
    build_shards,
    dtype_for,
    math_bucket,
    split_of,
)

from .conftest import corpus_docs


@pytest.mark.parametrize(
    ("vocab", "dtype"), [(4096, "uint16"), (65536, "uint16"), (65537, "uint32"), (2**32, "uint32")]
)
def test_dtype_choice(vocab: int, dtype: str) -> None:
    assert dtype_for(vocab) == np.dtype(dtype)


@pytest.mark.parametrize("vocab", [2**32 + 1, 0])
def test_dtype_refusal_names_vocab(vocab: int) -> None:
    with pytest.raises(ValueError, match=f"vocab_size {vocab}"):
        dtype_for(vocab)


def test_split_is_stable_disjoint_and_sized() -> None:
    ids = [f"2301.{i:05d}" for i in range(4000)]
    first = [split_of(i, 0.1, "salt") for i in ids]
    assert first == [split_of(i, 0.1, "salt") for i in ids]
    assert 320 < first.count("val") < 480
    other = [split_of(i, 0.1, "pepper") for i in ids]
    assert other != first
    assert all(split_of(i, 0.0, "salt") == "train" for i in ids[:100])


@pytest.mark.parametrize(
    ("fraction", "bucket"),
    [
        (0.0, "low"),
        (BUCKET_MID - 1e-9, "low"),
        (BUCKET_MID, "mid"),
        (BUCKET_HIGH - 1e-9, "mid"),
        (BUCKET_HIGH, "high"),
        (1.0, "high"),
    ],
)
def test_math_bucket_thresholds(fraction: float, bucket: str) -> None:
    assert math_bucket(fraction) == bucket


def rows(n: int = 40) -> list[dict]:
    docs = corpus_docs(n)
    docs[3] = ""  # encodes to nothing: dropped
    return [
        {
            "id": f"2301.{i:05d}",
            "domain": ("math", "cs")[i % 2],
            "text": t,
            "math_fraction": (0.05, 0.2, 0.5)[i % 3],
            "bytes": len(t.encode()),
        }
        for i, t in enumerate(docs)
    ]


@pytest.fixture(scope="module")
def built(trained: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("shard")
    ledger = Ledger("shard")
    model = trained[0] / "tokenizer.model"
    meta = build_shards(rows(), model, out, 0.2, "salt", workers=1, ledger=ledger)
    return out, meta, ledger, model


def test_index_slices_decode_to_the_texts(built: tuple) -> None:
    out, meta, _, model = built
    sp = spm.SentencePieceProcessor(model_file=str(model))
    texts = {r["id"]: r for r in rows()}
    seen = 0
    for split in ("train", "val"):
        tokens = np.fromfile(out / f"{split}.bin", dtype=np.uint16)
        index = pd.read_parquet(out / f"{split}.index.parquet")
        assert index["offset"].tolist() == np.cumsum([0, *index["length"][:-1]]).tolist()
        assert len(tokens) == meta["splits"][split]["tokens"] == index["length"].sum()
        for r in index.itertuples():
            doc = tokens[r.offset : r.offset + r.length]
            assert doc[-1] == meta["eos_id"] and meta["eos_id"] not in doc[:-1]
            assert sp.decode(doc[:-1].tolist()) == texts[r.id]["text"]
            assert r.bytes == texts[r.id]["bytes"]
            assert r.bucket == math_bucket(texts[r.id]["math_fraction"])
            assert split_of(r.id, 0.2, "salt") == split
            seen += 1
    assert seen == len(texts) - 1


def test_meta_and_ledger(built: tuple) -> None:
    out, meta, ledger, model = built
    assert read_json(out / "meta.json") == meta
    assert meta["format_version"] == 1 and meta["dtype"] == "uint16"
    assert meta["tokenizer_sha256"] == file_sha256(model)
    assert meta["vocab_size"] == 400
    train = meta["splits"]["train"]
    assert sum(d["tokens"] for d in train["domains"].values()) == train["tokens"]
    assert sum(b["docs"] for b in train["buckets"].values()) == train["docs"]
    summary = ledger.summary()
    assert summary["dropped"] == {"empty_after_tokenize": {"papers": 1, "bytes": 0}}
    total = meta["splits"]["train"]["tokens"] + meta["splits"]["val"]["tokens"]
    assert summary["kept"]["tokens"] == total


def test_two_workers_write_the_same_bytes(built: tuple, tmp_path: Path) -> None:
    out, _, _, model = built
    build_shards(rows(), model, tmp_path, 0.2, "salt", workers=2)
    for name in ("train.bin", "val.bin", "meta.json"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


def test_writer_abort_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), ShardWriter(tmp_path, "train", 100, 2) as w:
        w.add("a", "math", "low", [5, 6], 3)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_ids_outside_vocab(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="vocab_size 100"),
        ShardWriter(tmp_path, "train", 100, 2) as w,
    ):
        w.add("a", "math", "low", [5, 100], 3)


def test_uint32_shards(tmp_path: Path) -> None:
    with ShardWriter(tmp_path, "val", 70000, 2) as w:
        w.add("a", "math", "low", [69999, 5], 3)
    assert np.fromfile(tmp_path / "val.bin", dtype="<u4").tolist() == [69999, 5, 2]


def _kill_self(text: str) -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does


def test_a_killed_encoding_worker_is_an_error_not_a_hang(built: tuple, monkeypatch) -> None:
    """mp.Pool waited forever for an OOM-killed worker; the executor names the death."""
    import pytest

    from arxiv2lm.tokens import shards

    model_path = built[3]
    monkeypatch.setattr(shards, "_encode", _kill_self)
    rows = [{"text": "a b c"} for _ in range(4)]
    with pytest.raises(shards.WorkerDied, match="out-of-memory"):
        list(shards.encode_texts(rows, model_path, workers=2))
