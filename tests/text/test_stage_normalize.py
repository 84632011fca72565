"""The normalize stage end to end: order, drop reasons, exact de-dup, missing input."""

import importlib.util
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arxiv2lm.io import iter_parquet, read_json

ROOT = Path(__file__).resolve().parents[2]
DOC = "\n".join(
    f"Paragraph {i} talks about the {i}th energy bound $E_{i}$ of a field." for i in range(40)
)


def _stage():
    spec = importlib.util.spec_from_file_location("normalize_stage", ROOT / "stages/normalize.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_normalize_stage(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    rows = [
        ("b", DOC + " B"),
        ("a", DOC + "  \n\n\nA"),
        ("dup", DOC + " B"),
        ("tiny", "too short"),
    ]
    table = pa.table(
        {"id": [r[0] for r in rows], "domain": ["math"] * 4, "text": [r[1] for r in rows]}
    )
    (tmp_path / "extract").mkdir()
    pq.write_table(table, tmp_path / "extract/docs.parquet")
    _stage().main(["extract", "normalize"])
    out = list(iter_parquet(tmp_path / "normalize/docs.parquet"))
    assert [r["id"] for r in out] == ["b", "a"]
    assert out[1]["text"].endswith("field.\n\nA")
    assert out[0]["bytes"] == len(out[0]["text"].encode()) and out[0]["math_fraction"] > 0
    stats = read_json(tmp_path / "normalize/stats.json")
    assert stats["dropped"] == {"exact_duplicate": {"papers": 1, "bytes": len(DOC) + 2},
                                "too_short": {"papers": 1, "bytes": 9}}  # fmt: skip
    rejected = pq.read_table(tmp_path / "normalize/rejected.parquet").to_pylist()
    assert {(r["id"], r["reason"]) for r in rejected} == {
        ("dup", "exact_duplicate"),
        ("tiny", "too_short"),
    }


def test_missing_input_is_a_clear_error(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="does not exist"):
        _stage().main(["nope", "out"])
