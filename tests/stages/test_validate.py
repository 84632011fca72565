"""The validate stage end to end on a hand-built chunk: md5, classification, accounting."""

import gzip
import importlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from arxiv2lm.io import read_json
from arxiv2lm.params import ParamsError, parse_section
from arxiv2lm.sources import validate as validate_core
from arxiv2lm.sources.manifest import ChunkEntry, md5_file, read_manifest, write_manifest
from arxiv2lm.workcache import iter_parts
from tests.sources.hostile_tars import (
    END,
    digits,
    gnu_sparse,
    gz,
    header,
    member,
    pax,
    record,
)

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


def _did(last_run: Path) -> tuple[int, int, int, int]:
    """(classify computed, reused, select computed, reused) of the last run."""
    run = read_json(last_run)
    return (
        run["units_computed"],  # the classify units: chunks read
        run["units_reused"],
        run["select_computed"],
        run["select_reused"],
    )


def test_incremental_rerun_processes_only_the_new_chunk(project: Path) -> None:
    stage = _load_stage()
    args = ["ingest", "filter", "out", "--work-cache", "work"]
    last_run = project / "work" / "validate" / "last_run.json"
    stage.main(args)
    first = read_json(project / "out" / "stats.json")
    assert _did(last_run) == (3, 0, 3, 0)
    stage.main(args)
    assert _did(last_run) == (0, 3, 0, 3) and read_json(last_run)["bytes_read"] == 0
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
    assert _did(last_run) == (1, 3, 1, 3)
    assert (
        read_json(project / "out" / "stats.json")["kept"]["papers"] == first["kept"]["papers"] + 1
    )
    assert [r["id"] for r in iter_parts(project / "out")][-1] == "2302.00001"
    # a params change recomputes everything that depends on it
    params = (project / "params.yaml").read_text().replace("max_ratio: 200", "max_ratio: 150")
    (project / "params.yaml").write_text(params)
    stage.main(args)
    assert _did(last_run) == (4, 0, 4, 0)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _set_papers(project: Path, papers: dict[str, str]) -> None:
    rows = [{"id": i, "domain": d} for i, d in papers.items()]
    pq.write_table(pa.Table.from_pylist(rows), project / "filter" / "papers.parquet")


def test_a_chunk_or_a_selection_change_recomputes_only_what_it_touches(project: Path) -> None:
    stage = _load_stage()
    args = ["ingest", "filter", "out", "--work-cache", "work"]
    last_run = project / "work" / "validate" / "last_run.json"
    stage.main(args)
    parts = project / "out" / "parts"
    before = _files(parts)
    # (a) a second chunk of an existing month: that chunk alone is read
    src = project / "ingest" / "src"
    _chunk(src / "arXiv_src_2301_003.tar", {"2301/2301.00005.gz": gzip.compress(TEX, mtime=0)})
    entries = read_manifest(src / "arXiv_src_manifest.xml")
    entries.append(_entry(src / "arXiv_src_2301_003.tar", "2301", 1))
    write_manifest(entries, src / "arXiv_src_manifest.xml")
    papers = {
        r["id"]: r["domain"] for r in pq.read_table(project / "filter/papers.parquet").to_pylist()
    }
    _set_papers(project, papers | {"2301.00005": "cs"})
    stage.main(args)
    # before: every chunk of 2301 was read again (its unit keyed on the month's selection)
    assert _did(last_run) == (1, 3, 1, 3)
    assert {k: v for k, v in _files(parts).items() if k in before} == before
    assert [r["id"] for r in iter_parts(project / "out")][-1] == "2301.00005"
    # (b) the filter drops a paper and moves another to a new domain: no chunk is read, and
    # only the parts of the chunks holding them are written
    papers = papers | {"2301.00005": "cs", "hep-th/9901001": "math"}
    del papers["2301.00002"]
    _set_papers(project, papers)
    before = _files(parts)
    stage.main(args)
    assert _did(last_run) == (0, 4, 2, 2)
    after = _files(parts)
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["arXiv_src_9901_001.parquet"]  # 2301_001 lost only a pdf_only paper
    assert "2301.00002" not in {
        r["id"] for r in pq.read_table(project / "out/rejected.parquet").to_pylist()
    }
    # (c) outputs are the same bytes as a run without any cache
    stage.main(["ingest", "filter", "fresh"])
    assert _files(project / "fresh") == _files(project / "out")


def _add_chunk(project: Path, name: str, chunk: bytes, papers: dict[str, str]) -> None:
    """Add a raw chunk to the manifest and its papers to the filter's selection."""
    src = project / "ingest" / "src"
    (src / name).write_bytes(chunk)
    entries = read_manifest(src / "arXiv_src_manifest.xml")
    entries.append(_entry(src / name, name.split("_")[2], len(papers)))
    write_manifest(entries, src / "arXiv_src_manifest.xml")
    rows = pq.read_table(project / "filter" / "papers.parquet").to_pylist()
    rows += [{"id": i, "domain": d} for i, d in papers.items()]
    pq.write_table(pa.Table.from_pylist(rows), project / "filter" / "papers.parquet")


def _rejected(project: Path) -> dict[str, tuple[str, str]]:
    rows = pq.read_table(project / "out/rejected.parquet").to_pylist()
    return {r["id"]: (r["reason"], r["detail"]) for r in rows}


