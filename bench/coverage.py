"""Print how much of each math bucket a curriculum reads: epoch sampler vs the old rule.

    .venv/bin/python bench/coverage.py [--shard-dir data/shard] [--rows 16] [--seed 1337]
        [--max-epochs 4] [--phase SEQ_LEN STEPS MIXTURE ...]   # MIXTURE: low=0.6,mid=0.3 | natural

Default phases: the sample curriculum (params.yaml before presets): 60 steps at seq_len 64 of
{low 0.6, mid 0.3, high 0.1}, then 240 steps at 128 of {0.34, 0.33, 0.33}, 16 rows a step.
A token counts as seen when a row predicts it (it is a target y). Per phase and for the whole
run, each bucket's share of tokens seen at least once and mean times predicted, for NEW
(`WindowSampler`: epochs without replacement, fixed quotas) and OLD (the loader before it:
per row a bucket drawn by probability, then a start uniform over the bucket's token
positions, the window running on into whatever follows; global step numbers, as the engine
passed them).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.tokens.sampler import WindowSampler, repeat_warnings
from arxiv2lm.tokens.shards import BUCKETS

DEFAULT_PHASES = [
    (64, 60, {"low": 0.6, "mid": 0.3, "high": 0.1}),
    (128, 240, {"low": 0.34, "mid": 0.33, "high": 0.33}),
]


def parse_mixture(text: str) -> dict[str, float] | None:
    """`low=0.6,mid=0.4` -> {'low': 0.6, 'mid': 0.4}; `natural` -> None."""
    if text == "natural":
        return None
    return {k: float(v) for k, v in (part.split("=") for part in text.split(","))}


def old_starts(
    s: ShardSet,
    seq_len: int,
    mixture: dict[str, float] | None,
    steps: range,
    rows: int,
    seed: int,
) -> np.ndarray:
    """Window starts of the old with-replacement rule, one PCG64 stream per (seed, step, row).

    Without a mixture the old rule drew a start uniformly over the whole split.
    """
    max_start = len(s.tokens) - (seq_len + 1)
    seeds = [np.random.SeedSequence([seed, step, row]) for step in steps for row in range(rows)]
    rngs = [np.random.Generator(np.random.PCG64(ss)) for ss in seeds]
    if not mixture:
        return np.array([rng.integers(0, max_start + 1) for rng in rngs], dtype=np.int64)
    tables = []
    for b in BUCKETS:
        docs = s.index[s.index["bucket"] == b]
        offsets = docs["offset"].to_numpy(np.int64)
        ends = np.minimum(offsets + docs["length"].to_numpy(np.int64), max_start + 1)
        cum = np.cumsum(np.clip(ends - offsets, 0, None))
        if mixture.get(b, 0) > 0 and len(cum) and cum[-1] > 0:
            tables.append((mixture[b], offsets, cum))
    cum_p = np.cumsum([w for w, *_ in tables]) / sum(w for w, *_ in tables)
    out = []
    for rng in rngs:
        b = min(int(np.searchsorted(cum_p, rng.random(), side="right")), len(tables) - 1)
        _, offsets, cum = tables[b]
        u = int(rng.integers(0, cum[-1]))
        doc = int(np.searchsorted(cum, u, side="right"))
        out.append(int(offsets[doc]) + u - (int(cum[doc - 1]) if doc else 0))
    return np.asarray(out, dtype=np.int64)


def count_targets(n: int, starts: np.ndarray, seq_len: int) -> np.ndarray:
    """Times each of n positions is a target of a window [start, start + seq_len]."""
    diff = np.zeros(n + 1, dtype=np.int64)
    np.add.at(diff, starts + 1, 1)
    np.add.at(diff, starts + seq_len + 1, -1)
    return np.cumsum(diff[:n])


def report(title: str, streams: dict[str, np.ndarray], new: np.ndarray, old: np.ndarray) -> None:
    print(f"{title}\n  {'bucket':6} {'tokens':>9}   new: {'seen':>6} {'times':>6}   old: ", end="")
    print(f"{'seen':>6} {'times':>6}")
    for b, pos in streams.items():
        if not len(pos):
            continue
        n, o = new[pos], old[pos]
        print(
            f"  {b:6} {len(pos):9,}        {(n > 0).mean():6.1%} {n.mean():6.2f}        "
            f"{(o > 0).mean():6.1%} {o.mean():6.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shard-dir", type=Path, default=Path("data/shard"))
    ap.add_argument("--rows", type=int, default=16, help="global rows per step")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--max-epochs", type=float, default=4.0)
    ap.add_argument("--phase", nargs=3, action="append", metavar=("SEQ_LEN", "STEPS", "MIXTURE"))
    args = ap.parse_args()
    if not (args.shard_dir / "meta.json").exists():
        raise SystemExit(f"coverage: no shards in {args.shard_dir}: run `dvc repro shard` first")
    phases = DEFAULT_PHASES
    if args.phase:
        phases = [(int(t), int(n), parse_mixture(m)) for t, n, m in args.phase]
    s = ShardSet.open(args.shard_dir, "train")
    n_tok = len(s.tokens)
    # Each bucket's stream: its documents' token positions in index order (the sampler's view).
    streams = {}
    for b in BUCKETS:
        docs = s.index[s.index["bucket"] == b]
        pairs = zip(docs["offset"], docs["length"], strict=True)
        streams[b] = np.concatenate([np.arange(0), *(np.arange(o, o + n) for o, n in pairs)])
    sizes = ", ".join(f"{b} {len(p):,}" for b, p in streams.items())
    print(f"{args.shard_dir} train: {n_tok:,} tokens ({sizes}); {args.rows} rows a step\n")
    run_new, run_old = np.zeros(n_tok, np.int64), np.zeros(n_tok, np.int64)
    first = 0
    for i, (seq_len, steps, mixture) in enumerate(phases):
        sampler = WindowSampler(s, seq_len, args.rows, args.seed, 0, 1, mixture, i, first)
        span = range(first, first + steps)
        new = np.zeros(n_tok, np.int64)
        for b, pos in streams.items():
            if b not in sampler.buckets:
                continue
            windows = [w[names == b] for names, w in map(sampler.draws, span)]
            drawn = np.concatenate([np.zeros(0, np.int64), *windows])
            new[pos] = count_targets(len(pos), drawn * seq_len, seq_len)
        old = count_targets(
            n_tok, old_starts(s, seq_len, mixture, span, args.rows, args.seed), seq_len
        )
        epochs = {b: round(c["epochs"], 2) for b, c in sampler.coverage(steps).items()}
        report(
            f"phase {i}: {steps} steps at seq_len {seq_len}, mixture {mixture or 'natural'}; "
            f"new quotas {sampler.quotas}, epochs {epochs}",
            streams,
            new,
            old,
        )
        for line in repeat_warnings(sampler, steps, args.max_epochs):
            print(f"  warning: {line}")
        run_new += new
        run_old += old
        first += steps
    report(f"\nwhole run: {first} steps", streams, run_new, run_old)


if __name__ == "__main__":
    main()
