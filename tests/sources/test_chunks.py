"""classify_chunk on hostile chunks: named drops, named chunk errors, time and memory limits."""

import dataclasses
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arxiv2lm import pool
from arxiv2lm.ledger import Drop
from arxiv2lm.sources import chunks
from arxiv2lm.sources.archives import Caps, classify_stream
from arxiv2lm.sources.chunks import (
    ChunkError,
    ChunkJob,
    HashingReader,
    classify_chunk,
    iter_chunk,
)
from arxiv2lm.sources.manifest import ChecksumError, md5_file
from arxiv2lm.sources.targuard import TarBroken
from tests.sources.hostile_tars import (
    END,
    TEX,
    digits,
    gnu_sparse,
    gz,
    header,
    member,
    pax,
    pax_sparse,
    peak_bytes,
    record,
    timed,
)

CAPS = Caps(max_bytes=1 << 20, max_ratio=200.0)


def _job(tmp_path: Path, chunk: bytes) -> ChunkJob:
    path = tmp_path / "arXiv_src_2301_001.tar"
    path.write_bytes(chunk)
    return ChunkJob(str(path), None, str(tmp_path / "part.parquet"), "2301")


def _kept_ids(job: ChunkJob) -> list[str]:
    return pq.read_table(job.part).column("id").to_pylist()


def test_every_paper_member_is_classified_under_its_member_id(tmp_path) -> None:
    chunk = (
        member("2301/2301.00001.gz", gz(TEX))
        + member("2301/hep-th2301002.gz", gz(TEX))
        + member("2301/2301.00003v2.gz", gz(TEX))  # a member named with its version
        + member("2301/2301.00004.pdf", b"%PDF-1.4")
        + member("2301/README", b"not a paper")
        + END
    )
    job = _job(tmp_path, chunk)
    res = classify_chunk(job, CAPS)
    assert res.seen == ["2301.00001", "hep-th/2301002", "2301.00003", "2301.00004"]
    assert _kept_ids(job) == ["2301.00001", "hep-th/2301002", "2301.00003"]
    assert res.drops == [("2301.00004", "pdf_only", 8, "")]
    assert (res.bad_member_names, res.not_selected) == (1, 0)
    assert "domain" not in pq.read_schema(job.part).names  # the selection adds it


def test_malformed_member_header_is_a_named_drop(tmp_path) -> None:
    chunk = (
        member("2301/2301.00001.gz", gz(TEX))
        + pax(record(b"GNU.sparse.realsize", b"x"))
        + member("2301/2301.00002.gz", gz(TEX))
        + pax(record(b"GNU.sparse.map", b"x,y"))
        + member("2301/2301.00003.gz", gz(TEX))
        + member("2301/2301.00004.gz", gz(TEX))
        + END
    )
    job = _job(tmp_path, chunk)
    # before: "invalid literal for int() with base 10: 'x'" stopped validate, naming nothing
    res = classify_chunk(job, CAPS)
    assert [(d[0], d[1]) for d in res.drops] == [
        ("2301.00002", "bad_header"),
        ("2301.00003", "sparse_member"),
    ]
    assert "invalid literal for int()" in res.drops[0][3]
    assert _kept_ids(job) == ["2301.00001", "2301.00004"]


def test_unreadable_chunk_is_one_line_naming_it(tmp_path) -> None:
    bad_size = header("2301/2301.00002.gz", 5, patch={124: b"9x9x9x9x9x9\0"})
    chunk = member("2301/2301.00001.gz", gz(TEX)) + bad_size + member("2301/2301.00003.gz", b"x")
    job = _job(tmp_path, chunk + END)
    with pytest.raises(ChunkError) as info:
        classify_chunk(job, CAPS)
    # before: the chunk ended silently at the bad header and 2301.00003 was missing_source
    assert str(info.value) == (
        f"chunk {job.path}: not a readable tar (unreadable header at offset 1024: invalid header)"
    )
    assert not Path(job.part).exists()  # nothing of it is kept


def test_member_past_the_time_limit_is_a_timeout_drop(tmp_path, monkeypatch) -> None:
    def slow_on_00001(name, stored, fh, caps):
        if "00001" in name:
            fh.read(100)  # what it read is skipped over, the chunk stream stays in step
            time.sleep(30)
        return classify_stream(name, stored, fh, caps)

    monkeypatch.setattr(chunks, "classify_stream", slow_on_00001)
    chunk = member("2301/2301.00001.gz", gz(TEX)) + member("2301/2301.00002.gz", gz(TEX)) + END
    job = _job(tmp_path, chunk)
    start = time.perf_counter()
    res = classify_chunk(job, CAPS, timeout_s=0.5)
    assert time.perf_counter() - start < 3  # not the 30 s the member wanted
    assert [(d[0], d[1], d[3]) for d in res.drops] == [("2301.00001", "timeout", "over 0.5 s")]
    assert _kept_ids(job) == ["2301.00002"]  # the chunk goes on after it


