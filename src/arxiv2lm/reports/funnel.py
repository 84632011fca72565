"""The yield funnel: papers, bytes and tokens kept and dropped per stage and reason.

Built from the `stats.json` that every data stage writes through its Ledger.

>>> rows = funnel_rows([{"stage": "filter", "in": {"papers": 10, "bytes": 0},
...     "kept": {"papers": 8, "bytes": 0, "tokens": 0},
...     "dropped": {"withdrawn": {"papers": 2, "bytes": 0}}}])
>>> rows[0]["papers_kept"], rows[0]["yield"]
(8, 0.8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from arxiv2lm.io import atomic_path  # noqa: E402

FUNNEL_FIELDS = [
    "stage",
    "papers_in",
    "papers_kept",
    "papers_dropped",
    "yield",
    "bytes_in",
    "bytes_kept",
    "tokens_kept",
]
DROP_FIELDS = ["stage", "reason", "papers", "bytes"]


def funnel_rows(stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per stage, in pipeline order."""
    rows = []
    for s in stats:
        papers_in = s["in"]["papers"]
        kept = s["kept"]["papers"]
        rows.append(
            {
                "stage": s["stage"],
                "papers_in": papers_in,
                "papers_kept": kept,
                "papers_dropped": papers_in - kept,
                "yield": round(kept / papers_in, 4) if papers_in else 0.0,
                "bytes_in": s["in"]["bytes"],
                "bytes_kept": s["kept"]["bytes"],
                "tokens_kept": s["kept"].get("tokens", 0),
            }
        )
    return rows


def drop_rows(stats: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (stage, reason), largest first within a stage."""
    rows = []
    for s in stats:
        reasons = sorted(s["dropped"].items(), key=lambda kv: (-kv[1]["papers"], kv[0]))
        for reason, c in reasons:
            rows.append(
                {"stage": s["stage"], "reason": reason, "papers": c["papers"], "bytes": c["bytes"]}
            )
    return rows


def plot_funnel(
    funnel: list[dict[str, Any]], drops: list[dict[str, Any]], path: str | Path, dpi: int
) -> None:
    """Left: papers kept after each stage. Right: papers dropped per stage and reason."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), dpi=dpi)
    labels = ["papers in", *(r["stage"] for r in funnel)]
    kept = [funnel[0]["papers_in"], *(r["papers_kept"] for r in funnel)] if funnel else [0]
    share = [k / kept[0] if kept[0] else 0.0 for k in kept]
    ax1.barh(labels[::-1], kept[::-1], color=["#3b7dd8"] * len(funnel) + ["#999999"])
    for i, (k, q) in enumerate(zip(kept[::-1], share[::-1], strict=True)):
        ax1.text(k, i, f" {k} ({q:.0%})", va="center")
    ax1.set_xlabel("papers kept after each stage (share of the input)")
    ax1.set_title("Yield funnel")
    ax1.margins(x=0.25)
    labels = [f"{d['stage']}: {d['reason']}" for d in drops]
    ax2.barh(labels[::-1], [d["papers"] for d in drops][::-1], color="#d8703b")
    ax2.set_xlabel("papers dropped")
    ax2.set_title("Where the papers went")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
