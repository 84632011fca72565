"""Loss curves from the DVCLive folder of `pretrain`.

DVCLive writes one TSV per metric under `<live>/plots/metrics/` (`step` and the metric
column); we read them back, so the PNG shows exactly what `dvc plots` shows.
"""

from __future__ import annotations

import csv
from pathlib import Path

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
