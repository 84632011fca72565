import csv

import pytest

from arxiv2lm.io import write_csv
from arxiv2lm.reports.curves import plot_loss, read_series
from arxiv2lm.reports.funnel import (
    DROP_FIELDS,
    FUNNEL_FIELDS,
    TRIMMED,
    drop_rows,
    funnel_rows,
    plot_funnel,
    yield_metrics,
)
from arxiv2lm.reports.token_funnel import StageTokens, TokenFunnel
from arxiv2lm.reports.tokens import Estimator

STATS = [
    {
        "stage": "filter",
        "in": {"papers": 100, "bytes": 0},
        "kept": {"papers": 80, "bytes": 0, "tokens": 0},
        "dropped": {
            "category_excluded": {"papers": 15, "bytes": 0},
            "withdrawn": {"papers": 5, "bytes": 0},
        },
    },
    {
        "stage": "validate",
        "in": {"papers": 80, "bytes": 8000},
        "kept": {"papers": 60, "bytes": 6000, "tokens": 0},
        "dropped": {"pdf_only": {"papers": 20, "bytes": 2000}},
    },
    {
        "stage": "shard",
        "in": {"papers": 60, "bytes": 5000},
        "kept": {"papers": 60, "bytes": 5000, "tokens": 1234},
        "dropped": {},
    },
]


def _tokens() -> TokenFunnel:
    """Tokens of STATS' stages: 1234 out; validate trims 100 from kept papers."""
    est = Estimator("compressed source byte", 0.5, 60, 12.0, 30.0)
    stages = {
        "filter": StageTokens(
            "filter", 2534, 1400, {"category_excluded": 1000, "withdrawn": 134}, "estimate"
        ),
        "validate": StageTokens("validate", 1400, 1234, {"pdf_only": 66}, "estimate"),
        "shard": StageTokens("shard", 1234, 1234, {}, "counted"),
    }
    return TokenFunnel(stages, est, est, 1.0, {"error_pct": 0.0})


def test_funnel_rows_follow_the_stages() -> None:
    rows = funnel_rows(STATS)
    assert [r["stage"] for r in rows] == ["filter", "validate", "shard"]
    assert [r["order"] for r in rows] == [1, 2, 3]  # plots sort by it, not by name
    assert rows[0]["papers_dropped"] == 20 and rows[0]["yield"] == 0.8
    assert rows[1]["yield"] == 0.75 and rows[2]["tokens_kept"] == 1234


def test_drop_rows_largest_first() -> None:
    rows = drop_rows(STATS)
    assert [(r["stage"], r["reason"], r["papers"]) for r in rows] == [
        ("filter", "category_excluded", 15),
        ("filter", "withdrawn", 5),
        ("validate", "pdf_only", 20),
    ]
    assert sum(r["papers"] for r in rows) == 100 - 60  # every dropped paper has a reason


def test_funnel_and_drops_in_tokens() -> None:
    tokens = _tokens()
    rows = funnel_rows(STATS, tokens)
    assert [(r["tokens_in"], r["tokens_kept"], r["tokens_dropped"]) for r in rows] == [
        (2534, 1400, 1134),
        (1400, 1234, 66),
        (1234, 1234, 0),
    ]
    assert rows[1]["tokens_trimmed"] == 100 and rows[0]["yield_tokens"] == round(1400 / 2534, 4)
    drops = drop_rows(STATS, tokens)
    assert [(d["label"], d["tokens"]) for d in drops] == [
        ("filter: category_excluded", 1000),
        ("filter: withdrawn", 134),
        ("validate: pdf_only", 66),
        (f"validate: {TRIMMED}", 100),
    ]
    assert [d["order"] for d in drops] == [1, 1, 2, 2]
    assert sum(d["papers"] for d in drops) == 100 - 60  # the trimmed row drops no paper
    metrics = yield_metrics(rows, drops, tokens)
    assert metrics["tokens_in"] == 2534 and metrics["tokens_out"] == 1234
    assert metrics["yield_tokens"] == round(1234 / 2534, 4)
    assert sum(metrics["tokens_lost"].values()) == 2534 - 1234
    assert metrics["token_estimate"]["compressed"]["median_abs_pct_error"] == 12.0
    assert metrics["papers_in"] == 100 and metrics["yield"]["validate"] == 0.75  # kept keys


def test_csv_and_png_written(tmp_path) -> None:
    write_csv(funnel_rows(STATS), FUNNEL_FIELDS, tmp_path / "f.csv")
    with (tmp_path / "f.csv").open() as fh:
        assert [r["papers_kept"] for r in csv.DictReader(fh)] == ["80", "60", "60"]
    plot_funnel(funnel_rows(STATS), drop_rows(STATS), tmp_path / "f.png", dpi=50)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    tokens = _tokens()
    write_csv(drop_rows(STATS, tokens), DROP_FIELDS, tmp_path / "d.csv")
    with (tmp_path / "d.csv").open() as fh:
        assert [r["label"] for r in csv.DictReader(fh)][-1] == f"validate: {TRIMMED}"
    plot_funnel(funnel_rows(STATS, tokens), drop_rows(STATS, tokens), tmp_path / "t.png", dpi=50)
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_loss_series_from_dvclive_layout(tmp_path) -> None:
    root = tmp_path / "plots" / "metrics"
    (root / "train").mkdir(parents=True)
    (root / "val").mkdir()
    (root / "train" / "loss.tsv").write_text("timestamp\tstep\tloss\n1\t0\t8.0\n2\t10\t6.5\n")
    (root / "val" / "loss.tsv").write_text("timestamp\tstep\tloss\n1\t10\t6.9\n")
    (root / "lr.tsv").write_text("timestamp\tstep\tlr\n1\t0\t0.001\n")
    series = read_series(tmp_path)
    assert series["train/loss"] == ([0, 10], [8.0, 6.5])
    assert series["lr"] == ([0], [0.001])
    plot_loss(series, tmp_path / "loss.png", dpi=50)
    assert (tmp_path / "loss.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="no loss series"):
        plot_loss({"lr": series["lr"]}, tmp_path / "x.png", dpi=50)
