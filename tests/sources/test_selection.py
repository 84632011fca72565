"""The selection of a classified chunk: metadata ids and domains onto member ids."""

from pathlib import Path

import pyarrow.parquet as pq

from arxiv2lm.sources.archives import Caps
from arxiv2lm.sources.chunks import ChunkJob, classify_chunk
from arxiv2lm.sources.selection import SOURCES_SCHEMA, chosen, select, write_part
from tests.sources.hostile_tars import END, TEX, gz, member

CAPS = Caps(max_bytes=1 << 20, max_ratio=200.0)


def _classified(tmp_path: Path, chunk: bytes):
    path = tmp_path / "arXiv_src_2301_001.tar"
    path.write_bytes(chunk)
    job = ChunkJob(str(path), None, str(tmp_path / "classified.parquet"), "2301")
    return job, classify_chunk(job, CAPS)


CHUNK = (
    member("2301/2301.00001.gz", gz(TEX))
    + member("2301/hep-th2301002.gz", gz(TEX))
    + member("2301/2301.00003v2.gz", gz(TEX + b"%v2"))  # a member named with its version
    + member("2301/2301.00004.pdf", b"%PDF-1.4")
    + member("2301/2301.00003.gz", gz(TEX + b"%again"))  # the same paper again
    + END
)


def test_versioned_ids_match_their_members_and_keep_their_spelling(tmp_path) -> None:
    job, classified = _classified(tmp_path, CHUNK)
    pairs = [("2301.00001v2", "math"), ("hep-th/2301002v10", "physics"), ("2301.00003", "cs")]
    res = select(classified, pairs, job)
    # before the versionless match: all three were not_selected, then missing_source
    assert res.seen == ["2301.00001v2", "hep-th/2301002v10", "2301.00003", "2301.00003"]
    assert [k[0] for k in res.kept] == res.seen
    assert (res.not_selected, res.drops) == (1, [])  # the pdf of 2301.00004
    part = tmp_path / "part.parquet"
    assert write_part(job.part, part, pairs) == 3
    rows = pq.read_table(part).to_pylist()
    assert [(r["id"], r["domain"], r["yymm"]) for r in rows] == [
        ("2301.00001v2", "math", "2301"),
        ("hep-th/2301002v10", "physics", "2301"),
        ("2301.00003", "cs", "2301"),
    ]
    assert rows[2]["contents"] == [TEX + b"%v2"]  # the first member; the second never written
    assert pq.read_schema(part).remove_metadata() == SOURCES_SCHEMA


def test_two_versions_of_one_paper_count_once() -> None:
    # the first in sorted order; the ledger names the other duplicate_version
    assert chosen([("2301.00001v3", "cs"), ("2301.00001v2", "math")]) == {
        "2301.00001": ("2301.00001v2", "math")
    }


def test_papers_not_selected_are_counted_not_written(tmp_path) -> None:
    job, classified = _classified(tmp_path, CHUNK)
    res = select(classified, [("2301.00004", "cs")], job)
    assert (res.seen, res.kept, res.not_selected) == (["2301.00004"], [], 4)
    assert res.drops == [("2301.00004", "pdf_only", 8, "")]
    part = tmp_path / "part.parquet"
    assert write_part(job.part, part, [("2301.00004", "cs")]) == 0
    assert pq.read_table(part).num_rows == 0


def test_a_part_is_the_same_bytes_every_time(tmp_path) -> None:
    job, _ = _classified(tmp_path, CHUNK)
    pairs = [("2301.00001", "math"), ("2301.00003", "cs")]
    write_part(job.part, tmp_path / "a.parquet", pairs)
    write_part(job.part, tmp_path / "b.parquet", list(reversed(pairs)))
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