def test_a_member_stopped_while_it_is_read_leaves_the_chunk_in_step(tmp_path, monkeypatch) -> None:
    def read_slowly(name, stored, fh, caps):
        while "00002" in name and fh.read(100):  # ~3 s: the limit strikes while reading
            pass
        return classify_stream(name, stored, fh, caps)

    monkeypatch.setattr(chunks, "classify_stream", read_slowly)
    path = _chunk_on_disk(tmp_path / "arXiv_src_2301_001.tar", 64 << 20)
    job = ChunkJob(str(path), md5_file(path), str(tmp_path / "part.parquet"), "2301")
    res = classify_chunk(job, CAPS, timeout_s=0.5)
    assert [(d[0], d[1]) for d in res.drops] == [("2301.00002", "timeout")]
    assert _kept_ids(job) == ["2301.00003"]  # and the md5 matched


def test_a_read_of_the_chunk_is_never_cut_by_the_time_limit() -> None:
    done = []

    def slow_read(n: int) -> bytes:
        time.sleep(0.3)  # the limit strikes here: inside tarfile's or the md5's bookkeeping,
        done.append(n)  # a cut read loses bytes from the md5 or from tarfile's offset
        return bytes(n)

    start = time.perf_counter()
    with pytest.raises(pool.ItemTimeout):
        pool.call_with_timeout(lambda n: chunks._uninterrupted(slow_read, n), 5, 0.1)
    assert done == [5]  # the read finished, then the limit was raised
    assert time.perf_counter() - start < 1


@pytest.mark.skipif(sys.version_info >= (3, 11, 10), reason="tarfile's pax regex is linear here")
def test_the_limit_ends_a_chain_of_slow_pax_headers_under_the_cap(tmp_path) -> None:
    # each ~60 KB of digits costs ~3 s in the CVE-2024-6232 regex, in C; Python's regex engine
    # looks at signals every ~0.5 s, so SIGALRM still ends it
    slow = b"".join(pax(digits(60_000 + i)) for i in range(3)) + member("main.tex", TEX) + END
    job = _job(tmp_path, member("2301/2301.00001.gz", gz(slow)) + END)
    start = time.perf_counter()
    res = classify_chunk(job, CAPS, timeout_s=0.5)
    assert time.perf_counter() - start < 4  # not the ~10 s the member would take
    assert [(d[0], d[1]) for d in res.drops] == [("2301.00001", "timeout")]


def test_memory_stays_bounded_for_huge_and_sparse_members(tmp_path) -> None:
    path = tmp_path / "arXiv_src_2301_001.tar"
    with open(path, "wb") as f:  # a 128 MiB member of zeros: a sparse file, no disk used
        f.write(header("2301/2301.00001.gz", 128 << 20))
        f.truncate(512 + (128 << 20))
        f.seek(0, 2)
        f.write(member("2301/2301.00002.gz", gz(gnu_sparse("big.tex", 128 << 20) + END)))
        f.write(gnu_sparse("2301/2301.00003.gz", 128 << 20) + END)
    job = ChunkJob(str(path), None, str(tmp_path / "part.parquet"), "2301")
    res, peak = peak_bytes(classify_chunk, job, CAPS)
    assert [(d[0], d[1]) for d in res.drops] == [
        ("2301.00001", "bad_gzip"),  # zeros under a .gz name: looked at, skipped unread
        ("2301.00002", "sparse_member"),
        ("2301.00003", "sparse_member"),
    ]
    assert peak < 8 << 20  # before: the whole member, ~3x over (384 MiB here, 4.2 GB for 2 GiB)


# Papers with figures: only the TeX is held, the member is streamed


