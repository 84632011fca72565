"""Loader: checked opening, deterministic and rank-disjoint windows, mixtures, phases, eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arxiv2lm.params import Phase
from arxiv2lm.tokens.loader import (
    ShardError,
    ShardSet,
    WindowSampler,
    iter_eval_windows,
    phase_at,
)
from arxiv2lm.tokens.shards import ShardWriter, make_meta, write_meta

EOS = 2
# (domain, bucket, length without EOS): "high" is rare by documents but long.
DOCS = [("math", "low", 300), ("cs", "mid", 50), ("math", "high", 900)] * 10 + [
    ("cs", "low", 40)
] * 20


def write_set(out: Path, docs: list[tuple[str, str, int]] = DOCS) -> dict:
    rng = np.random.default_rng(0)
    stats = {}
    for split in ("train", "val"):
        with ShardWriter(out, split, 1000, EOS) as w:
            for k, (domain, bucket, n) in enumerate(docs):
                w.add(f"{split}{k}", domain, bucket, rng.integers(3, 1000, n).tolist(), n * 3)
        stats[split] = w.stats
    meta = make_meta(1000, EOS, 1, "cafe", stats)
    write_meta(out, meta)
    return meta


@pytest.fixture()
def shard_dir(tmp_path: Path) -> Path:
    write_set(tmp_path)
    return tmp_path


def test_open_reads_what_was_written(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train", expect_tokenizer_sha256="cafe")
    assert len(s.tokens) == sum(n + 1 for *_, n in DOCS)
    assert (s.vocab_size, s.eos_id, s.bos_id) == (1000, EOS, 1)
    assert s.bytes_per_token("cs") == pytest.approx((50 * 3 * 10 + 40 * 3 * 20) / (510 + 820))
    ends = s.index["offset"] + s.index["length"] - 1
    assert (np.asarray(s.tokens)[ends] == EOS).all()


def corrupt(shard_dir: Path, **changes: object) -> None:
    meta = json.loads((shard_dir / "meta.json").read_text())
    meta.update(changes)
    (shard_dir / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format_version": 2}, "format_version 2"),
        ({"dtype": "uint32"}, "dtype 'uint32'"),
        ({"eos_id": 5000}, "eos_id 5000"),
        ({"tokenizer_sha256": "beef"}, "expected cafe"),
    ],
)
def test_meta_mismatch_is_refused(shard_dir: Path, changes: dict, message: str) -> None:
    corrupt(shard_dir, **changes)
    with pytest.raises(ShardError, match=message):
        ShardSet.open(shard_dir, "train", expect_tokenizer_sha256="cafe")


def test_truncated_bin_and_missing_split_are_refused(shard_dir: Path) -> None:
    with open(shard_dir / "val.bin", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(ShardError, match="100 bytes"):
        ShardSet.open(shard_dir, "val")
    with pytest.raises(ShardError, match="no split 'test'"):
        ShardSet.open(shard_dir, "test")


def test_batches_are_deterministic_windows(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    a = WindowSampler(s, 64, 8, seed=3)
    b = WindowSampler(ShardSet.open(shard_dir, "train"), 64, 8, seed=3)
    assert a.batch(5).shape == (8, 65) and a.batch(5).dtype == np.int64
    assert np.array_equal(a.batch(5), b.batch(5))  # resume: same step, same batch
    assert not np.array_equal(a.batch(5), a.batch(6))
    assert not np.array_equal(a.batch(5), WindowSampler(s, 64, 8, seed=4).batch(5))
    for row, start in zip(a.batch(7), a.starts(7), strict=True):
        assert np.array_equal(row, s.tokens[start : start + 65])


def test_ranks_read_disjoint_rows_of_one_global_batch(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    whole = WindowSampler(s, 32, 8, seed=1).starts(11)
    r0 = WindowSampler(s, 32, 4, seed=1, rank=0, world_size=2).starts(11)
    r1 = WindowSampler(s, 32, 4, seed=1, rank=1, world_size=2).starts(11)
    assert np.array_equal(np.concatenate([r0, r1]), whole)
    assert not set(r0) & set(r1)
    with pytest.raises(ValueError, match="rank 2"):
        WindowSampler(s, 32, 4, seed=1, rank=2, world_size=2)


def bucket_of(s: ShardSet, starts: np.ndarray) -> np.ndarray:
    doc = np.searchsorted(s.index["offset"].to_numpy(), starts, side="right") - 1
    return s.index["bucket"].to_numpy()[doc]


def test_mixture_is_honoured(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    mix = {"low": 0.2, "mid": 0.5, "high": 0.3}
    sampler = WindowSampler(s, 16, 16, seed=0, mixture=mix)
    starts = np.concatenate([sampler.starts(step) for step in range(250)])  # 4000 rows
    got = bucket_of(s, starts)
    for name, p in mix.items():  # 4 sigma of a 4000-row binomial is <= 0.032
        assert abs((got == name).mean() - p) < 0.035, name


def test_mixture_renormalises_over_present_buckets(tmp_path: Path) -> None:
    write_set(tmp_path, [("math", "low", 200), ("cs", "mid", 200)] * 5)
    s = ShardSet.open(tmp_path, "train")
    sampler = WindowSampler(s, 16, 16, seed=0, mixture={"low": 0.25, "high": 0.75})
    assert sampler.probabilities == {"low": 1.0}
    assert set(bucket_of(s, sampler.starts(0))) == {"low"}
    with pytest.raises(ValueError, match="buckets present: \\['low', 'mid'\\]"):
        WindowSampler(s, 16, 4, seed=0, mixture={"high": 1.0})
    with pytest.raises(ValueError, match="'huge'"):
        WindowSampler(s, 16, 4, seed=0, mixture={"huge": 1.0})


def test_split_shorter_than_a_window_is_refused(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "val")
    with pytest.raises(ValueError, match="fewer than seq_len"):
        WindowSampler(s, len(s.tokens), 1, seed=0)


PHASES = [Phase("warm", 0.2, 64, {"low": 1.0}), Phase("main", 0.8, 128, {"mid": 1.0})]


@pytest.mark.parametrize(("step", "index"), [(0, 0), (59, 0), (60, 1), (299, 1), (10_000, 1)])
def test_phase_boundaries(step: int, index: int) -> None:
    i, phase = phase_at(step, 300, PHASES)
    assert i == index and phase is PHASES[index]


def test_phase_fractions_are_normalised() -> None:
    three = [Phase("a", 1, 8, {}), Phase("b", 1, 8, {}), Phase("c", 2, 8, {})]
    assert [phase_at(s, 100, three)[0] for s in (24, 25, 49, 50)] == [0, 1, 1, 2]
    with pytest.raises(ValueError, match="empty"):
        phase_at(0, 100, [])


def test_eval_windows_are_consecutive_and_bounded(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "val")
    batches = list(iter_eval_windows(s, 32, 4, max_batches=3))
    assert [b.shape for b in batches] == [(4, 33)] * 3
    flat = np.concatenate(batches)
    for k, row in enumerate(flat):
        assert np.array_equal(row, s.tokens[k * 32 : k * 32 + 33])
    again = list(iter_eval_windows(s, 32, 4, max_batches=3))
    assert all(np.array_equal(x, y) for x, y in zip(batches, again, strict=True))


def test_eval_windows_of_one_domain(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "val")
    cs = s.index[s.index["domain"] == "cs"]
    pairs = zip(cs["offset"], cs["length"], strict=True)
    stream = np.concatenate([s.tokens[o : o + n] for o, n in pairs])
    batches = list(iter_eval_windows(s, 100, 4, max_batches=100, domain="cs"))
    flat = np.concatenate(batches)
    assert len(flat) == (len(stream) - 1) // 100  # the last batch is short
    assert np.array_equal(flat[-1], stream[(len(flat) - 1) * 100 : len(flat) * 100 + 1])
    assert list(iter_eval_windows(s, 100, 4, 10, domain="biology")) == []
