"""The validate stage end to end on a hand-built chunk: md5, classification, accounting."""

import gzip
import io
import shutil
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from arxiv2lm.io import read_json
from arxiv2lm.sources.manifest import ChunkEntry, md5_file, write_manifest

ROOT = Path(__file__).resolve().parents[2]
TEX = b"\\documentclass{article}\\begin{document}Hello\\end{document}\n"


def _load_stage():
    import importlib.util

    spec = importlib.util.spec_from_file_location("validate_stage", ROOT / "stages/validate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    _chunk(
        src / "arXiv_src_9901_001.tar",
        {
            "9901/hep-th9901001.gz": gzip.compress(TEX, mtime=0),
            "9901/2301.00001.gz": gzip.compress(TEX, mtime=0),  # the same id again
        },
    )
    write_manifest(
        [
            _entry(src / "arXiv_src_2301_001.tar", "2301", 4),
            _entry(src / "arXiv_src_9901_001.tar", "9901", 2),
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
    rows = pq.read_table(project / "out" / "sources.parquet").to_pylist()
    assert [(r["id"], r["kind"], r["yymm"]) for r in rows] == [
        ("2301.00001", "tex_single", "2301"),
        ("hep-th/9901001", "tex_single", "9901"),
    ]
    assert rows[0]["contents"] == [TEX]
    rejected = {
        r["id"]: r["reason"] for r in pq.read_table(project / "out/rejected.parquet").to_pylist()
    }
    assert rejected == {
        "2301.00002": "pdf_only",
        "2301.00003": "bad_gzip",
        "2301.00004": "missing_source",
        "2301.00001": "duplicate_member",
    }
    stats = read_json(project / "out" / "stats.json")
    assert stats["kept"]["papers"] == 2
    assert stats["members_not_selected"] == 1
    assert not (project / "out" / "parts").exists()


def test_md5_mismatch_stops_and_keeps_previous_output(project: Path) -> None:
    stage = _load_stage()
    stage.main(["ingest", "filter", "out"])
    before = (project / "out" / "sources.parquet").read_bytes()
    chunk = project / "ingest" / "src" / "arXiv_src_9901_001.tar"
    chunk.write_bytes(chunk.read_bytes()[:-1] + b"\x01")
    with pytest.raises(SystemExit, match=r"arXiv_src_9901_001\.tar: md5 .* does not match"):
        stage.main(["ingest", "filter", "out"])
    assert (project / "out" / "sources.parquet").read_bytes() == before


def test_missing_input_is_a_clear_message(project: Path) -> None:
    with pytest.raises(SystemExit, match="not found"):
        _load_stage().main(["ingest", "nowhere", "out"])
