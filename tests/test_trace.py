"""`python -m arxiv2lm.trace`: ids checked, point lookups that read only the row groups
holding the id, and, on the sample run through shard, the lineage of a kept paper of each
split and of one dropped paper per stage and reason, checked against the stages' own files."""

from __future__ import annotations

import importlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.trace import TraceError, parse_id, trace_paper
from arxiv2lm.trace.__main__ import _value, main
from arxiv2lm.trace.lookup import find_rows

ROOT = Path(__file__).resolve().parents[1]
DATA_STAGES = ["ingest", "filter", "validate", "extract", "normalize", "tokenizer", "shard"]
DROPPING = ["filter", "validate", "extract", "normalize", "shard"]
# Smaller than the shipped sample (every special case is in it at least once); the
# tokenizer as small as the test corpus allows.
SMALL = {
    "ingest": {"n_papers": 160, "papers_per_chunk": 40},
    "tokenizer": {"vocab_size": 1024, "n_mined_symbols": 40},
}


@pytest.mark.parametrize(
    ("text", "base", "version", "yymm"),
    [
        ("2301.01234", "2301.01234", None, "2301"),
        ("2301.01234v12", "2301.01234", 12, "2301"),
        ("  arXiv:0704.0001 ", "0704.0001", None, "0704"),
        ("math/0601001", "math/0601001", None, "0601"),
        ("math.AG/0601001v2", "math/0601001", 2, "0601"),
        ("hep-th/9901001", "hep-th/9901001", None, "9901"),
    ],
)
def test_ids_are_read_in_both_styles(text: str, base: str, version: int | None, yymm: str):
    paper = parse_id(text)
    assert (paper.base, paper.version, paper.yymm) == (base, version, yymm)


@pytest.mark.parametrize(
    "text",
    ["", "foo", "2301.1234", "1107.01234", "2313.01234", "2301.01234v", "../2301.01234",
     "math/060100", "Math/0601001", "2301.01234 2301.01235", "2301.01234" * 20],
)  # fmt: skip
def test_bad_ids_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(TraceError, match="arXiv id|month|digit"):
        parse_id(text)


