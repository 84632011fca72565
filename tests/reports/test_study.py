"""The study row (one per run, for `dvc plots diff` across experiments), its label of changed
params, the tokenizer rows, the loss in bits per byte, and the stage entry in a git repo."""

from __future__ import annotations

import csv
import importlib
import json
import math
import subprocess
from pathlib import Path

import pytest
import yaml

from arxiv2lm.reports.curves import loss_bits_per_byte, split_tokens_per_byte
from arxiv2lm.reports.study import (
    METRIC_FIELDS,
    NO_CHANGE,
    changed_params,
    params_label,
    pretrain_wall_s,
    study_metrics,
    study_row,
    tokenizer_rows,
)

BASE = {
    "tokenizer": {"vocab_size": 4096, "latex_symbols": "mined", "symbol_list": []},
    "pretrain": {"lr": None, "model": {"n_layer": None}, "phases": None},
}


def test_changed_params_finds_nested_added_and_removed_keys():
    assert changed_params(BASE, BASE) == {}
    cur = yaml.safe_load(yaml.safe_dump(BASE))
    cur["pretrain"]["model"]["n_layer"] = 4
    cur["tokenizer"]["symbol_list"] = ["\\frac"]
    cur["report"] = {"dpi": 90}  # a section the reference lacks
    del cur["pretrain"]["phases"]  # a key it has: shown as removed (None)
    assert changed_params(BASE, cur) == {
        "pretrain.model.n_layer": 4,
        "report.dpi": 90,
        "tokenizer.symbol_list": ["\\frac"],
    }
    assert "pretrain.phases" not in changed_params(BASE, cur)  # null == missing


def test_params_label_is_compact_and_names_no_change():
    assert params_label({}) == NO_CHANGE
    assert params_label({"tokenizer.latex_symbols": "none", "pretrain.lr": 0.002}) == (
        "tokenizer.latex_symbols=none pretrain.lr=0.002"
    )
    assert params_label({"pretrain.model.n_layer": None}) == "pretrain.model.n_layer=null"
    assert params_label({"a": True, "b": ["\\frac"]}) == 'a=true b=["\\\\frac"]'
    long = params_label({"pretrain.phases": [{"name": "x" * 50}]})
    assert long.endswith("…") and len(long) == len("pretrain.phases=") + 24
    assert params_label({"s": "é" * 30}) == "s=" + "é" * 23 + "…"  # cut by characters


def test_study_row_takes_what_exists_and_leaves_gaps_empty():
    yield_metrics = {"tokens_out": 407820, "overall_yield": 0.8031}
    evaluation = {
        "bits_per_byte": 0.383,
        "prose": {"bits_per_byte": 0.24},
        "math": {"bits_per_byte": float("nan")},  # no math scored: not a number to plot
    }
    tokenizer = {"tokens_per_char": 0.256, "command_single_token_share": True}  # bool: no
    row = study_row("pretrain.lr=0.002", yield_metrics, evaluation, tokenizer, 71.234)
    assert row["label"] == "pretrain.lr=0.002"
    assert (row["tokens_out"], row["yield"], row["val_bits_per_byte"]) == (407820, 0.8031, 0.383)
    assert row["val_bits_per_byte_prose"] == 0.24 and row["val_bits_per_byte_math"] is None
    assert row["command_single_token_share"] is None and row["tokens_per_math_segment"] is None
    assert row["pretrain_wall_s"] == 71.2
    metrics = study_metrics(row)
    assert "label" not in metrics and "pretrain_wall_s" not in metrics  # no timings tracked
    assert set(metrics) == {"tokens_out", "yield", "val_bits_per_byte",
                            "val_bits_per_byte_prose", "tokens_per_char"}  # fmt: skip
    assert set(metrics) <= set(METRIC_FIELDS)


def test_tokenizer_rows_without_a_baseline_show_the_project_only():
    rows = tokenizer_rows({"tokens_per_char": 0.25, "tokens_per_math_segment": 11.0})
    assert [(r["tokenizer"], r["value"]) for r in rows] == [("project", 0.25), ("project", 11.0)]
    assert rows[1]["measure"].startswith("tokens per math segment")


def test_pretrain_wall_s_from_the_timing_log():
    assert pretrain_wall_s([{"step": "10", "wall_s": "1.5"}, {"step": "20", "wall_s": "3"}]) == 3
    assert pretrain_wall_s([{"step": "10"}]) is None
    assert pretrain_wall_s([{"step": "10", "wall_s": "nan"}]) is None
    assert pretrain_wall_s([{"step": "10", "wall_s": ""}]) is None


