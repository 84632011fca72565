"""Loader: checked opening, deterministic and rank-disjoint windows, mixtures, phases, eval."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from arxiv2lm.tokens.loader import ShardError, ShardSet, iter_eval_windows
from arxiv2lm.tokens.sampler import (
    WindowSampler,
    apportion,
    mix_key,
    permute_index,
    repeat_warnings,
)
from arxiv2lm.tokens.shards import UNITS_DIR, ShardWriter, make_meta, write_meta

EOS = 2
# (domain, bucket, length without EOS): "high" is rare by documents but long.
DOCS = [("math", "low", 300), ("cs", "mid", 50), ("math", "high", 900)] * 10 + [
    ("cs", "low", 40)
] * 20


def write_set(out: Path, docs: list[tuple[str, str, int]] = DOCS, cut: int = 17) -> dict:
    """Two units (docs [:cut] and [cut:]), as two chunks of a month would give: the split's
    stream runs across the unit boundary."""
    rng = np.random.default_rng(0)
    (out / UNITS_DIR).mkdir(exist_ok=True)
    units = []
    for name, part in (("u1", docs[:cut]), ("u2", docs[cut:])):
        stats = {}
        for split in ("train", "val"):
            with ShardWriter(out / UNITS_DIR, split, 1000, EOS, unit=name) as w:
                for k, (domain, bucket, n) in enumerate(part):
                    tokens = rng.integers(3, 1000, n).tolist()
                    w.add(f"{split}{name}{k}", domain, bucket, tokens, n * 3)
            stats[split] = w.stats
        units.append({"name": name, "splits": stats})
    meta = make_meta(1000, EOS, 1, "cafe", units)
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
        ({"format_version": 1}, "format_version 1"),
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
    with open(shard_dir / UNITS_DIR / "u2.val.bin", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(ShardError, match="100 bytes"):
        ShardSet.open(shard_dir, "val")
    with pytest.raises(ShardError, match="no split 'test'"):
        ShardSet.open(shard_dir, "test")


MIX = {"low": 0.5, "mid": 0.2, "high": 0.3}
# Windows per epoch at seq_len 16 of DOCS (tokens incl. EOS): low 10 * 301 + 20 * 41 = 3830,
# mid 10 * 51 = 510, high 10 * 901 = 9010 -> (tokens - 1) // 16.
WINDOWS_16 = {"low": 239, "mid": 31, "high": 563}


def stream(s: ShardSet, bucket: str) -> np.ndarray:
    """A bucket's documents in index order, concatenated: the stream windows are cut from."""
    rows = s.index[s.index["bucket"] == bucket]
    pairs = zip(rows["offset"], rows["length"], strict=True)
    return np.concatenate([np.asarray(s.tokens[o : o + n], dtype=np.int64) for o, n in pairs])


def global_draws(samplers: list[WindowSampler], step: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, window) of every global row at `step`: the ranks' draws concatenated."""
    names, windows = zip(*(r.draws(step) for r in samplers), strict=True)
    return np.concatenate(names), np.concatenate(windows)


def ranks(s: ShardSet, world: int, batch: int, **kw: object) -> list[WindowSampler]:
    return [WindowSampler(s, 16, batch, 0, r, world, **kw) for r in range(world)]  # type: ignore[arg-type]


