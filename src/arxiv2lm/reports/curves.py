"""Loss curves from the DVCLive folder of `pretrain`.

DVCLive writes one TSV per metric under `<live>/plots/metrics/` (`step` and the metric
column); we read them back, so the PNG shows exactly what `dvc plots` shows, and convert them
to bits per byte for comparing runs across tokenizers (`loss_bits_per_byte`).
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from arxiv2lm.io import atomic_path  # noqa: E402


def read_series(live_dir: str | Path) -> dict[str, tuple[list[int], list[float]]]:
    """{'train/loss': (steps, values), ...} for every TSV DVCLive wrote."""
    root = Path(live_dir) / "plots" / "metrics"
    series = {}
    for tsv in sorted(root.rglob("*.tsv")):
        name = tsv.relative_to(root).with_suffix("").as_posix()
        steps, values = [], []
        with tsv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                steps.append(int(row["step"]))
                values.append(float(row[tsv.stem]))
        series[name] = (steps, values)
    return series


def plot_loss(series: dict[str, tuple[list[int], list[float]]], path: str | Path, dpi: int) -> None:
    """Training and validation loss against steps (every series whose name ends in 'loss')."""
    losses = {k: v for k, v in series.items() if k.split("/")[-1] == "loss"}
    if not losses:
        raise ValueError(f"no loss series among {sorted(series)}")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=dpi)
    for name, (steps, values) in sorted(losses.items()):
        ax.plot(steps, values, marker="o" if len(steps) < 30 else None, ms=3, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title("pretrain loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


LOSS_BPB_FIELDS = ["split", "step", "tokens", "bits_per_byte"]


def loss_bits_per_byte(
    series: dict[str, tuple[list[int], list[float]]], tokens_per_byte: dict[str, float]
) -> list[dict[str, Any]]:
    """Train and val loss in bits per byte, one row per (split, logged step): nats/token /
    ln 2 x the split's tokens per UTF-8 byte, so runs with different tokenizers share one
    scale (the README's warning on nats/token). The ratio is the whole split's, so a curve is
    exact on average over the split, not per window. `tokens` is the tokens trained on by
    that step (DVCLive's `tokens`), comparable across batch sizes where steps are not.

    >>> loss_bits_per_byte({"train/loss": ([10], [math.log(2)]), "tokens": ([10], [640])},
    ...                    {"train": 0.25})
    [{'split': 'train', 'step': 10, 'tokens': 640, 'bits_per_byte': 0.25}]
    """
    tokens = _tokens_at(series.get("tokens", ([], [])))
    rows = []
    for split in ("train", "val"):
        if f"{split}/loss" not in series:
            continue
        if not tokens_per_byte.get(split, 0) > 0:
            raise ValueError(f"no tokens per byte for the {split} split: {tokens_per_byte}")
        for step, loss in zip(*series[f"{split}/loss"], strict=True):
            bpb = round(loss / math.log(2) * tokens_per_byte[split], 6)
            rows.append(
                {"split": split, "step": step, "tokens": tokens(step), "bits_per_byte": bpb}
            )
    if not rows:
        raise ValueError(f"no train/loss or val/loss among {sorted(series)}")
    return rows


def _tokens_at(logged: tuple[list[int], list[float]]) -> Callable[[int], int]:
    """Tokens trained on by a step: as logged, else linear between the logged steps around
    it (exact within a phase; val is logged every `eval_every`, tokens every `log_every`).

    >>> f = _tokens_at(([10, 20], [100, 200]))
    >>> f(10), f(15), f(5), f(30)
    (100, 150, 50, 300)
    """
    points = sorted({0: 0.0, **dict(zip(*logged, strict=True))}.items())
    steps = [s for s, _ in points]

    def at(step: int) -> int:
        i = min(max(bisect.bisect_left(steps, step), 1), len(points) - 1) if len(points) > 1 else 0
        if i == 0:
            return 0
        (s0, t0), (s1, t1) = points[i - 1], points[i]
        return round(t0 + (t1 - t0) * (step - s0) / (s1 - s0))

    return at


def split_tokens_per_byte(shard_stats: dict[str, Any]) -> dict[str, float]:
    """{'train': tokens/bytes, 'val': ...} from the shard stage's `splits` counts.

    >>> split_tokens_per_byte({"splits": {"val": {"tokens": 25, "bytes": 100}}})
    {'val': 0.25}
    """
    splits = shard_stats.get("splits", {})
    return {k: v["tokens"] / v["bytes"] for k, v in splits.items() if v.get("bytes")}
