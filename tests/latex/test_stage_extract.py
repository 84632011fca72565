"""The extract stage end to end on hand-built validate parts, with a process pool."""

import importlib
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arxiv2lm.io import read_json
from arxiv2lm.workcache import iter_parts, part_files

ROOT = Path(__file__).resolve().parents[2]


def _stage():
    return importlib.import_module("stages.extract")


def _paper(pid: str, files: dict[str, bytes]) -> dict:
    return {"id": pid, "domain": "math", "yymm": "2301", "kind": "tex_project",
            "paths": list(files), "contents": list(files.values()),
            "bytes": sum(map(len, files.values()))}  # fmt: skip


def test_extract_stage(tmp_path, monkeypatch):
    params = (ROOT / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(
        re.sub(r"(extract:(?:\n .*)*?\n  workers:) 0", r"\1 2", params)
    )
    monkeypatch.chdir(tmp_path)
    doc = b"\\documentclass{article}\\begin{document}Paper %d.\\end{document}"
    rows = [_paper(f"p{i}", {"main.tex": doc % i}) for i in range(5)]
    rows.insert(2, _paper("bad", {"refs.bbl": b"x"}))
    (tmp_path / "validate/parts").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(rows[:3]), tmp_path / "validate/parts/arXiv_src_2301_001.parquet"
    )
    pq.write_table(
        pa.Table.from_pylist(rows[3:]), tmp_path / "validate/parts/arXiv_src_2301_002.parquet"
    )
    (tmp_path / "validate/stats.json").write_text("{}")
    _stage().main(["validate", "extract"])
    assert [p.name for p in part_files(tmp_path / "extract")] == [
        "arXiv_src_2301_001.parquet", "arXiv_src_2301_002.parquet"]  # fmt: skip
    out = list(iter_parts(tmp_path / "extract"))
    assert [r["id"] for r in out] == [f"p{i}" for i in range(5)]
    assert list(out[0]) == ["id", "domain", "text", "main_file", "main_rule", "encoding",
                            "inputs_resolved", "inputs_missing", "macros_defined", "bytes_in",
                            "chars_out"]  # fmt: skip
    assert [r["text"] for r in out] == [f"Paper {i}." for i in range(5)]
    assert out[0]["main_rule"] == "single_candidate" and out[0]["bytes_in"] == len(doc % 0)
    stats = read_json(tmp_path / "extract/stats.json")
    assert stats["dropped"]["no_main_tex"]["papers"] == 1
    assert "seconds" not in stats  # no timings: the output hash must not depend on the run
    assert stats["kept"]["papers"] == 5


def test_missing_input_is_a_clear_error(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="no validate output"):
        _stage().main(["nope", "out"])


def test_extract_reuses_units_and_processes_only_a_new_chunk(tmp_path, monkeypatch):
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    doc = b"\\documentclass{article}\\begin{document}Paper %d.\\end{document}"
    parts = tmp_path / "validate/parts"
    parts.mkdir(parents=True)
    (tmp_path / "validate/stats.json").write_text("{}")
    for k in (1, 2):
        rows = [_paper(f"230{k}.0000{i}", {"main.tex": doc % (10 * k + i)}) for i in range(3)]
        pq.write_table(pa.Table.from_pylist(rows), parts / f"arXiv_src_230{k}_001.parquet")
    args = ["validate", "extract", "--work-cache", "work"]
    _stage().main(args)
    first = (tmp_path / "extract/stats.json").read_bytes()
    assert read_json(tmp_path / "work/extract/last_run.json")["units_computed"] == 2
    _stage().main(args)
    assert read_json(tmp_path / "work/extract/last_run.json") == {
        "units_computed": 0, "units_reused": 2}  # fmt: skip
    assert (tmp_path / "extract/stats.json").read_bytes() == first  # same output, cached
    rows = [_paper("2303.00001", {"main.tex": doc % 99})]
    pq.write_table(pa.Table.from_pylist(rows), parts / "arXiv_src_2303_001.parquet")
    _stage().main(args)
    assert read_json(tmp_path / "work/extract/last_run.json") == {
        "units_computed": 1, "units_reused": 2}  # fmt: skip
    texts = [r["text"] for r in iter_parts(tmp_path / "extract", ["text"])]
    assert texts == [f"Paper {i}." for i in (10, 11, 12, 20, 21, 22, 99)]
    params = (
        (tmp_path / "params.yaml")
        .read_text()
        .replace("keep_appendix: true", "keep_appendix: false")
    )
    (tmp_path / "params.yaml").write_text(params)
    _stage().main(args)  # a params change recomputes every unit
    assert read_json(tmp_path / "work/extract/last_run.json")["units_computed"] == 3
