"""Training windows: each math bucket read in epochs, in a keyed order, fixed rows per step.

>>> train = ShardSet.open(Path("data/shard"), "train")          # doctest: +SKIP
>>> sampler = WindowSampler(train, seq_len=128, batch_size=16, seed=1337,
...                         mixture={"low": 0.34, "mid": 0.33, "high": 0.33},
...                         phase=1, start_step=60)  # its first step  # doctest: +SKIP
>>> xy = sampler.batch(step)  # (16, 129) int64: x = xy[:, :-1], y = xy[:, 1:]  # doctest: +SKIP
>>> sampler.coverage(240)["high"]  # 5 rows a step, 80 windows  # doctest: +SKIP
{'epochs': 15.0, 'tokens': 153600}

Each math-density bucket is read as its own token stream, cut into consecutive windows and
drawn without replacement, epoch after epoch, each epoch in a fresh keyed order. Every
step takes a fixed number of rows from each bucket (the mixture, apportioned once), so a
phase's coverage of each bucket is known before it runs (`repeat_warnings`). `batch(step)`
is a pure function of (seed, phase, start_step, step, global row, seq_len, mixture): a
resumed run sees exactly the batches it would have seen, whatever happened before.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.tokens.shards import BUCKETS

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio, odd: spreads small inputs
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # SplitMix64's
# Feistel rounds: even, so the pair ends on (Z_a, Z_b) again; each half is rewritten 3
# times, as in a 6-round Luby-Rackoff network (4 rounds already give a random-looking order).
_ROUNDS = 6
_ROUND_KEYS = [np.uint64((i + 1) * int(_GOLDEN) & _MASK64) for i in range(_ROUNDS)]


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (multiplication wraps): a bijective hash."""
    z = (z ^ (z >> 30)) * _M1
    z = (z ^ (z >> 27)) * _M2
    return z ^ (z >> 31)


def mix_key(*parts: int) -> np.ndarray:
    """A 64-bit key (uint64, shape (1,)) hashed from integers such as (seed, phase, bucket).

    >>> bool(mix_key(1, 0)[0] != mix_key(0, 1)[0])
    True
    """
    h = np.array([len(parts)], dtype=np.uint64)
    for p in parts:
        h = _mix64(h ^ np.uint64(p & _MASK64))
    return h


def _feistel(x: np.ndarray, a: np.ndarray, b: np.ndarray, key: np.ndarray) -> np.ndarray:
    """One pass of a keyed bijection of [0, a*b): modular Feistel rounds on Z_a x Z_b."""
    left, right = np.divmod(x, b)
    mod_l, mod_r = a, b
    for i in range(_ROUNDS):
        # Round function: two multiply-xorshift steps of (half + round key), high 32 bits;
        # a cheap stand-in for _mix64 (index math runs every step for every row).
        h = (right + (key ^ _ROUND_KEYS[i])) * _M1
        h = (h ^ (h >> 32)) * _M2
        left, right = right, (left + (h >> 32) % mod_l) % mod_l  # (Z_l, Z_r) -> (Z_r, Z_l)
        mod_l, mod_r = mod_r, mod_l
    return left * b + right


