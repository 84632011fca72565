"""Token shards: dtype choice, stable splits, buckets, per-chunk units and their index
consistent with the tokens, units reused across runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm

from arxiv2lm.io import file_sha256, read_json
from arxiv2lm.ledger import Ledger
from arxiv2lm.tokens import encode
from arxiv2lm.tokens.encode import build_shards
from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.tokens.shards import (
    BUCKET_HIGH,
    BUCKET_MID,
    UNITS_DIR,
    ShardWriter,
    dtype_for,
    math_bucket,
    split_of,
)
from arxiv2lm.units import UnitError
from arxiv2lm.workcache import WorkCache

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


def write_parts(root: Path, rows: list[dict], cuts: tuple[int, ...] = (25,)) -> list[Path]:
    """normalize's per-chunk parts: rows[:25] in chunk 001, the rest in 002 (by default)."""
    root.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, len(rows)]
    parts = []
    for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        path = root / f"arXiv_src_2301_{n + 1:03d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[a:b]), path)
        parts.append(path)
    return parts


@pytest.fixture(scope="module")
def built(trained: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> tuple:
    out = tmp_path_factory.mktemp("shard")
    ledger = Ledger("shard")
    model = trained[0] / "tokenizer.model"
    parts = write_parts(tmp_path_factory.mktemp("normalize"), rows())
    meta, _ = build_shards(parts, model, out, 0.2, "salt", 1, WorkCache(None), ledger)
    return out, meta, ledger, model, parts


def test_index_slices_decode_to_the_texts(built: tuple) -> None:
    out, meta, _, model, _ = built
    sp = spm.SentencePieceProcessor(model_file=str(model))
    texts = {r["id"]: r for r in rows()}
    seen = 0
    for split in ("train", "val"):
        s = ShardSet.open(out, split)
        index = s.index
        assert index["offset"].tolist() == np.cumsum([0, *index["length"][:-1]]).tolist()
        assert len(s.tokens) == meta["splits"][split]["tokens"] == index["length"].sum()
        for r in index.itertuples():
            doc = s.tokens[r.offset : r.offset + r.length]
            assert doc[-1] == meta["eos_id"] and meta["eos_id"] not in doc[:-1]
            assert sp.decode(doc[:-1].tolist()) == texts[r.id]["text"]
            assert r.bytes == texts[r.id]["bytes"]
            assert r.bucket == math_bucket(texts[r.id]["math_fraction"])
            assert split_of(r.id, 0.2, "salt") == split
            seen += 1
        # the split's stream is its units in chunk order
        files = [out / UNITS_DIR / f"arXiv_src_2301_00{n}.{split}.bin" for n in (1, 2)]
        whole = np.concatenate([np.fromfile(f, dtype=np.uint16) for f in files])
        assert np.array_equal(s.tokens[0 : len(s.tokens)], whole)
    assert seen == len(texts) - 1


def test_meta_and_ledger(built: tuple) -> None:
    out, meta, ledger, model, _ = built
    assert read_json(out / "meta.json") == meta
    assert meta["format_version"] == 2 and meta["dtype"] == "uint16"
    assert meta["tokenizer_sha256"] == file_sha256(model)
    assert meta["vocab_size"] == 400
    assert [u["name"] for u in meta["units"]] == ["arXiv_src_2301_001", "arXiv_src_2301_002"]
    train = meta["splits"]["train"]
    assert sum(u["train"]["tokens"] for u in meta["units"]) == train["tokens"]
    assert sum(d["tokens"] for d in train["domains"].values()) == train["tokens"]
    assert sum(b["docs"] for b in train["buckets"].values()) == train["docs"]
    summary = ledger.summary()
    assert summary["dropped"] == {"empty_after_tokenize": {"papers": 1, "bytes": 0}}
    total = meta["splits"]["train"]["tokens"] + meta["splits"]["val"]["tokens"]
    assert summary["kept"]["tokens"] == total


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.*"))}


def test_two_workers_write_the_same_bytes(built: tuple, tmp_path: Path) -> None:
    out, _, _, model, parts = built
    build_shards(parts, model, tmp_path, 0.2, "salt", 2, WorkCache(None))
    assert _files(tmp_path) == _files(out)


def test_a_new_chunk_is_the_only_unit_encoded(built: tuple, tmp_path: Path) -> None:
    """A monthly update: the old chunks' units are linked, their bytes and every old
    document's offsets unchanged; the new chunk's documents come after them."""
    out, _, _, model, _ = built
    docs = rows(60)
    parts = write_parts(tmp_path / "normalize", docs, cuts=(25, 40))
    cache = WorkCache(tmp_path / "work")
    _, run = build_shards(parts[:2], model, tmp_path / "old", 0.2, "salt", 1, cache)
    assert run == {"units_computed": 2, "units_reused": 0}
    meta, run = build_shards(parts, model, tmp_path / "new", 0.2, "salt", 1, cache)
    assert run == {"units_computed": 1, "units_reused": 2}
    old, new = _files(tmp_path / "old"), _files(tmp_path / "new")
    assert {k: new[k] for k in old if k.startswith(UNITS_DIR)} == {
        k: v for k, v in old.items() if k.startswith(UNITS_DIR)
    }
    for split in ("train", "val"):
        a, b = ShardSet.open(tmp_path / "old", split), ShardSet.open(tmp_path / "new", split)
        assert b.index.iloc[: len(a.index)].equals(a.index)
        assert np.array_equal(b.tokens[0 : len(a.tokens)], a.tokens[0 : len(a.tokens)])
        assert set(b.index["id"][len(a.index) :]) <= {d["id"] for d in docs[40:]}
    assert [u["name"][-3:] for u in meta["units"]] == ["001", "002", "003"]


def test_another_tokenizer_encodes_every_unit_again(
    built: tuple, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out, _, _, model, parts = built
    cache = WorkCache(tmp_path / "work")
    build_shards(parts, model, tmp_path / "a", 0.2, "salt", 1, cache)
    other = tmp_path / "other.model"
    other.write_bytes(model.read_bytes())  # same bytes: same key
    assert build_shards(parts, other, tmp_path / "b", 0.2, "salt", 1, cache)[1]["units_reused"] == 2
    _, run = build_shards(parts, model, tmp_path / "c", 0.3, "salt", 1, cache)
    assert run == {"units_computed": 2, "units_reused": 0}  # another split: new units


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


def _kill_self(text: str, model_path: str) -> None:
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer does


def test_a_killed_encoding_worker_is_an_error_naming_its_chunk(
    built: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mp.Pool waited forever for an OOM-killed worker; the unit runner names the chunk."""
    _, _, _, model, parts = built
    monkeypatch.setattr(encode, "encode_text", _kill_self)
    with pytest.raises(UnitError, match="arXiv_src_2301_001"):
        build_shards(parts, model, tmp_path, 0.2, "salt", 2, WorkCache(None))
