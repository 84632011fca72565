"""Stage `study`: one row per run for comparing experiments with `dvc plots diff`.

    python stages/study.py --params params.yaml --yield-metrics reports/yield.json \
        --evaluate reports/evaluate.json --tokenizer reports/tokenizer.json \
        --live reports/pretrain --shard-stats data/shard/stats.json \
        --study reports/study.csv --metrics reports/study.json \
        --tokenizers reports/tokenizers.csv --loss-bpb reports/loss_bpb.csv

After `evaluate` (it needs the bits per byte), so not part of `report`, which `evaluate`
reads. The label is the params that differ from `params.yaml` as committed at HEAD (in
`dvc exp run`, the experiment's baseline). The pretrain wall time comes from
`<live>/timing.tsv`, which is not a DVC dependency on purpose: timings differ on every rerun.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import read_json, write_csv, write_json
from arxiv2lm.reports.curves import (
    LOSS_BPB_FIELDS,
    loss_bits_per_byte,
    read_series,
    split_tokens_per_byte,
)
from arxiv2lm.reports.study import (
    STUDY_FIELDS,
    TOKENIZER_FIELDS,
    changed_params,
    params_label,
    pretrain_wall_s,
    study_metrics,
    study_row,
    tokenizer_rows,
)

TIMING_FILE = "timing.tsv"  # arxiv2lm.train.monitor.TIMING_FILE (not imported: it pulls torch)


def committed_params(path: Path) -> dict[str, Any] | None:
    """`path` as committed at HEAD, or None outside git or before the first commit."""
    try:
        done = subprocess.run(
            ["git", "show", f"HEAD:./{path.name}"],
            capture_output=True,
            text=True,
            cwd=path.resolve().parent,
            check=False,
        )
    except OSError:  # no git on this machine
        return None
    if done.returncode != 0:
        return None
    return yaml.safe_load(done.stdout) or {}


def read_timing(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=Path, required=True)
    ap.add_argument("--yield-metrics", type=Path, required=True)
    ap.add_argument("--evaluate", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True, help="reports/tokenizer.json")
    ap.add_argument("--live", type=Path, required=True, help="DVCLive folder of pretrain")
    ap.add_argument("--shard-stats", type=Path, required=True)
    ap.add_argument("--study", type=Path, required=True)
    ap.add_argument("--metrics", type=Path, required=True)
    ap.add_argument("--tokenizers", type=Path, required=True)
    ap.add_argument("--loss-bpb", type=Path, required=True)
    args = ap.parse_args(argv)
    inputs = [args.params, args.yield_metrics, args.evaluate, args.tokenizer, args.shard_stats]
    missing = [str(p) for p in inputs if not p.is_file()]
    if missing:
        sys.exit(f"study: not found: {', '.join(missing)}")

    current = yaml.safe_load(args.params.read_text(encoding="utf-8")) or {}
    reference = committed_params(args.params)
    label = "no git baseline" if reference is None else params_label(
        changed_params(reference, current)
    )  # fmt: skip
    tokenizer = read_json(args.tokenizer)
    row = study_row(
        label,
        read_json(args.yield_metrics),
        read_json(args.evaluate),
        tokenizer,
        pretrain_wall_s(read_timing(args.live / TIMING_FILE)),
    )
    try:
        curves = loss_bits_per_byte(
            read_series(args.live), split_tokens_per_byte(read_json(args.shard_stats))
        )
    except (ValueError, KeyError) as err:
        sys.exit(f"study: {args.live}: {err}")
    write_csv([row], STUDY_FIELDS, args.study)
    write_json(study_metrics(row), args.metrics)
    write_csv(tokenizer_rows(tokenizer), TOKENIZER_FIELDS, args.tokenizers)
    write_csv(curves, LOSS_BPB_FIELDS, args.loss_bpb)
    print(
        f"study: {label}: yield {row['yield']}, val {row['val_bits_per_byte']} bits per byte, "
        f"{row['tokens_out']} tokens out; {args.study}"
    )


if __name__ == "__main__":
    main()