def permute_index(x: np.ndarray, n: np.ndarray | int, key: np.ndarray | int) -> np.ndarray:
    """Position x -> a keyed pseudo-random bijection of [0, n), in O(1) memory for any n.

    A Feistel network over Z_a x Z_b with a = ceil(sqrt n), b = ceil(n / a), as in NIST's
    FF1; an image >= n is mapped again ("cycle walking") until it falls in [0, n), which
    fewer than 1 in sqrt(n) inputs need. `x`, `n` and `key` broadcast, so one call serves
    rows of several buckets and epochs. Returns int64.
    >>> sorted(permute_index(np.arange(7), 7, mix_key(1)).tolist())
    [0, 1, 2, 3, 4, 5, 6]
    """
    # At least 1-d: uint64 arithmetic on numpy scalars warns on the wrap-around it relies on.
    xi, ni = np.broadcast_arrays(
        np.atleast_1d(x).astype(np.int64), np.atleast_1d(n).astype(np.int64)
    )
    if xi.size and (ni.min() < 1 or xi.min() < 0 or (xi >= ni).any()):
        raise ValueError(f"permute_index needs 0 <= x < n, got x {xi} and n {ni}")
    keys = np.broadcast_to(np.asarray(key, np.uint64), xi.shape)
    nu = ni.astype(np.uint64)
    a = np.maximum(np.ceil(np.sqrt(ni.astype(np.float64))), 1).astype(np.uint64)
    b = (nu + a - np.uint64(1)) // a  # a * b >= n, a * b - n < a
    y = _feistel(xi.astype(np.uint64), a, b, keys)
    out = np.flatnonzero(y >= nu)
    while out.size:  # ends: x's cycle under the bijection of [0, a*b) re-enters [0, n)
        y.flat[out] = _feistel(y.flat[out], a.flat[out], b.flat[out], keys.flat[out])
        out = out[y.flat[out] >= nu.flat[out]]
    return y.astype(np.int64)


def apportion(weights: dict[str, float], rows: int) -> dict[str, int]:
    """Split `rows` over the keys by the largest-remainder method, each positive key >= 1.

    Key k's exact share is rows * w_k / sum(w), in decimal arithmetic (0.33 is 33/100);
    each key takes the floor and the rows left go one each to the largest remainders (ties:
    earlier key). Then, if rows >= the number of positive weights, each positive key left
    with 0 rows takes one from the key holding the most (ties: earlier key).
    >>> apportion({"low": 0.6, "mid": 0.3, "high": 0.1}, 16)
    {'low': 10, 'mid': 5, 'high': 1}
    """
    if rows < 0 or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(
            f"apportion needs rows >= 0 and weights >= 0 with a positive sum: rows {rows}, "
            f"weights {weights}"
        )
    exact = {k: Fraction(repr(float(w))) for k, w in weights.items()}
    total = sum(exact.values())
    exact = {k: rows * w / total for k, w in exact.items()}
    got = {k: int(e) for k, e in exact.items()}
    order = sorted(exact, key=lambda k: -(exact[k] - got[k]))  # stable: earlier key on ties
    for k in order[: rows - sum(got.values())]:
        got[k] += 1
    positive = [k for k, w in weights.items() if w > 0]
    if rows >= len(positive):
        for k in positive:
            if got[k] == 0:  # pigeonhole: some other key holds >= 2 rows
                donor = max(got, key=lambda d: got[d])
                got[donor] -= 1
                got[k] = 1
    return got


@dataclass(frozen=True)
class BucketPlan:
    """How a sampler draws one bucket: its share of the mixture, rows per step, epoch size."""

    weight: float  # renormalised mixture weight
    rows: int  # global rows per step (the quota)
    windows: int  # windows per epoch: (bucket tokens - 1) // seq_len