def _paper_with_figures(tmp_path: Path, figure_bytes: int) -> tuple[Path, bytes]:
    """A chunk whose paper 2301.00001 is a 10 KB main.tex, `figure_bytes` of incompressible
    PNG and a .bbl, followed by a single-file paper 2301.00002; built on disk."""
    tex = (TEX * 200)[:10_000]
    project = tmp_path / "project.tar"
    with tarfile.open(project, "w") as tar:
        for name, data in [("main.tex", tex), ("figs/plot.png", os.urandom(figure_bytes))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("main.bbl")
        info.size = len(TEX)
        tar.addfile(info, io.BytesIO(TEX))
    with open(project, "rb") as src, gzip.open(tmp_path / "p.gz", "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    path = tmp_path / "arXiv_src_2301_001.tar"
    with tarfile.open(path, "w") as chunk:
        chunk.add(tmp_path / "p.gz", arcname="2301/2301.00001.gz")
        info = tarfile.TarInfo("2301/2301.00002.gz")
        info.size = len(gz(TEX))
        chunk.addfile(info, io.BytesIO(gz(TEX)))
    return path, tex


def test_a_paper_is_kept_whatever_its_figures_weigh(tmp_path) -> None:
    path, tex = _paper_with_figures(tmp_path, 70 << 20)
    stored = (tmp_path / "p.gz").stat().st_size
    job = ChunkJob(str(path), md5_file(path), str(tmp_path / "part.parquet"), "2301")
    res, peak = peak_bytes(classify_chunk, job, Caps(64 << 20, 200.0))  # the default caps
    # before: too_large, unread (stored in more bytes than max_paper_mb)
    assert res.kept == [
        ("2301.00001", stored, len(tex) + len(TEX)),
        ("2301.00002", len(gz(TEX)), len(TEX)),
    ]
    row = pq.read_table(job.part).to_pylist()[0]
    assert (row["paths"], row["contents"]) == (["main.tex", "main.bbl"], [tex, TEX])
    assert peak < 16 << 20  # the member is never held: ~1 MiB of pieces at a time


def test_a_member_stored_over_the_old_read_cap_has_its_md5_checked(tmp_path) -> None:
    path, tex = _paper_with_figures(tmp_path, 4 << 20)  # old read cap here: 2 MiB + 256 B
    job = ChunkJob(str(path), md5_file(path), str(tmp_path / "part.parquet"), "2301")
    assert [k[0] for k in classify_chunk(job, CAPS).kept] == ["2301.00001", "2301.00002"]
    bad = dataclasses.replace(job, md5="0" * 32)
    with pytest.raises(ChecksumError, match=f"md5 {md5_file(path)} does not match"):
        classify_chunk(bad, CAPS)


def test_a_paper_whose_tex_alone_is_over_the_cap_is_too_large(tmp_path) -> None:
    path, tex = _paper_with_figures(tmp_path, 1 << 20)
    job = ChunkJob(str(path), None, str(tmp_path / "part.parquet"), "2301")
    res = classify_chunk(job, Caps(max_bytes=len(tex) + 10, max_ratio=200.0))
    assert res.drops[0][:2] == ("2301.00001", "too_large")
    assert res.drops[0][3] == f"over {len(tex) + 10} TeX bytes at 'main.bbl'"


# The chunk stream: iter_chunk


def _read_members(fh, size: int, want=lambda name: True) -> list[tuple[str, bytes | Drop | None]]:
    """iter_chunk's members, each stream read whole while it is valid."""
    out = []
    for m in iter_chunk(fh, size, want):
        data = m.data.read(m.size) if hasattr(m.data, "read") else m.data
        out.append((m.name, data))
    return out


def test_hashing_reader_sees_every_byte() -> None:
    chunk = member("2301/2301.00001.gz", gz(TEX)) + member("2301/2301.00002.pdf", b"%PDF") + END
    fh = HashingReader(io.BytesIO(chunk))
    members = _read_members(fh, len(chunk))
    assert members == [("2301/2301.00001.gz", gz(TEX)), ("2301/2301.00002.pdf", b"%PDF")]
    assert fh.hexdigest() == hashlib.md5(chunk).hexdigest()
    assert fh.hashed == len(chunk)  # each byte once


def test_hashing_reader_rehashes_after_a_read_cut_short() -> None:
    chunk = member("2301/2301.00001.gz", gz(TEX)) + END
    fh = HashingReader(io.BytesIO(chunk))
    fh.fh.read(100)  # what a time limit striking inside read() leaves: bytes never hashed
    assert fh.hexdigest() == hashlib.md5(chunk).hexdigest()


def _chunk_members(chunk: bytes):
    return _read_members(io.BytesIO(chunk), len(chunk))


def test_chunk_member_with_oversized_pax_is_a_named_drop_and_the_rest_is_read() -> None:
    a, c = gz(TEX), gz(TEX * 2)
    chunk = (
        member("2301/2301.00001.gz", a)
        + pax(digits(1_500_000))  # the 650 KB member of the issue, in the chunk's own header
        + member("2301/2301.00002.gz", gz(TEX))
        + member("2301/2301.00003.gz", c)
        + END
    )
    members, seconds = timed(_chunk_members, chunk)
    assert members == [
        ("2301/2301.00001.gz", a),
        ("2301/2301.00002.gz", Drop("bad_header", "pax header of 1500000 bytes (cap 65536)")),
        ("2301/2301.00003.gz", c),
    ]
    assert seconds < 2  # was over an hour of regex


@pytest.mark.parametrize(
    ("sparse", "reason"),
    [
        (gnu_sparse("2301/2301.00002.gz", 3 << 29), "GNU sparse file of 1610612736 bytes"),
        (pax_sparse("2301/2301.00002.gz", 3 << 29), "pax GNU sparse file (format 0.1)"),
        (pax_sparse("2301/2301.00002.gz", 1, b"x,y"), "pax GNU sparse file (format 0.1)"),
    ],
)
def test_chunk_sparse_member_is_refused(sparse, reason) -> None:
    chunk = sparse + member("2301/2301.00003.gz", gz(TEX)) + END
    members, peak = peak_bytes(_chunk_members, chunk)
    assert members == [
        ("2301/2301.00002.gz", Drop("sparse_member", reason)),
        ("2301/2301.00003.gz", gz(TEX)),
    ]
    assert peak < 4 << 20  # was 3.2 GB RSS for the 1.5 GiB one


def _chunk_on_disk(path, member_bytes: int) -> bytes:
    """A chunk file with one member of `member_bytes` zeros (a sparse file: no disk used)."""
    with open(path, "wb") as f:
        f.write(header("2301/2301.00002.gz", member_bytes))
        f.truncate(512 + member_bytes + (-member_bytes % 512))
        f.seek(0, os.SEEK_END)
        f.write(member("2301/2301.00003.gz", gz(TEX)) + END)
    return path


@pytest.mark.parametrize("read_first", [0, 100, 5 << 20])
def test_a_member_left_unread_is_skipped_and_hashed_once(tmp_path, read_first) -> None:
    path = _chunk_on_disk(tmp_path / "c.tar", 64 << 20)

    def walk(fh: HashingReader) -> list[tuple[str, bytes]]:
        out = []
        for m in iter_chunk(fh, path.stat().st_size):
            out.append((m.name, m.data.read(read_first if "00002" in m.name else m.size)))
        return out

    with open(path, "rb") as raw:
        fh = HashingReader(raw)
        members, peak = peak_bytes(walk, fh)
        assert fh.hexdigest() == hashlib.md5(path.read_bytes()).hexdigest()
        assert fh.hashed == path.stat().st_size  # every byte once, the skipped ones included
    assert members == [("2301/2301.00002.gz", bytes(read_first)), ("2301/2301.00003.gz", gz(TEX))]
    assert peak < (read_first * 3) + (4 << 20)  # never the member (was 3x it, 4.2 GB for 2 GiB)


GOOD = member("2301/2301.00001.gz", gz(TEX))


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (GOOD + GOOD[:560], "'2301/2301.00001.gz': 64 bytes at offset 1536 run past the end"),
        (GOOD + GOOD[:700], "unreadable header at offset 2048: ReadError: unexpected end of data"),
        (GOOD + GOOD, "no end-of-archive block at offset 2048 (truncated?)"),
        (GOOD + GOOD[:300], "unreadable header at offset 1024: truncated header"),
        (
            GOOD + header("2301/2301.00002.gz", 5, patch={124: b"9x9x9x9x9x9\0"}) + END,
            "unreadable header at offset 1024: invalid header",
        ),
        (GOOD + b"\x07" * 512 + GOOD + END, "unreadable header at offset 1024: invalid header"),
        (GOOD + END + GOOD, "data after the end-of-archive block at offset 1024"),
        (
            GOOD + header("2301/2301.00002.gz", 5, patch={124: b"\x80" + b"\xff" * 11}) + END,
            "309485009821345068724781055 bytes at offset 1536 run past the end",
        ),
        (b"", "unreadable header at offset 0: ReadError: empty file"),
    ],
)
def test_a_chunk_that_cannot_be_read_to_its_end_raises_with_the_offset(chunk, message) -> None:
    # before: all but the first ended the chunk silently (papers after it: missing_source),
    # and the 2**88-byte size seeked forever
    start = time.perf_counter()
    with pytest.raises(TarBroken) as info:
        _chunk_members(chunk)
    assert message in str(info.value)
    assert time.perf_counter() - start < 2


def test_chunk_member_name_that_is_not_utf8_is_printable() -> None:
    chunk = member("2301/r\udce9sum\udce9.gz", gz(TEX)) + GOOD + END
    names = [name for name, _ in _chunk_members(chunk)]
    assert names == ["2301/r\ufffdsum\ufffd.gz", "2301/2301.00001.gz"]
