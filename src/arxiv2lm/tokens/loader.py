"""Read token shards: checked opening, deterministic training windows, curriculum phases.

>>> train = ShardSet.open(Path("data/shard"), "train")          # doctest: +SKIP
>>> sampler = WindowSampler(train, seq_len=128, batch_size=16, seed=1337,
...                         mixture={"low": 0.6, "mid": 0.3, "high": 0.1})  # doctest: +SKIP
>>> xy = sampler.batch(step)                  # (16, 129) int64; x = xy[:, :-1], y = xy[:, 1:]

`batch(step)` is a pure function of (seed, step, rank, world_size, seq_len, mixture): a
resumed run sees exactly the batches it would have seen, whatever happened before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arxiv2lm.io import read_json
from arxiv2lm.params import Phase
from arxiv2lm.tokens.shards import BUCKETS, FORMAT_VERSION, dtype_for, dtype_name


class ShardError(ValueError):
    """A shard folder whose files disagree with its `meta.json` (or with the caller)."""


@dataclass
class ShardSet:
    """One split of a shard folder: memory-mapped tokens, the document index, the meta."""

    dir: Path
    split: str
    tokens: np.ndarray  # np.memmap of dtype uint16|uint32, shape (N,)
    index: pd.DataFrame  # id, domain, bucket, offset, length, bytes; in token order
    meta: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eos_id(self) -> int:
        return int(self.meta["eos_id"])

    @property
    def bos_id(self) -> int:
        return int(self.meta["bos_id"])

    @classmethod
    def open(
        cls, shard_dir: Path, split: str, expect_tokenizer_sha256: str | None = None
    ) -> ShardSet:
        """Open `<split>.bin` read-only after checking it against `meta.json`."""
        shard_dir = Path(shard_dir)
        meta_path = shard_dir / "meta.json"
        if not meta_path.exists():
            raise ShardError(f"{meta_path} does not exist (did the shard stage run?)")
        meta = read_json(meta_path)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ShardError(
                f"{meta_path}: format_version {meta.get('format_version')!r}, "
                f"this reader knows {FORMAT_VERSION}"
            )
        vocab = int(meta["vocab_size"])
        dtype = dtype_for(vocab)
        if meta.get("dtype") != dtype_name(dtype):
            raise ShardError(
                f"{meta_path}: dtype {meta.get('dtype')!r} but vocab_size {vocab} needs "
                f"{dtype_name(dtype)}"
            )
        if not 0 <= int(meta["eos_id"]) < vocab:
            raise ShardError(f"{meta_path}: eos_id {meta['eos_id']} outside vocab_size {vocab}")
        if expect_tokenizer_sha256 is not None and (
            meta.get("tokenizer_sha256") != expect_tokenizer_sha256
        ):
            raise ShardError(
                f"{meta_path}: shards were encoded with tokenizer {meta.get('tokenizer_sha256')}"
                f", expected {expect_tokenizer_sha256} (re-run the shard stage)"
            )
        if split not in meta.get("splits", {}):
            raise ShardError(f"{meta_path}: no split {split!r} (has {sorted(meta['splits'])})")
        n = int(meta["splits"][split]["tokens"])
        bin_path = shard_dir / f"{split}.bin"
        size = bin_path.stat().st_size if bin_path.exists() else -1
        if size != n * dtype.itemsize:
            raise ShardError(
                f"{bin_path}: {size} bytes, meta says {n} tokens x {dtype.itemsize} bytes"
            )
        tokens = np.memmap(bin_path, dtype=dtype, mode="r") if n else np.zeros(0, dtype)
        index_path = shard_dir / f"{split}.index.parquet"
        if not index_path.exists():
            raise ShardError(f"{index_path} does not exist (a half-written shard folder?)")
        index = pd.read_parquet(index_path)
        if int(index["length"].sum()) != n:
            raise ShardError(
                f"{split}.index.parquet covers {int(index['length'].sum())} tokens, meta says {n}"
            )
        return cls(shard_dir, split, tokens, index, meta)

    def bytes_per_token(self, domain: str | None = None) -> float:
        """UTF-8 bytes of text per token (EOS included), for bits-per-byte from a loss."""
        s = self.meta["splits"][self.split]
        if domain is not None:
            if domain not in s["domains"]:
                raise ShardError(f"no domain {domain!r} in split {self.split!r}")
            s = s["domains"][domain]
        if not s["tokens"]:
            raise ShardError(f"split {self.split!r} domain {domain!r} has no tokens")
        return s["bytes"] / s["tokens"]


def _starts_table(offsets: np.ndarray, lengths: np.ndarray, max_start: int) -> np.ndarray:
    """Cumulative counts of valid window starts per document (starts <= max_start)."""
    ends = np.minimum(offsets + lengths, max_start + 1)
    counts = np.clip(ends - offsets, 0, None)
    return np.cumsum(counts)


class WindowSampler:
    """Random (seq_len + 1)-token windows, a pure function of (seed, step, global row).

    Row i of rank r at a step is global row r * batch_size + i and draws from its own
    PCG64 stream, seeded by SeedSequence([seed, step, row]): ranks read disjoint rows, and
    the global batch does not depend on how it is split over ranks. With a `mixture` over
    math-density buckets each row first picks a bucket (probabilities renormalised over the
    buckets present), then a start uniformly over that bucket's token positions (so longer
    documents are picked more often); the window may run on into the next document, as in
    nanoGPT. Without a mixture the start is uniform over the whole split.
    """

    def __init__(
        self,
        shards: ShardSet,
        seq_len: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        mixture: dict[str, float] | None = None,
    ) -> None:
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"seq_len {seq_len} and batch_size {batch_size} must be >= 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size {world_size})")
        n = len(shards.tokens)
        if n < seq_len + 1:
            raise ValueError(
                f"split {shards.split!r} has {n} tokens, fewer than seq_len + 1 = {seq_len + 1}"
            )
        self.shards, self.seq_len, self.batch_size = shards, seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.max_start = n - (seq_len + 1)
        self.buckets: list[tuple[str, float, np.ndarray, np.ndarray]] = []
        if mixture is not None:
            self._build_mixture(mixture)

    def _build_mixture(self, mixture: dict[str, float]) -> None:
        unknown = sorted(set(mixture) - set(BUCKETS))
        if unknown:
            raise ValueError(f"mixture bucket {unknown[0]!r} is not one of {list(BUCKETS)}")
        if any(w < 0 for w in mixture.values()):
            raise ValueError(f"mixture weights must be >= 0, got {mixture}")
        idx = self.shards.index
        for name in BUCKETS:
            w = float(mixture.get(name, 0.0))
            rows = idx[idx["bucket"] == name]
            offsets = rows["offset"].to_numpy(np.int64)
            cum = _starts_table(offsets, rows["length"].to_numpy(np.int64), self.max_start)
            if w > 0 and len(cum) and cum[-1] > 0:
                self.buckets.append((name, w, offsets, cum))
        if not self.buckets:
            present = sorted(set(idx["bucket"]))
            raise ValueError(
                f"mixture {mixture} has no weight on a bucket with windows in split "
                f"{self.shards.split!r} (buckets present: {present})"
            )
        total = sum(w for _, w, _, _ in self.buckets)
        self._cum_p = np.cumsum([w / total for _, w, _, _ in self.buckets])

    @property
    def probabilities(self) -> dict[str, float]:
        """The renormalised bucket probabilities the sampler uses (empty without a mixture)."""
        p = np.diff(np.concatenate([[0.0], self._cum_p])) if self.buckets else []
        return {name: float(q) for (name, *_), q in zip(self.buckets, p, strict=True)}

    def _start(self, rng: np.random.Generator) -> int:
        if not self.buckets:
            return int(rng.integers(0, self.max_start + 1))
        b = min(
            int(np.searchsorted(self._cum_p, rng.random(), side="right")), len(self.buckets) - 1
        )
        _, _, offsets, cum = self.buckets[b]
        u = int(rng.integers(0, cum[-1]))
        doc = int(np.searchsorted(cum, u, side="right"))
        before = int(cum[doc - 1]) if doc else 0
        return int(offsets[doc]) + u - before

    def starts(self, step: int) -> np.ndarray:
        """The window start of each of this rank's rows at `step` (int64, shape (B,))."""
        first = self.rank * self.batch_size
        out = np.empty(self.batch_size, dtype=np.int64)
        for i in range(self.batch_size):
            ss = np.random.SeedSequence([self.seed, step, first + i])
            out[i] = self._start(np.random.Generator(np.random.PCG64(ss)))
        return out

    def batch(self, step: int) -> np.ndarray:
        """Token windows (B, seq_len + 1) as int64: x = [:, :-1], y = [:, 1:]."""
        if step < 0:
            raise ValueError(f"step {step} must be >= 0")
        t = self.seq_len + 1
        toks = self.shards.tokens
        return np.stack([np.asarray(toks[s : s + t], dtype=np.int64) for s in self.starts(step)])