def test_loss_in_bits_per_byte_uses_each_splits_ratio_and_tokens_seen():
    series = {
        "train/loss": ([10, 20], [2.0, 1.0]),
        "val/loss": ([15, 20], [1.5, 1.2]),  # val at a step without a tokens row: interpolated
        "tokens": ([10, 20], [1000, 2000]),
        "lr": ([10, 20], [0.1, 0.1]),
    }
    rows = loss_bits_per_byte(series, {"train": 0.25, "val": 0.3})
    assert [(r["split"], r["step"], r["tokens"]) for r in rows] == [
        ("train", 10, 1000),
        ("train", 20, 2000),
        ("val", 15, 1500),
        ("val", 20, 2000),
    ]
    assert rows[0]["bits_per_byte"] == pytest.approx(2.0 / math.log(2) * 0.25, abs=1e-6)
    assert rows[3]["bits_per_byte"] == pytest.approx(1.2 / math.log(2) * 0.3, abs=1e-6)
    with pytest.raises(ValueError, match="val split"):
        loss_bits_per_byte(series, {"train": 0.25})
    with pytest.raises(ValueError, match="no train/loss"):
        loss_bits_per_byte({"lr": ([1], [0.1])}, {"train": 0.25})
    stats = {"splits": {"train": {"tokens": 30, "bytes": 120}, "val": {"tokens": 0, "bytes": 0}}}
    assert split_tokens_per_byte(stats) == {"train": 0.25}  # an empty split has no ratio


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """The inputs of the study stage, as the stages before it leave them."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(BASE))
    rep = tmp_path / "reports"
    live = rep / "pretrain" / "plots" / "metrics"
    curves = {"train/loss": [(10, 2.0)], "val/loss": [(10, 1.9)], "tokens": [(10, 640)]}
    for name, rows in curves.items():
        path = live / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        stem = name.split("/")[-1]
        path.write_text(f"step\t{stem}\n" + "".join(f"{s}\t{v}\n" for s, v in rows))
    (rep / "pretrain" / "timing.tsv").write_text("step\twall_s\ttokens_per_s\tmfu\n10\t4.5\t99\t\n")
    (rep / "yield.json").write_text(json.dumps({"tokens_out": 100, "overall_yield": 0.5}))
    (rep / "evaluate.json").write_text(json.dumps({"bits_per_byte": 1.25}))
    (rep / "tokenizer.json").write_text(json.dumps({"tokens_per_char": 0.3}))
    shard = tmp_path / "data" / "shard"
    shard.mkdir(parents=True)
    splits = {"train": {"tokens": 25, "bytes": 100}, "val": {"tokens": 30, "bytes": 100}}
    (shard / "stats.json").write_text(json.dumps({"splits": splits}))
    return tmp_path


def _main(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(run_dir)
    stage = importlib.import_module("stages.study")
    stage.main([
        "--params", "params.yaml", "--yield-metrics", "reports/yield.json",
        "--evaluate", "reports/evaluate.json", "--tokenizer", "reports/tokenizer.json",
        "--live", "reports/pretrain", "--shard-stats", "data/shard/stats.json",
        "--study", "reports/study.csv", "--metrics", "reports/study.json",
        "--tokenizers", "reports/tokenizers.csv", "--loss-bpb", "reports/loss_bpb.csv",
    ])  # fmt: skip


def _study(run_dir: Path) -> dict[str, str]:
    with (run_dir / "reports" / "study.csv").open() as fh:
        (row,) = list(csv.DictReader(fh))
    return row


def test_stage_labels_the_params_changed_since_head(run_dir, monkeypatch):
    _git(run_dir, "init", "-q")
    _git(run_dir, "add", "params.yaml")
    _git(run_dir, "commit", "-qm", "baseline")
    _main(run_dir, monkeypatch)
    assert _study(run_dir)["label"] == NO_CHANGE
    params = yaml.safe_load((run_dir / "params.yaml").read_text())
    params["pretrain"]["lr"] = 0.002  # what `dvc exp run -S pretrain.lr=0.002` does
    (run_dir / "params.yaml").write_text(yaml.safe_dump(params))
    _main(run_dir, monkeypatch)
    row = _study(run_dir)
    assert row["label"] == "pretrain.lr=0.002"
    assert (row["yield"], row["val_bits_per_byte"]) == ("0.5", "1.25")
    assert row["pretrain_wall_s"] == "4.5"  # from timing.tsv
    metrics = json.loads((run_dir / "reports" / "study.json").read_text())
    assert metrics == {"tokens_out": 100, "yield": 0.5, "val_bits_per_byte": 1.25,
                       "tokens_per_char": 0.3}  # fmt: skip
    curve = (run_dir / "reports" / "loss_bpb.csv").read_text().splitlines()
    assert curve[0] == "split,step,tokens,bits_per_byte" and curve[2].startswith("val,10,640,")


def test_stage_outside_git_says_so_and_a_missing_input_is_named(run_dir, monkeypatch):
    _main(run_dir, monkeypatch)  # tmp_path is not in a git repository
    assert _study(run_dir)["label"] == "no git baseline"
    (run_dir / "reports" / "evaluate.json").unlink()
    with pytest.raises(SystemExit, match="reports/evaluate.json"):
        _main(run_dir, monkeypatch)