def test_a_lookup_reads_only_the_row_groups_holding_the_id(tmp_path, monkeypatch) -> None:
    ids = [f"2301.{i:05d}" for i in range(1000)]
    table = pa.table({"id": ids, "n": list(range(1000))})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=100)
    reads: list[int] = []
    real = pq.ParquetFile.read_row_group

    def counting(self: pq.ParquetFile, i: int, *args: object, **kwargs: object) -> pa.Table:
        reads.append(i)
        return real(self, i, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", counting)
    assert find_rows(tmp_path / "t.parquet", "2301.00733", ["n"]) == [
        {"id": "2301.00733", "n": 733}
    ]
    assert reads == [7, 7]  # its id column, then its row: no other group is opened
    reads.clear()
    assert find_rows(tmp_path / "t.parquet", "2301.99999", ["n"]) == []
    assert reads == []
    versioned = find_rows(
        tmp_path / "t.parquet", "2301.00010", ["n"], "2301.00010w", lambda v: v == "2301.00010"
    )
    assert [r["n"] for r in versioned] == [10]


def test_a_corrupt_part_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(TraceError, match="bad.parquet"):
        find_rows(tmp_path / "bad.parquet", "2301.00001", [])
    pq.write_table(pa.table({"name": ["2301.00001"]}), tmp_path / "noid.parquet")
    with pytest.raises(TraceError, match="no id column"):
        find_rows(tmp_path / "noid.parquet", "2301.00001", [])


def test_outside_text_reaches_the_screen_without_control_characters() -> None:
    assert _value("0604/\x1b[2Jevil\x07.gz") == "0604/?[2Jevil?.gz"
    assert _value("a\n b\tc") == "a b c"
    assert _value("x" * 500).endswith(" ...") and len(_value("x" * 500)) <= 110


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The sample run through shard by the stage entries, in-process, as dvc.yaml runs them."""
    project = tmp_path_factory.mktemp("trace") / "project"
    project.mkdir()
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    for section, changes in SMALL.items():
        doc[section].update(changes)
    (project / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for name in DATA_STAGES:
            importlib.import_module(f"stages.{name}").main(stages[name]["cmd"].split()[2:])
    yield project / "data"


def _rejected(data: Path, stage: str) -> dict[str, dict]:
    """The first dropped paper of each reason of a stage's ledger."""
    first: dict[str, dict] = {}
    for row in pq.read_table(data / stage / "rejected.parquet").to_pylist():
        if not row["id"].startswith("line:"):
            first.setdefault(row["reason"], row)
    return first


@pytest.mark.slow
def test_a_dropped_paper_is_traced_to_its_stage_and_reason(data: Path) -> None:
    traced = 0
    for stage in DROPPING:
        for reason, row in _rejected(data, stage).items():
            trace = trace_paper(data, parse_id(row["id"]))
            assert trace is not None
            assert trace.verdict == {"stage": stage, "status": "dropped", "reason": reason}
            step = next(s for s in trace.stages if s.stage == stage)
            assert step.detail == (row["detail"] or "")
            later = [s.status for s in trace.stages[DROPPING.index(stage) + 1 :]]
            assert set(later) <= {"not_reached"}
            traced += 1
    # the sample drops at these stages (off-domain and withdrawn, PDF-only, corrupt gzip and
    # missing sources, a duplicate body): a sample without them would test nothing
    for stage in ("filter", "validate", "normalize"):
        assert _rejected(data, stage), stage
    assert traced >= 6


@pytest.mark.slow
def test_a_member_of_a_dropped_paper_is_found_in_its_chunk(data: Path) -> None:
    row = _rejected(data, "validate")["pdf_only"]
    step = trace_paper(data, parse_id(row["id"])).stages[1]
    assert step.facts["member"].endswith(".pdf")
    assert step.facts["chunk"].startswith(f"arXiv_src_{parse_id(row['id']).yymm}_")
    missing = _rejected(data, "validate")["missing_source"]
    assert "chunk" not in trace_paper(data, parse_id(missing["id"])).stages[1].facts


@pytest.mark.slow
@pytest.mark.parametrize("split", ["train", "val"])
def test_a_kept_paper_is_traced_to_its_tokens(data: Path, split: str) -> None:
    shards = ShardSet.open(data / "shard", split)
    doc = shards.index.iloc[len(shards.index) // 2]
    trace = trace_paper(data, parse_id(doc["id"]))
    assert trace is not None
    assert [s.status for s in trace.stages] == ["kept"] * 5
    shard = trace.stages[-1].facts
    assert (shard["split"], shard["tokens"], shard["bucket"]) == (
        split, doc["length"], doc["bucket"]
    )  # fmt: skip
    start = shard["offset_in_split"]
    assert start == doc["offset"]  # the ShardSet's index holds offsets in the whole split
    end = start + shard["tokens"]
    assert int(shards.tokens[end - 1]) == shards.eos_id  # the paper ends at its EOS
    chunk = trace.stages[1].facts["chunk"]
    extract = pq.read_table(data / "extract/parts" / f"{chunk}.parquet").to_pylist()
    row = next(r for r in extract if r["id"] == doc["id"])
    facts = trace.stages[2].facts
    assert (facts["main_file"], facts["main_rule"]) == (row["main_file"], row["main_rule"])
    assert facts["inputs_resolved"] == row["inputs_resolved"]
    assert trace.stages[1].facts["member"].startswith(f"{parse_id(doc['id']).yymm}/")


@pytest.mark.slow
def test_the_command_line_exit_codes_and_json(data: Path, capsys) -> None:
    kept = ShardSet.open(data / "shard", "train").index.iloc[0]["id"]
    assert main([kept, "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"]["stage"] == "shard" and out["id"] == kept
    assert [s["stage"] for s in out["stages"]] == DROPPING
    dropped = next(iter(_rejected(data, "validate").values()))["id"]
    assert main([dropped, "--data", str(data)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{dropped}: dropped at validate")
    assert "validate   dropped" in text
    assert main(["2301.99999", "--data", str(data)]) == 1
    assert "not in the metadata" in capsys.readouterr().err
    assert main(["not-an-id", "--data", str(data)]) == 2
    assert main([kept, "--data", str(data / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_stages_not_run_are_named(data: Path, tmp_path: Path) -> None:
    partial = tmp_path / "data"
    for stage in ("ingest", "filter", "validate"):
        shutil.copytree(data / stage, partial / stage)
    kept = ShardSet.open(data / "shard", "train").index.iloc[0]["id"]
    trace = trace_paper(partial, parse_id(kept))
    assert [s.status for s in trace.stages] == ["kept", "kept", "not_run", "not_run", "not_run"]
    assert trace.verdict == {"stage": "validate", "status": "kept", "reason": ""}
