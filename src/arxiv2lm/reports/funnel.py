"""The yield funnel: papers, bytes and tokens kept and dropped per stage and reason.

Built from the `stats.json` that every data stage writes through its Ledger, and from the
funnel in tokens (`token_funnel.TokenFunnel`), which the report stage counts with the trained
tokenizer because no stage before shard has one. Rows keep the pipeline order in an `order`
column (1 = the first stage), so plots sort by it instead of by stage name.

>>> rows = funnel_rows([{"stage": "filter", "in": {"papers": 10, "bytes": 0},
...     "kept": {"papers": 8, "bytes": 0, "tokens": 0},
...     "dropped": {"withdrawn": {"papers": 2, "bytes": 0}}}])
>>> rows[0]["order"], rows[0]["papers_kept"], rows[0]["yield"]
(1, 8, 0.8)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import matplotlib.ticker  # noqa: E402

from arxiv2lm.io import atomic_path  # noqa: E402
from arxiv2lm.reports.token_funnel import TokenFunnel  # noqa: E402

FUNNEL_FIELDS = [
    "order",
    "stage",
    "papers_in",
    "papers_kept",
    "papers_dropped",
    "yield",
    "bytes_in",
    "bytes_kept",
    "tokens_in",
    "tokens_kept",
    "tokens_dropped",
    "tokens_trimmed",
    "yield_tokens",
]
DROP_FIELDS = [
    "order",
    "stage",
    "reason",
    "label",
    "papers",
    "bytes",
    "tokens",
    "tokens_method",
    "papers_unsized",
]
TRIMMED = "trimmed_from_kept"  # drops.csv reason of the text normalize cut from kept papers


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def funnel_rows(
    stats: list[dict[str, Any]], tokens: TokenFunnel | None = None
) -> list[dict[str, Any]]:
    """One row per stage, in pipeline order. Without `tokens`, a stage's tokens are the
    ones its stats.json counted (only shard counts any)."""
    rows = []
    for order, s in enumerate(stats, start=1):
        papers_in, kept = s["in"]["papers"], s["kept"]["papers"]
        t = tokens.stages.get(s["stage"]) if tokens else None
        kept_tokens = t.tokens_kept if t else s["kept"].get("tokens", 0)
        tokens_in = t.tokens_in if t else kept_tokens
        rows.append(
            {
                "order": order,
                "stage": s["stage"],
                "papers_in": papers_in,
                "papers_kept": kept,
                "papers_dropped": papers_in - kept,
                "yield": _share(kept, papers_in),
                "bytes_in": s["in"]["bytes"],
                "bytes_kept": s["kept"]["bytes"],
                "tokens_in": tokens_in,
                "tokens_kept": kept_tokens,
                "tokens_dropped": t.tokens_dropped if t else 0,
                "tokens_trimmed": t.tokens_trimmed if t else 0,
                "yield_tokens": _share(kept_tokens, tokens_in),
            }
        )
    return rows


def drop_rows(
    stats: list[dict[str, Any]], tokens: TokenFunnel | None = None
) -> list[dict[str, Any]]:
    """One row per (stage, reason), largest first within a stage, labelled `stage: reason`;
    with `tokens`, a `trimmed_from_kept` row (0 papers) where a stage cut text from the
    papers it kept, so the tokens of all rows add up to tokens in - tokens out."""
    rows = []
    for order, s in enumerate(stats, start=1):
        t = tokens.stages.get(s["stage"]) if tokens else None
        reasons = sorted(s["dropped"].items(), key=lambda kv: (-kv[1]["papers"], kv[0]))
        for reason, c in reasons:
            rows.append(
                {
                    "order": order,
                    "stage": s["stage"],
                    "reason": reason,
                    "label": f"{s['stage']}: {reason}",
                    "papers": c["papers"],
                    "bytes": c["bytes"],
                    "tokens": t.dropped.get(reason, 0) if t else 0,
                    "tokens_method": t.method if t else "",
                    "papers_unsized": t.unsized.get(reason, 0) if t else 0,
                }
            )
        if t and t.tokens_trimmed:
            rows.append(
                {
                    "order": order,
                    "stage": s["stage"],
                    "reason": TRIMMED,
                    "label": f"{s['stage']}: {TRIMMED}",
                    "papers": 0,
                    "bytes": 0,
                    "tokens": t.tokens_trimmed,
                    "tokens_method": t.method,
                    "papers_unsized": 0,
                }
            )
    return rows


def yield_metrics(
    funnel: list[dict[str, Any]], drops: list[dict[str, Any]], tokens: TokenFunnel | None
) -> dict[str, Any]:
    """`reports/yield.json`: papers and tokens in and out, the yield of each stage, and the
    tokens lost per `stage:reason` (they add up to tokens_in - tokens_out)."""
    first, last = funnel[0], funnel[-1]
    out: dict[str, Any] = {
        "papers_in": first["papers_in"],
        "papers_out": last["papers_kept"],
        "overall_yield": _share(last["papers_kept"], first["papers_in"]),
        "tokens_out": last["tokens_kept"],
        "yield": {r["stage"]: r["yield"] for r in funnel},
    }
    if tokens is not None:
        out |= {
            "tokens_in": first["tokens_in"],
            "yield_tokens": _share(last["tokens_kept"], first["tokens_in"]),
            "yield_tokens_stage": {r["stage"]: r["yield_tokens"] for r in funnel},
            "tokens_lost": {f"{d['stage']}:{d['reason']}": d["tokens"] for d in drops},
            "token_estimate": tokens.describe(),
        }
    return out


def _funnel_panel(ax: Any, funnel: list[dict[str, Any]], unit: str) -> None:
    labels = [f"{unit} in", *(r["stage"] for r in funnel)]
    kept = [funnel[0][f"{unit}_in"], *(r[f"{unit}_kept"] for r in funnel)] if funnel else [0]
    share = [k / kept[0] if kept[0] else 0.0 for k in kept]
    ax.barh(labels[::-1], kept[::-1], color=["#3b7dd8"] * len(funnel) + ["#999999"])
    for i, (k, q) in enumerate(zip(kept[::-1], share[::-1], strict=True)):
        ax.text(k, i, f" {k:,} ({q:.0%})", va="center")
    ax.set_xlabel(f"{unit} kept after each stage (share of the input)")
    ax.set_title(f"Yield funnel, {unit}")
    ax.margins(x=0.3)
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))


def _drops_panel(ax: Any, drops: list[dict[str, Any]], unit: str, title: str) -> None:
    """Bars per `stage: reason`; in tokens, a drop of papers with no size shows as 0 with
    their count, and bars estimated from a size are lighter."""
    rows = [d for d in drops if d[unit] or (unit == "tokens" and d.get("papers_unsized"))]
    rows = rows[::-1]  # barh draws bottom-up; the first stage goes on top
    estimated = [unit == "tokens" and d["tokens_method"].startswith("estimate") for d in rows]
    ax.barh(
        [d["label"] for d in rows],
        [d[unit] for d in rows],
        color=["#e8a87c" if e else "#d8703b" for e in estimated],
    )
    for i, d in enumerate(rows):
        note = f" {d[unit]:,}"
        if unit == "tokens" and d.get("papers_unsized"):
            note += f" ({d['papers_unsized']} papers without source)"
        ax.text(d[unit], i, note, va="center", fontsize=8)
    ax.set_xlabel(f"{unit} dropped" + (" (light: estimated from size)" if unit == "tokens" else ""))
    ax.set_title(title)
    ax.margins(x=0.3)
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))


def plot_funnel(
    funnel: list[dict[str, Any]], drops: list[dict[str, Any]], path: str | Path, dpi: int
) -> None:
    """Top: papers and tokens kept after each stage. Bottom: papers and tokens dropped per
    stage and reason (tokens estimated from a size in a lighter colour)."""
    fig, ((ax1, ax2), (ax3, ax4)) = plt.subplots(2, 2, figsize=(14, 9), dpi=dpi)
    _funnel_panel(ax1, funnel, "papers")
    _funnel_panel(ax2, funnel, "tokens")
    _drops_panel(ax3, drops, "papers", "Where the papers went")
    _drops_panel(ax4, drops, "tokens", "Where the tokens went")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
