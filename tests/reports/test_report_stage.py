"""The report stage's entry on a tiny pipeline's outputs (tests/reports/synthetic.py)."""

import csv
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from arxiv2lm.reports.tokens import doc_tokens
from stages import report
from tests.reports.synthetic import build

STAGES = ("filter", "validate", "extract", "normalize", "shard")


def _stats(dirs: dict[str, Path]) -> None:
    """A stats.json per stage that agrees with its rejected.parquet (papers per reason)."""
    shard_tokens = sum(
        doc_tokens(r["text"], str(dirs["model"]))
        for r in pq.read_table(dirs["normalize"] / "parts").to_pylist()
    )
    papers_in = 12
    for stage in STAGES:
        dropped: dict[str, dict[str, int]] = {}
        for r in pq.read_table(dirs[stage] / "rejected.parquet").to_pylist():
            d = dropped.setdefault(r["reason"], {"papers": 0, "bytes": 0})
            d["papers"] += 1
            d["bytes"] += r["bytes"]
        kept = papers_in - sum(d["papers"] for d in dropped.values())
        tokens = shard_tokens if stage == "shard" else 0
        stats = {
            "stage": stage,
            "in": {"papers": papers_in, "bytes": 0},
            "kept": {"papers": kept, "bytes": 0, "tokens": tokens},
            "dropped": dropped,
        }
        (dirs[stage] / "stats.json").write_text(json.dumps(stats))
        papers_in = kept


def test_report_writes_the_funnel_in_tokens(tmp_path: Path, monkeypatch) -> None:
    dirs = build(tmp_path / "data")
    _stats(dirs)
    live = tmp_path / "live" / "plots" / "metrics" / "train"
    live.mkdir(parents=True)
    (live / "loss.tsv").write_text("timestamp\tstep\tloss\n1\t0\t8.0\n2\t10\t6.5\n")
    params = {"report": {"dpi": 40, "count_tokens": "exact", "sample_fraction": 0.5,
                         "seed": 0, "workers": 1}}  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports"
    report.main(
        ["--stats", *(str(dirs[s]) for s in STAGES), "--live", str(tmp_path / "live"),
         "--funnel", str(out / "funnel.csv"), "--drops", str(out / "drops.csv"),
         "--yield-metrics", str(out / "yield.json"), "--funnel-png", str(out / "funnel.png"),
         "--loss-png", str(out / "loss.png"), "--ingest", str(dirs["ingest"]),
         "--tokenizer", str(dirs["model"].parent)]
    )  # fmt: skip
    metrics = json.loads((out / "yield.json").read_text())
    with (out / "funnel.csv").open() as fh:
        funnel = list(csv.DictReader(fh))
    assert [r["stage"] for r in funnel] == list(STAGES)
    assert [int(r["order"]) for r in funnel] == [1, 2, 3, 4, 5]
    assert int(funnel[0]["tokens_in"]) == metrics["tokens_in"] > metrics["tokens_out"] > 0
    assert sum(metrics["tokens_lost"].values()) == metrics["tokens_in"] - metrics["tokens_out"]
    assert metrics["token_estimate"]["papers_unsized"] == {
        "filter:withdrawn": 1,
        "validate:missing_source": 1,
    }
    assert (out / "funnel.png").read_bytes()[:4] == b"\x89PNG"


def test_report_needs_the_tokenizer(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"report": {"dpi": 40}}))
    monkeypatch.chdir(tmp_path)
    stage = tmp_path / "shard"
    stage.mkdir()
    (stage / "stats.json").write_text("{}")
    args = ["--stats", str(stage), "--live", "x", "--funnel", "f", "--drops", "d",
            "--yield-metrics", "y", "--funnel-png", "p", "--loss-png", "l",
            "--ingest", "i", "--tokenizer", str(tmp_path / "none")]  # fmt: skip
    with pytest.raises(SystemExit, match="tokenizer.model not found"):
        report.main(args)