def test_versioned_metadata_ids_find_their_members(project: Path) -> None:
    ids = ["2301.00001v2", "2301.00001v3", "2301.00002", "2301.00003", "hep-th/9901001v1"]
    pq.write_table(
        pa.table({"id": ids, "domain": ["math"] * 5}), project / "filter" / "papers.parquet"
    )
    _load_stage().main(["ingest", "filter", "out"])
    # before: 2301.00001v2 and hep-th/9901001v1 were missing_source, nothing was kept
    assert [r["id"] for r in iter_parts(project / "out")] == ["hep-th/9901001v1", "2301.00001v2"]
    assert {i: r[0] for i, r in _rejected(project).items()} == {
        "2301.00001v3": "duplicate_version",
        "2301.00002": "pdf_only",
        "2301.00003": "bad_gzip",
    }
    assert _rejected(project)["2301.00001v3"][1] == "counted as 2301.00001v2"


def test_hostile_members_are_named_drops(project: Path) -> None:
    good = gz(TEX)
    chunk = (
        member("2302/2302.00001.gz", gz(pax(digits(100_000)) + member("main.tex", TEX) + END))
        + member("2302/2302.00002.gz", gz(member("a.tex", TEX) + gnu_sparse("b.tex", 3 << 29)))
        + pax(record(b"GNU.sparse.realsize", b"x"))  # this chunk header: int('x') in tarfile
        + member("2302/2302.00003.gz", good)
        + member("2302/r\udce9sum\udce9.gz", good)  # not UTF-8, not a paper member
        + member("2302/2302.00004.gz", gz(member("../r\udce9sum\udce9.tex", TEX) + END))
        + member("2302/2302.00005.gz", good)
        + END
    )
    papers = {f"2302.0000{i}": "cs" for i in range(1, 6)}
    _add_chunk(project, "arXiv_src_2302_001.tar", chunk, papers)
    start = time.perf_counter()
    # before: ValueError "invalid literal for int() with base 10: 'x'", naming nothing
    _load_stage().main(["ingest", "filter", "out"])
    assert time.perf_counter() - start < 30  # the pax header alone cost ~15 min before
    rejected = _rejected(project)
    assert {i: rejected[i][0] for i in papers if i in rejected} == {
        "2302.00001": "bad_tar",
        "2302.00002": "sparse_member",
        "2302.00003": "bad_header",
        "2302.00004": "unsafe_path",
    }
    assert rejected["2302.00004"][1] == "path climbs out: '../r\ufffdsum\ufffd.tex'"
    assert [r["id"] for r in iter_parts(project / "out")][-1] == "2302.00005"
    assert read_json(project / "out" / "stats.json")["bad_member_names"] == 1


def test_unreadable_chunk_stops_the_stage_naming_it(project: Path) -> None:
    bad = header("2302/2302.00002.gz", 5, patch={124: b"9x9x9x9x9x9\0"})
    chunk = member("2302/2302.00001.gz", gz(TEX)) + bad + member("2302/2302.00003.gz", gz(TEX))
    _add_chunk(project, "arXiv_src_2302_001.tar", chunk + END, {"2302.00003": "cs"})
    # before: the chunk ended silently at the bad header; 2302.00003 became missing_source
    with pytest.raises(SystemExit) as info:
        _load_stage().main(["ingest", "filter", "out"])
    assert str(info.value) == (
        "validate: chunk ingest/src/arXiv_src_2302_001.tar: not a readable tar "
        "(unreadable header at offset 1024: invalid header)"
    )


_RUN_JOB = validate_core._run_job  # the real one, taken before a test replaces it


def _die_on_2301_001(*args: object, **kwargs: object) -> object:
    """`_run_job`, except that its worker is SIGKILLed (what the OOM killer does) on one chunk.
    Imported by name in the worker; *args fit any `_run_job` signature."""
    job = args[0][0] if isinstance(args[0], tuple) else args[0]
    if job.path.endswith("arXiv_src_2301_001.tar"):
        os.kill(os.getpid(), signal.SIGKILL)
    return _RUN_JOB(*args, **kwargs)


def test_a_killed_worker_stops_the_stage_naming_its_chunk(project: Path) -> None:
    params = (project / "params.yaml").read_text()
    (project / "params.yaml").write_text(params.replace("  workers: 0", "  workers: 2", 1))
    script = (
        "import tests.stages.test_validate as t, arxiv2lm.sources.validate as v\n"
        "v._run_job = t._die_on_2301_001\n"
        "import stages.validate as s\n"
        "s.main(['ingest', 'filter', 'out', '--work-cache', 'work'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # before: mp.Pool's get() waited for the dead worker forever (this timeout fired)
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, capture_output=True, timeout=120
    )
    assert run.returncode == 1
    assert run.stderr.decode().strip().splitlines() == [
        "validate: worker died (killed by signal 9, out of memory?) "
        "while computing arXiv_src_2301_001.tar"
    ]
    assert not (project / "out").exists()
    # the chunk finished before it (9901, first in manifest order) is kept for the rerun
    assert len(list((project / "work" / "validate").glob("*/*/COMPLETE"))) == 1
    _load_stage().main(["ingest", "filter", "out", "--work-cache", "work"])
    assert _did(project / "work" / "validate" / "last_run.json") == (2, 1, 3, 0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_paper_mb", 0, "max_paper_mb 0.0 must be > 0"),
        ("max_member_mb", -1, "max_member_mb -1.0 must be > 0"),
        ("max_member_mb", 32, "max_member_mb 32.0 is below max_paper_mb 64.0"),
        ("max_ratio", 0.5, "max_ratio 0.5 must be >= 1"),
        ("timeout_s", -1, "timeout_s -1.0 must be >= 0"),
    ],
)
def test_validate_params_are_range_checked(key: str, value: float, message: str) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())["validate"] | {key: value}
    with pytest.raises(ParamsError, match=f"validate: {message}"):
        parse_section("validate", raw)