class WindowSampler:
    """(seq_len + 1)-token windows drawn per bucket without replacement, epoch after epoch.

    A bucket's documents, in index order, form one virtual stream; window k is its tokens
    [k * seq_len, k * seq_len + seq_len + 1), so one epoch predicts each target token once
    (but the stream's first token and its last (tokens - 1) % seq_len, which no window
    predicts). A window may span documents. The G = batch_size * world_size global rows of
    a step are split over buckets by fixed quotas (`apportion` of the mixture renormalised
    over buckets with a window; `mixture` None or empty: weights proportional to window
    counts, so one epoch of compute covers the split evenly). A keyed permutation of the G
    slots per (seed, phase, step) spreads the buckets over ranks; rank r reads global rows
    [r * B, (r + 1) * B). Bucket b's j-th slot at step s is its draw k = (s - start_step) *
    rows_b + j, which reads window perm(seed, phase, b, k // windows_b)[k % windows_b].
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
        phase: int = 0,
        start_step: int = 0,
    ) -> None:
        if seq_len < 1 or batch_size < 1:
            raise ValueError(f"seq_len {seq_len} and batch_size {batch_size} must be >= 1")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size {world_size})")
        if phase < 0 or start_step < 0:
            raise ValueError(f"phase {phase} and start_step {start_step} must be >= 0")
        n = len(shards.tokens)
        if n < seq_len + 1:
            raise ValueError(
                f"split {shards.split!r} has {n} tokens, fewer than seq_len + 1 = {seq_len + 1}"
            )
        self.shards, self.seq_len, self.batch_size = shards, seq_len, batch_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.phase, self.start_step = phase, start_step
        idx = shards.index
        docs = {b: idx[idx["bucket"] == b] for b in BUCKETS}
        windows = {b: max((int(d["length"].sum()) - 1) // seq_len, 0) for b, d in docs.items()}
        if mixture:
            unknown = sorted(set(mixture) - set(BUCKETS))
            if unknown:
                raise ValueError(f"mixture bucket {unknown[0]!r} is not one of {list(BUCKETS)}")
            for b, w in mixture.items():
                if w < 0:
                    raise ValueError(f"mixture weight {w} of bucket {b!r} must be >= 0")
            weights = {b: float(mixture.get(b, 0.0)) for b in BUCKETS}
        else:
            weights = {b: float(windows[b]) for b in BUCKETS}
        # A weighted bucket without a window is dropped and the rest renormalised, by name.
        self.skipped = {b: w for b, w in weights.items() if w > 0 and not windows[b]}
        self.buckets = tuple(b for b in BUCKETS if weights[b] > 0 and windows[b])
        if not self.buckets:
            present = [b for b in BUCKETS if windows[b]]
            raise ValueError(
                f"mixture {mixture} has no weight on a bucket with windows in split "
                f"{shards.split!r} (buckets present: {present})"
            )
        g = batch_size * world_size
        total = sum(weights[b] for b in self.buckets)
        rows = apportion({b: weights[b] for b in self.buckets}, g)
        self.plan = {b: BucketPlan(weights[b] / total, rows[b], windows[b]) for b in self.buckets}
        # Per bucket code (position in self.buckets): quota, epoch size, key, document table.
        self._rows = np.array([rows[b] for b in self.buckets], np.int64)
        self._windows = np.array([windows[b] for b in self.buckets], np.int64)
        self._first = np.cumsum(self._rows) - self._rows  # slot label runs start here
        self._label = np.repeat(np.arange(len(self.buckets)), self._rows)  # (G,)
        self._keys = np.concatenate([mix_key(seed, phase, BUCKETS.index(b)) for b in self.buckets])
        self._slot_key = mix_key(seed, phase, -1)  # -1: the slot deal, apart from any bucket
        self._offsets = [docs[b]["offset"].to_numpy(np.int64) for b in self.buckets]
        self._cum = [
            np.concatenate([[0], np.cumsum(docs[b]["length"].to_numpy(np.int64))])
            for b in self.buckets
        ]

    @property
    def quotas(self) -> dict[str, int]:
        """Each bucket's global rows per step, e.g. {'low': 6, 'mid': 5, 'high': 5}."""
        return {b: p.rows for b, p in self.plan.items()}

    @property
    def probabilities(self) -> dict[str, float]:
        """Each bucket's share of every step's rows (its quota / G), for logging."""
        g = self.batch_size * self.world_size
        return {b: p.rows / g for b, p in self.plan.items()}

    def _draws(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        if step < self.start_step:
            raise ValueError(f"step {step} is before this phase's start_step {self.start_step}")
        g = self.batch_size * self.world_size
        row = np.arange(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        slot = permute_index(row, g, _mix64(self._slot_key ^ np.uint64(step)))
        code = self._label[slot]
        k = (step - self.start_step) * self._rows[code] + slot - self._first[code]
        n = self._windows[code]
        epoch, pos = np.divmod(k, n)
        key = _mix64(self._keys[code] ^ (epoch.astype(np.uint64) * _GOLDEN))
        return code, permute_index(pos, n, key)

    def draws(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """(bucket name, window index) of each of this rank's rows at `step`, shape (B,) each."""
        code, window = self._draws(step)
        return np.asarray(self.buckets)[code], window

    def _window(self, code: int, k: int) -> np.ndarray:
        """Window k of bucket `code`, gathered from the document slices it spans."""
        cum, offsets, toks = self._cum[code], self._offsets[code], self.shards.tokens
        v = k * self.seq_len  # position in the bucket's virtual stream
        end = v + self.seq_len + 1
        d = int(np.searchsorted(cum, v, side="right")) - 1
        parts = []
        while v < end:
            stop = min(end, int(cum[d + 1]))
            base = int(offsets[d] - cum[d])  # virtual -> token position in document d
            parts.append(toks[base + v : base + stop])
            v, d = stop, d + 1
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def window(self, bucket: str, k: int) -> np.ndarray:
        """Window k of `bucket`: its stream's tokens [k * seq_len, (k + 1) * seq_len], int64."""
        code = self.buckets.index(bucket)
        n = self.plan[bucket].windows
        if not 0 <= k < n:
            raise ValueError(f"window {k} of bucket {bucket!r} is not in [0, {n})")
        return np.asarray(self._window(code, k), dtype=np.int64)

    def batch(self, step: int) -> np.ndarray:
        """Token windows (B, seq_len + 1) as int64: x = [:, :-1], y = [:, 1:]."""
        code, window = self._draws(step)
        out = np.empty((self.batch_size, self.seq_len + 1), dtype=np.int64)
        for i, (c, k) in enumerate(zip(code.tolist(), window.tolist(), strict=True)):
            out[i] = self._window(c, k)
        return out

    def coverage(self, steps: int) -> dict[str, dict[str, float | int]]:
        """Per bucket, after `steps` steps of this phase: epochs read and tokens predicted.

        Counts all ranks: bucket b has had steps * rows_b draws of seq_len targets each.
        """
        return {
            b: {"epochs": steps * p.rows / p.windows, "tokens": steps * p.rows * self.seq_len}
            for b, p in self.plan.items()
        }


def repeat_warnings(sampler: WindowSampler, steps_in_phase: int, max_epochs: float) -> list[str]:
    """Lines to print when a phase would read a bucket more than `max_epochs` times.

    Also names weighted buckets the phase never reads (no window, or no row of the step).
    >>> repeat_warnings(sampler, 240, 4.0)            # doctest: +SKIP
    ["phase 1: bucket 'high' is read 15.0 times (1,200 draws of 80 windows) in 240 steps, ..."]
    """
    if max_epochs <= 0:
        raise ValueError(f"max_epochs {max_epochs} must be > 0")
    p, out = sampler.phase, []
    for b, cov in sampler.coverage(steps_in_phase).items():
        plan = sampler.plan[b]
        if plan.rows == 0:
            out.append(
                f"phase {p}: bucket {b!r} (weight {plan.weight:.3f}) gets no row of the "
                f"{sampler.batch_size * sampler.world_size} per step and is never read"
            )
        elif cov["epochs"] > max_epochs:
            out.append(
                f"phase {p}: bucket {b!r} is read {cov['epochs']:.1f} times "
                f"({steps_in_phase * plan.rows:,} draws of {plan.windows:,} windows) in "
                f"{steps_in_phase} steps, more than max_epochs {max_epochs}: lower its "
                f"weight or add data"
            )
    for b, w in sampler.skipped.items():
        out.append(
            f"phase {p}: bucket {b!r} has weight {w} but no window of {sampler.seq_len + 1} "
            f"tokens in split {sampler.shards.split!r}; its weight went to the others"
        )
    return out
