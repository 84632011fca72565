"""Stage `report`: the yield funnel and the loss curve, as DVC plots and PNGs.

    python stages/report.py --stats data/filter data/validate data/extract data/normalize \
        data/shard --live reports/pretrain --funnel reports/funnel.csv \
        --drops reports/drops.csv --yield-metrics reports/yield.json \
        --funnel-png reports/funnel.png --loss-png reports/loss.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arxiv2lm.io import read_json, write_csv, write_json
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.reports.curves import plot_loss, read_series
from arxiv2lm.reports.funnel import (
    DROP_FIELDS,
    FUNNEL_FIELDS,
    drop_rows,
    funnel_rows,
    plot_funnel,
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", type=Path, nargs="+", required=True, help="stage data folders")
    ap.add_argument("--live", type=Path, required=True, help="DVCLive folder of pretrain")
    ap.add_argument("--funnel", type=Path, required=True)
    ap.add_argument("--drops", type=Path, required=True)
    ap.add_argument("--yield-metrics", type=Path, required=True)
    ap.add_argument("--funnel-png", type=Path, required=True)
    ap.add_argument("--loss-png", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        params = load_params("report")
    except ParamsError as err:
        sys.exit(f"report: {err}")
    missing = [str(d / "stats.json") for d in args.stats if not (d / "stats.json").exists()]
    if missing:
        sys.exit(f"report: stage statistics not found: {', '.join(missing)}")
    stats = [read_json(d / "stats.json") for d in args.stats]

    funnel = funnel_rows(stats)
    drops = drop_rows(stats)
    write_csv(funnel, FUNNEL_FIELDS, args.funnel)
    write_csv(drops, DROP_FIELDS, args.drops)
    first, last = funnel[0], funnel[-1]
    write_json(
        {
            "papers_in": first["papers_in"],
            "papers_out": last["papers_kept"],
            "overall_yield": round(last["papers_kept"] / first["papers_in"], 4),
            "tokens_out": last["tokens_kept"],
            "yield": {r["stage"]: r["yield"] for r in funnel},
        },
        args.yield_metrics,
    )
    plot_funnel(funnel, drops, args.funnel_png, params.dpi)
    try:
        plot_loss(read_series(args.live), args.loss_png, params.dpi)
    except ValueError as err:
        sys.exit(f"report: {args.live}: {err}")
    print(
        f"report: {first['papers_in']} papers in, {last['papers_kept']} out "
        f"({last['papers_kept'] / first['papers_in']:.0%}); figures in {args.funnel_png.parent}"
    )


if __name__ == "__main__":
    main()