def test_rows_are_windows_of_their_bucket_stream(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    sampler = WindowSampler(s, 64, 8, seed=3, mixture=MIX)
    streams = {b: stream(s, b) for b in MIX}
    for step in range(5):
        xy = sampler.batch(step)
        assert xy.shape == (8, 65) and xy.dtype == np.int64
        for row, name, k in zip(xy, *sampler.draws(step), strict=True):
            assert np.array_equal(row, streams[name][k * 64 : k * 64 + 65])
            assert np.array_equal(row, sampler.window(name, k))


def test_a_window_spanning_documents_is_their_concatenation(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    mid = s.index[s.index["bucket"] == "mid"]
    pairs = zip(mid["offset"], mid["length"], strict=True)
    docs = [np.asarray(s.tokens[o : o + n]) for o, n in pairs]
    assert len(docs[0]) == 51 and mid["offset"].iloc[1] > mid["offset"].iloc[0] + 51  # apart
    two = WindowSampler(s, 64, 1, seed=0, mixture={"mid": 1.0})
    assert np.array_equal(two.window("mid", 0), np.concatenate([docs[0], docs[1][:14]]))
    assert np.array_equal(two.window("mid", 1), np.concatenate([docs[1][13:], docs[2][:27]]))
    three = WindowSampler(s, 128, 1, seed=0, mixture={"mid": 1.0})
    assert np.array_equal(three.window("mid", 0), np.concatenate([*docs[:2], docs[2][:27]]))
    with pytest.raises(ValueError, match="window 3 of bucket 'mid'"):
        three.window("mid", 3)  # 509 // 128 = 3 windows


def test_one_epoch_reads_every_window_of_each_bucket_once(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    samplers = ranks(s, 2, 4, mixture=MIX, phase=1, start_step=5)
    plan = samplers[0].plan
    assert {b: (p.rows, p.windows) for b, p in plan.items()} == {
        "low": (4, 239),
        "mid": (2, 31),
        "high": (2, 563),
    }
    steps = max(-(-p.windows // p.rows) for p in plan.values())  # 282 for high
    draws = [global_draws(samplers, 5 + i) for i in range(steps)]
    for b, p in plan.items():
        seen = [w[names == b] for names, w in draws]
        full = p.windows // p.rows  # steps that stay inside epoch 1
        first = np.concatenate(seen[:full])
        assert len(set(first.tolist())) == len(first) == full * p.rows, b
        epoch = np.concatenate(seen[: -(-p.windows // p.rows)])
        counts = np.bincount(epoch, minlength=p.windows)
        assert counts.min() == 1 and len(counts) == p.windows, b  # every window, none beyond
        assert counts.sum() - p.windows == len(epoch) - p.windows < p.rows  # overflow: epoch 2
    cov = samplers[0].coverage(60)
    assert cov["low"] == {"epochs": 240 / 239, "tokens": 240 * 16}
    assert cov["mid"]["epochs"] == pytest.approx(120 / 31)


def test_a_new_epoch_is_a_new_order(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    (sampler,) = ranks(s, 1, 1, mixture={"mid": 1.0})  # one row a step: draw k is step k
    order = np.concatenate([sampler.draws(step)[1] for step in range(62)])
    one, two = order[:31], order[31:]
    assert sorted(one.tolist()) == sorted(two.tolist()) == list(range(31))
    assert not np.array_equal(one, two) and not np.array_equal(one, np.arange(31))


def test_batches_are_a_pure_function_of_seed_phase_and_step(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    a = WindowSampler(s, 64, 8, seed=3, mixture=MIX, phase=1, start_step=2)
    for step in range(2, 7):
        a.batch(step)
    resumed = WindowSampler(ShardSet.open(shard_dir, "train"), 64, 8, 3, 0, 1, MIX, 1, 2)
    assert np.array_equal(a.batch(7), resumed.batch(7))  # resume: same step, same batch
    assert not np.array_equal(a.batch(7), a.batch(8))
    other_seed = WindowSampler(s, 64, 8, seed=4, mixture=MIX, phase=1, start_step=2)
    other_phase = WindowSampler(s, 64, 8, seed=3, mixture=MIX, phase=0, start_step=2)
    assert not np.array_equal(a.batch(7), other_seed.batch(7))
    assert not np.array_equal(a.batch(7), other_phase.batch(7))
    with pytest.raises(ValueError, match="step 1 is before this phase's start_step 2"):
        a.batch(1)


def test_the_global_batch_does_not_depend_on_the_world_size(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    whole = WindowSampler(s, 32, 8, seed=1, mixture=MIX)
    r0, r1 = (WindowSampler(s, 32, 4, 1, r, 2, MIX) for r in (0, 1))
    for step in range(6):
        assert np.array_equal(np.concatenate([r0.batch(step), r1.batch(step)]), whole.batch(step))
    with pytest.raises(ValueError, match="rank 2"):
        WindowSampler(s, 32, 4, seed=1, rank=2, world_size=2)


def test_every_step_takes_each_bucket_quota_spread_over_ranks(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    samplers = ranks(s, 4, 4, mixture={"low": 0.2, "mid": 0.5, "high": 0.3})
    assert samplers[0].quotas == {"low": 3, "mid": 8, "high": 5}
    assert samplers[0].probabilities == {"low": 3 / 16, "mid": 8 / 16, "high": 5 / 16}
    rank0 = []
    for step in range(20):
        names, _ = global_draws(samplers, step)
        assert {b: int((names == b).sum()) for b in MIX} == {"low": 3, "mid": 8, "high": 5}
        rank0.append(tuple(names[:4]))
    assert len(set(rank0)) > 10  # each step deals the slots anew
    assert all(len(set(r)) > 1 for r in rank0[:5])


@pytest.mark.parametrize(
    ("weights", "rows", "expect"),
    [
        ({"low": 0.6, "mid": 0.3, "high": 0.1}, 16, {"low": 10, "mid": 5, "high": 1}),
        ({"low": 0.34, "mid": 0.33, "high": 0.33}, 128, {"low": 44, "mid": 42, "high": 42}),
        ({"low": 0.9, "mid": 0.05, "high": 0.05}, 4, {"low": 2, "mid": 1, "high": 1}),  # >= 1
        ({"low": 0.5, "mid": 0.25, "high": 0.25}, 2, {"low": 1, "mid": 1, "high": 0}),  # tie
        ({"low": 3, "mid": 0, "high": 1}, 3, {"low": 2, "mid": 0, "high": 1}),
    ],
)
def test_apportion_by_largest_remainder(weights: dict, rows: int, expect: dict) -> None:
    assert apportion(weights, rows) == expect


def test_apportion_sums_to_the_rows_and_refuses_nonsense() -> None:
    rng = np.random.default_rng(0)
    for rows in range(1, 60):
        w = dict(zip("abcd", rng.random(4).round(3).tolist(), strict=True))
        got = apportion(w, rows)
        assert sum(got.values()) == rows and (rows < 4 or min(got.values()) >= 1), (w, rows)
    with pytest.raises(ValueError, match="positive sum"):
        apportion({"low": 0.0}, 4)


def test_mixture_renormalises_over_present_buckets(tmp_path: Path) -> None:
    write_set(tmp_path, [("math", "low", 200), ("cs", "mid", 200)] * 5)
    s = ShardSet.open(tmp_path, "train")
    sampler = WindowSampler(s, 16, 16, seed=0, mixture={"low": 0.25, "high": 0.75})
    assert sampler.probabilities == {"low": 1.0}
    assert sampler.skipped == {"high": 0.75}
    assert set(sampler.draws(0)[0]) == {"low"}
    assert repeat_warnings(sampler, 1, 4.0) == [
        "phase 0: bucket 'high' has weight 0.75 but no window of 17 tokens in split 'train'; "
        "its weight went to the others"
    ]
    with pytest.raises(ValueError, match="buckets present: \\['low', 'mid'\\]"):
        WindowSampler(s, 16, 4, seed=0, mixture={"high": 1.0})
    with pytest.raises(ValueError, match="'huge'"):
        WindowSampler(s, 16, 4, seed=0, mixture={"huge": 1.0})
    with pytest.raises(ValueError, match="weight -1 of bucket 'mid'"):
        WindowSampler(s, 16, 4, seed=0, mixture={"low": 1.0, "mid": -1})


@pytest.mark.parametrize("natural", [None, {}])
def test_natural_mixture_is_in_proportion_to_bucket_sizes(
    shard_dir: Path, natural: dict | None
) -> None:
    s = ShardSet.open(shard_dir, "train")
    sampler = WindowSampler(s, 16, 64, seed=0, mixture=natural)
    total = sum(WINDOWS_16.values())  # 833
    assert {b: p.rows for b, p in sampler.plan.items()} == {"low": 18, "mid": 3, "high": 43}
    for b, p in sampler.probabilities.items():
        assert abs(p - WINDOWS_16[b] / total) < 1 / 64, b
    cov = sampler.coverage(-(-total // 64))  # one epoch of compute: 14 steps
    assert {b: round(c["epochs"], 3) for b, c in cov.items()} == {
        "low": 1.054,  # 14 * 18 / 239
        "mid": 1.355,  # 14 * 3 / 31: a small bucket's floor of 1 row costs it evenness
        "high": 1.069,  # 14 * 43 / 563
    }


def test_repeat_warnings_name_the_bucket_and_the_figures(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "train")
    sampler = WindowSampler(s, 16, 8, seed=0, mixture=MIX, phase=1)  # rows 4, 2, 2
    assert repeat_warnings(sampler, 100, 6.0) == [
        "phase 1: bucket 'mid' is read 6.5 times (200 draws of 31 windows) in 100 steps, "
        "more than max_epochs 6.0: lower its weight or add data"
    ]
    assert repeat_warnings(sampler, 90, 6.0) == []  # 180 / 31 = 5.8
    starved = WindowSampler(s, 16, 2, seed=0, mixture={"low": 0.5, "mid": 0.25, "high": 0.25})
    assert repeat_warnings(starved, 1, 4.0) == [
        "phase 0: bucket 'high' (weight 0.250) gets no row of the 2 per step and is never read"
    ]
    with pytest.raises(ValueError, match="max_epochs 0"):
        repeat_warnings(sampler, 1, 0)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 2**20 + 3])
def test_permute_index_is_a_keyed_bijection(n: int) -> None:
    x = np.arange(n)
    p = permute_index(x, n, mix_key(1))
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), x)
    if n >= 7:
        assert not np.array_equal(p, permute_index(x, n, mix_key(2)))
        assert (p == x).mean() < 0.5
    orders = {tuple(permute_index(x[:2], n, mix_key(k)).tolist()) for k in range(16)}
    assert orders == {(0,)} if n == 1 else len(orders) > 1  # keyed, even for n = 2


def test_permute_index_broadcasts_over_domains_and_keys() -> None:
    x, n = np.array([0, 1, 2, 3, 999]), np.array([7, 7, 1000, 1000, 1000])
    keys = np.concatenate([mix_key(1), mix_key(2), mix_key(3), mix_key(3), mix_key(3)])
    got = permute_index(x, n, keys)
    singles = [permute_index(xi, ni, k) for xi, ni, k in zip(x, n, keys, strict=True)]
    assert got.tolist() == np.concatenate(singles).tolist()
    with pytest.raises(ValueError, match="0 <= x < n"):
        permute_index(np.array([7]), 7, mix_key(1))


def test_split_shorter_than_a_window_is_refused(shard_dir: Path) -> None:
    s = ShardSet.open(shard_dir, "val")
    with pytest.raises(ValueError, match="fewer than seq_len"):
        WindowSampler(s, len(s.tokens), 1, seed=0)


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
