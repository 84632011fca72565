"""The filter stage on a tiny snapshot: output schema, ids as strings, clear failures."""

import importlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from arxiv2lm.io import read_json

ROOT = Path(__file__).resolve().parents[2]


def _stage():
    return importlib.import_module("stages.filter")


def _line(arxiv_id: str, cats: str, **kw) -> str:
    rec = {
        "id": arxiv_id,
        "categories": cats,
        "license": None,
        "title": "T",
        "abstract": "A",
        "comments": None,
        "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}],
    }
    return json.dumps(rec | kw)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    snap = tmp_path / "ingest" / "metadata" / "arxiv-metadata-oai-snapshot.json"
    snap.parent.mkdir(parents=True)
    snap.write_text(
        "\n".join(
            [
                _line("0704.0010", "math.AG"),
                _line("0704.0011", "q-bio.NC"),
                _line("0704.0010", "math.AG"),
                _line(
                    "chao-dyn/9901001",
                    "chao-dyn",
                    versions=[{"created": "Fri, 1 Jan 1999 0:0:0 GMT"}],
                ),
                "{broken",
            ]
        )
        + "\n"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_filter_stage(workdir: Path) -> None:
    _stage().main(["ingest", "out"])
    table = pq.read_table(workdir / "out" / "papers.parquet")
    assert table.schema.field("id").type == "string"
    assert table.column("id").to_pylist() == ["0704.0010", "chao-dyn/9901001"]
    assert table.column("domain").to_pylist() == ["math", "physics"]
    stats = read_json(workdir / "out" / "stats.json")
    assert stats["dropped"] == {
        "bad_metadata": {"papers": 1, "bytes": 0},
        "category_excluded": {"papers": 1, "bytes": 0},
        "duplicate_id": {"papers": 1, "bytes": 0},
    }


def test_empty_result_is_a_clear_message(workdir: Path) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["filter"]["to_date"] = "1990-01-01"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit, match="no paper of 5 passed the filter"):
        _stage().main(["ingest", "out"])
    assert not (workdir / "out").exists()


def test_bad_params_named(workdir: Path) -> None:
    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["filter"]["from_dat"] = "2000-01-01"
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit, match="filter: unknown key 'from_dat'"):
        _stage().main(["ingest", "out"])


def test_hostile_lines_are_counted_drops_not_tracebacks(workdir: Path) -> None:
    snap = workdir / "ingest" / "metadata" / "arxiv-metadata-oai-snapshot.json"
    lines = [
        _line("0704.0010", "math.AG").encode(),
        b'{"id": "0704.0012", "categories": "math.AG\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": "0704.0013", "n": ' + b"9" * 5000 + b"}",
        _line("0704.0014", "math.AG", versions={"v1": "Mon, 2 Apr 2007"}).encode(),
        _line("0704.0015", "math.AG", versions=3).encode(),
        _line("0704.0016", "math.AG", license={"url": "cc-by"}).encode(),
        _line("0704.0017", "math.AG", title=["T"]).encode(),
        _line("0704.0018", "math.AG", abstract="\ud800").encode(),
        _line("0704.0019", "math.AG").encode(),
    ]
    snap.write_bytes(b"\n".join(lines) + b"\n")
    _stage().main(["ingest", "out"])
    ids = pq.read_table(workdir / "out" / "papers.parquet").column("id").to_pylist()
    assert ids == ["0704.0010", "0704.0019"]
    stats = read_json(workdir / "out" / "stats.json")
    assert stats["dropped"] == {"bad_metadata": {"papers": 8, "bytes": 0}}
    assert stats["in"]["papers"] == 10
    rejected = pq.read_table(workdir / "out" / "rejected.parquet").to_pylist()
    assert [r["id"] for r in rejected] == [f"line:{n}" for n in range(2, 10)]
    assert [r["detail"].split(":")[0] for r in rejected] == [f"line {n}" for n in range(2, 10)]
    assert "license is dict" in rejected[5]["detail"]
