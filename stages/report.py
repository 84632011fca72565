"""Stage `report`: the yield funnel and the loss curve, as DVC plots and PNGs.

    python stages/report.py --stats data/filter data/validate data/extract data/normalize \
        data/shard --live reports/pretrain --funnel reports/funnel.csv \
        --drops reports/drops.csv --yield-metrics reports/yield.json \
        --funnel-png reports/funnel.png --loss-png reports/loss.png \
        --ingest data/ingest --tokenizer data/tokenizer

The funnel's tokens are counted here with the trained tokenizer (`report.count_tokens`), as
no stage before shard has one; `arxiv2lm.reports.token_funnel` says how.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import read_json, write_csv, write_json
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.reports.curves import plot_loss, read_series
from arxiv2lm.reports.funnel import (
    DROP_FIELDS,
    FUNNEL_FIELDS,
    drop_rows,
    funnel_rows,
    plot_funnel,
    yield_metrics,
)
from arxiv2lm.reports.token_funnel import token_funnel


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stats", type=Path, nargs="+", required=True, help="stage data folders")
    ap.add_argument("--live", type=Path, required=True, help="DVCLive folder of pretrain")
    ap.add_argument("--funnel", type=Path, required=True)
    ap.add_argument("--drops", type=Path, required=True)
    ap.add_argument("--yield-metrics", type=Path, required=True)
    ap.add_argument("--funnel-png", type=Path, required=True)
    ap.add_argument("--loss-png", type=Path, required=True)
    ap.add_argument("--ingest", type=Path, required=True, help="ingest folder (chunk headers)")
    ap.add_argument("--tokenizer", type=Path, required=True, help="folder of tokenizer.model")
    args = ap.parse_args(argv)
    try:
        params = load_params("report")
    except ParamsError as err:
        sys.exit(f"report: {err}")
    missing = [str(d / "stats.json") for d in args.stats if not (d / "stats.json").exists()]
    if missing:
        sys.exit(f"report: stage statistics not found: {', '.join(missing)}")
    stats = [read_json(d / "stats.json") for d in args.stats]
    model = args.tokenizer / "tokenizer.model"
    if not model.exists():
        sys.exit(f"report: {model} not found (run the tokenizer stage first)")
    kept = {s["stage"]: s["kept"] for s in stats}
    try:
        tokens = token_funnel(
            {s["stage"]: d for s, d in zip(stats, args.stats, strict=True)},
            kept.get("shard", {}).get("tokens", 0),
            args.ingest,
            model,
            params.count_fraction,
            params.seed,
            resolve_workers(params.workers),
        )
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f"report: {err}")

    funnel = funnel_rows(stats, tokens)
    drops = drop_rows(stats, tokens)
    write_csv(funnel, FUNNEL_FIELDS, args.funnel)
    write_csv(drops, DROP_FIELDS, args.drops)
    first, last = funnel[0], funnel[-1]
    write_json(yield_metrics(funnel, drops, tokens), args.yield_metrics)
    plot_funnel(funnel, drops, args.funnel_png, params.dpi)
    try:
        plot_loss(read_series(args.live), args.loss_png, params.dpi)
    except ValueError as err:
        sys.exit(f"report: {args.live}: {err}")
    print(
        f"report: {first['papers_in']} papers in, {last['papers_kept']} out "
        f"({last['papers_kept'] / first['papers_in']:.0%}); {first['tokens_in']:,} tokens in, "
        f"{last['tokens_kept']:,} out ({last['tokens_kept'] / max(1, first['tokens_in']):.0%}); "
        f"figures in {args.funnel_png.parent}"
    )


if __name__ == "__main__":
    main()