def phase_at(step: int, max_steps: int, phases: list[Phase]) -> tuple[int, Phase]:
    """The curriculum phase (index, Phase) that covers `step`.

    Phases take `round(cumulative fraction * max_steps)` steps in order (fractions are
    normalised); the last one also takes every step past its start, beyond max_steps too.
    >>> a, b = Phase("a", 0.2, 64, {}), Phase("b", 0.8, 128, {})
    >>> phase_at(59, 300, [a, b])[0], phase_at(60, 300, [a, b])[0]
    (0, 1)
    """
    if not phases:
        raise ValueError("phases must not be empty")
    if any(p.fraction < 0 for p in phases) or sum(p.fraction for p in phases) <= 0:
        raise ValueError(f"phase fractions must be >= 0 with a positive sum: {phases}")
    if step < 0 or max_steps < 1:
        raise ValueError(f"step {step} must be >= 0 and max_steps {max_steps} >= 1")
    total = sum(p.fraction for p in phases)
    cum = 0.0
    for i, p in enumerate(phases[:-1]):
        cum += p.fraction
        if step < round(cum / total * max_steps):
            return i, p
    return len(phases) - 1, phases[-1]


def iter_eval_windows(
    shards: ShardSet,
    seq_len: int,
    batch_size: int,
    max_batches: int,
    domain: str | None = None,
) -> Iterator[np.ndarray]:
    """Consecutive windows from the start of the split (or of one domain's documents).

    Windows step by `seq_len`, so each target token is scored once. Each yield is int64
    (B, seq_len + 1); the last batch may have fewer rows. A split shorter than one window
    raises; a domain with fewer tokens (or absent) yields nothing.
    """
    t = seq_len + 1
    need = max_batches * batch_size * seq_len + 1  # tokens that max_batches can use
    if domain is None:
        stream = shards.tokens
        if len(stream) < t:
            raise ValueError(f"split {shards.split!r} has {len(stream)} tokens < {t}")
    else:
        rows = shards.index[shards.index["domain"] == domain]
        parts, have = [], 0
        for off, length in zip(rows["offset"], rows["length"], strict=True):
            parts.append(np.asarray(shards.tokens[off : off + min(length, need - have)]))
            have += len(parts[-1])
            if have >= need:
                break
        stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    n_windows = min((len(stream) - 1) // seq_len, max_batches * batch_size)
    for b0 in range(0, n_windows, batch_size):
        rows_ = range(b0, min(b0 + batch_size, n_windows))
        yield np.stack(
            [np.asarray(stream[i * seq_len : i * seq_len + t], dtype=np.int64) for i in rows_]
        )
