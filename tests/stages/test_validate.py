"""The validate stage end to end on a hand-built chunk: md5, classification, accounting."""

import gzip
import importlib
import io
import shutil
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arxiv2lm.io import read_json
from arxiv2lm.sources.manifest import ChunkEntry, md5_file, read_manifest, write_manifest
from arxiv2lm.workcache import iter_parts

ROOT = Path(__file__).resolve().parents[2]
TEX = b"\\documentclass{article}\\begin{document}Hello\\end{document}\n"


def _load_stage():
    return importlib.import_module("stages.validate")


def _chunk(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _entry(path: Path, yymm: str, n: int, md5: str | None = None) -> ChunkEntry:
    return ChunkEntry(
        filename=f"src/{path.name}",
        md5sum=md5 or md5_file(path),
        content_md5sum="",
        size=path.stat().st_size,
        num_items=n,
        first_item="",
        last_item="",
        yymm=yymm,
        seq_num=1,
        timestamp="2026-01-01 00:00:00",
    )


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    src = tmp_path / "ingest" / "src"
    src.mkdir(parents=True)
    _chunk(
        src / "arXiv_src_2301_001.tar",
        {
            "2301/2301.00001.gz": gzip.compress(TEX, mtime=0),
            "2301/2301.00002.pdf": b"%PDF-1.4",
            "2301/2301.00003.gz": b"\x1f\x8b\x08\x00broken",
            "2301/2301.09999.gz": gzip.compress(TEX, mtime=0),  # filtered out: not selected
        },
    )
    _chunk(src / "arXiv_src_9901_001.tar", {"9901/hep-th9901001.gz": gzip.compress(TEX, mtime=0)})
    _chunk(
        src / "arXiv_src_2301_002.tar",
        {"2301/2301.00001.gz": gzip.compress(TEX, mtime=0)},  # the same id again
    )
    write_manifest(
        [
            _entry(src / "arXiv_src_9901_001.tar", "9901", 1),
            _entry(src / "arXiv_src_2301_001.tar", "2301", 4),
            _entry(src / "arXiv_src_2301_002.tar", "2301", 1),
        ],
        src / "arXiv_src_manifest.xml",
    )
    ids = ["2301.00001", "2301.00002", "2301.00003", "hep-th/9901001", "2301.00004"]
    (tmp_path / "filter").mkdir()
    pq.write_table(
        pa.table({"id": ids, "domain": ["math", "cs", "cs", "physics", "math"]}),
        tmp_path / "filter" / "papers.parquet",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_validate_classifies_and_accounts_for_every_paper(project: Path) -> None:
    _load_stage().main(["ingest", "filter", "out"])
    rows = list(iter_parts(project / "out"))
    assert [(r["id"], r["kind"], r["yymm"]) for r in rows] == [
        ("hep-th/9901001", "tex_single", "9901"),
        ("2301.00001", "tex_single", "2301"),
    ]
    assert rows[0]["contents"] == [TEX]
    rejected = {
        r["id"]: r["reason"] for r in pq.read_table(project / "out/rejected.parquet").to_pylist()
    }
    assert rejected == {
        "2301.00002": "pdf_only",
        "2301.00003": "bad_gzip",
        "2301.00004": "missing_source",
    }
    stats = read_json(project / "out" / "stats.json")
    assert stats["kept"]["papers"] == 2
    assert stats["members_not_selected"] == 1
    assert stats["duplicate_members"] == 1
    assert stats["in"]["papers"] == 5  # every selected paper once
    assert sorted(p.name for p in (project / "out" / "parts").iterdir()) == [
        "arXiv_src_2301_001.parquet",
        "arXiv_src_2301_002.parquet",
        "arXiv_src_9901_001.parquet",
    ]


def test_md5_mismatch_stops_and_keeps_previous_output(project: Path) -> None:
    stage = _load_stage()
    stage.main(["ingest", "filter", "out"])
    before = (project / "out/parts/arXiv_src_2301_001.parquet").read_bytes()
    chunk = project / "ingest" / "src" / "arXiv_src_2301_002.tar"
    chunk.write_bytes(chunk.read_bytes()[:-1] + b"\x01")
    with pytest.raises(SystemExit, match=r"arXiv_src_2301_002\.tar: md5 .* does not match"):
        stage.main(["ingest", "filter", "out"])
    assert (project / "out/parts/arXiv_src_2301_001.parquet").read_bytes() == before


def test_missing_input_is_a_clear_message(project: Path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        _load_stage().main(["ingest", "nowhere", "out"])


def test_incremental_rerun_processes_only_the_new_chunk(project: Path) -> None:
    stage = _load_stage()
    args = ["ingest", "filter", "out", "--work-cache", "work"]
    last_run = project / "work" / "validate" / "last_run.json"
    stage.main(args)
    first = read_json(project / "out" / "stats.json")
    assert read_json(last_run)["units_computed"] == 3
    stage.main(args)
    again = read_json(last_run)
    assert (again["units_computed"], again["units_reused"], again["bytes_read"]) == (0, 3, 0)
    assert read_json(project / "out" / "stats.json") == first  # outputs identical
    # a new month arrives: its chunk, its manifest entry and its papers in the metadata
    src = project / "ingest" / "src"
    _chunk(src / "arXiv_src_2302_001.tar", {"2302/2302.00001.gz": gzip.compress(TEX, mtime=0)})
    entries = read_manifest(src / "arXiv_src_manifest.xml")
    write_manifest(
        [*entries, _entry(src / "arXiv_src_2302_001.tar", "2302", 1)],
        src / "arXiv_src_manifest.xml",
    )
    papers = pq.read_table(project / "filter" / "papers.parquet").to_pylist()
    papers.append({"id": "2302.00001", "domain": "cs"})
    pq.write_table(pa.Table.from_pylist(papers), project / "filter" / "papers.parquet")
    stage.main(args)
    third = read_json(last_run)
    assert (third["units_computed"], third["units_reused"]) == (1, 3)
    assert (
        read_json(project / "out" / "stats.json")["kept"]["papers"] == first["kept"]["papers"] + 1
    )
    assert [r["id"] for r in iter_parts(project / "out")][-1] == "2302.00001"
    # a params change recomputes everything that depends on it
    params = (project / "params.yaml").read_text().replace("max_ratio: 200", "max_ratio: 150")
    (project / "params.yaml").write_text(params)
    stage.main(args)
    assert read_json(last_run)["units_computed"] == 4
