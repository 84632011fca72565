"""validate_chunk on hostile chunks: named drops, named chunk errors, time and memory limits."""

import hashlib
import io
import os
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arxiv2lm.ledger import Drop
from arxiv2lm.sources import chunks
from arxiv2lm.sources.archives import Caps, TarBroken, classify_member
from arxiv2lm.sources.chunks import (
    ChunkError,
    ChunkJob,
    HashingReader,
    iter_chunk,
    validate_chunk,
)
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


def test_versioned_ids_match_their_members_and_keep_their_spelling(tmp_path) -> None:
    chunk = (
        member("2301/2301.00001.gz", gz(TEX))
        + member("2301/hep-th2301002.gz", gz(TEX))
        + member("2301/2301.00003v2.gz", gz(TEX))  # a member named with its version
        + END
    )
    wanted = {"2301.00001v2": "math", "hep-th/2301002v10": "physics", "2301.00003": "cs"}
    job = _job(tmp_path, chunk)
    res = validate_chunk(job, wanted, CAPS)
    # before: all three were not_selected, then missing_source
    assert res.seen == ["2301.00001v2", "hep-th/2301002v10", "2301.00003"]
    assert _kept_ids(job) == ["2301.00001v2", "hep-th/2301002v10", "2301.00003"]
    assert res.not_selected == 0


def test_two_versions_of_one_paper_count_once(tmp_path) -> None:
    job = _job(tmp_path, member("2301/2301.00001.gz", gz(TEX)) + END)
    res = validate_chunk(job, {"2301.00001v3": "math", "2301.00001v2": "math"}, CAPS)
    assert res.seen == ["2301.00001v2"]  # the first in sorted order; the caller names the other


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
    wanted = {f"2301.0000{i}": "math" for i in range(1, 5)}
    job = _job(tmp_path, chunk)
    # before: "invalid literal for int() with base 10: 'x'" stopped validate, naming nothing
    res = validate_chunk(job, wanted, CAPS)
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
        validate_chunk(job, {"2301.00001": "math", "2301.00003": "math"}, CAPS)
    # before: the chunk ended silently at the bad header and 2301.00003 was missing_source
    assert str(info.value) == (
        f"chunk {job.path}: not a readable tar (unreadable header at offset 1024: invalid header)"
    )
    assert not Path(job.part).exists()  # nothing of it is kept


def test_member_past_the_time_limit_is_a_timeout_drop(tmp_path, monkeypatch) -> None:
    def slow_on_00001(name, data, caps):
        if "00001" in name:
            time.sleep(30)
        return classify_member(name, data, caps)

    monkeypatch.setattr(chunks, "classify_member", slow_on_00001)
    chunk = member("2301/2301.00001.gz", gz(TEX)) + member("2301/2301.00002.gz", gz(TEX)) + END
    job = _job(tmp_path, chunk)
    start = time.perf_counter()
    res = validate_chunk(job, {"2301.00001": "math", "2301.00002": "math"}, CAPS, timeout_s=0.5)
    assert time.perf_counter() - start < 3  # not the 30 s the member wanted
    assert [(d[0], d[1], d[3]) for d in res.drops] == [("2301.00001", "timeout", "over 0.5 s")]
    assert _kept_ids(job) == ["2301.00002"]  # the chunk goes on after it


@pytest.mark.skipif(sys.version_info >= (3, 11, 10), reason="tarfile's pax regex is linear here")
def test_the_limit_ends_a_chain_of_slow_pax_headers_under_the_cap(tmp_path) -> None:
    # each ~60 KB of digits costs ~3 s in the CVE-2024-6232 regex, in C; Python's regex engine
    # looks at signals every ~0.5 s, so SIGALRM still ends it
    slow = b"".join(pax(digits(60_000 + i)) for i in range(3)) + member("main.tex", TEX) + END
    job = _job(tmp_path, member("2301/2301.00001.gz", gz(slow)) + END)
    start = time.perf_counter()
    res = validate_chunk(job, {"2301.00001": "math"}, CAPS, timeout_s=0.5)
    assert time.perf_counter() - start < 4  # not the ~10 s the member would take
    assert [(d[0], d[1]) for d in res.drops] == [("2301.00001", "timeout")]


def test_memory_stays_under_the_cap_for_huge_and_sparse_members(tmp_path) -> None:
    path = tmp_path / "arXiv_src_2301_001.tar"
    with open(path, "wb") as f:  # a 128 MiB member of zeros: a sparse file, no disk used
        f.write(header("2301/2301.00001.gz", 128 << 20))
        f.truncate(512 + (128 << 20))
        f.seek(0, 2)
        f.write(member("2301/2301.00002.gz", gz(gnu_sparse("big.tex", 128 << 20) + END)))
        f.write(gnu_sparse("2301/2301.00003.gz", 128 << 20) + END)
    job = ChunkJob(str(path), None, str(tmp_path / "part.parquet"), "2301")
    wanted = {f"2301.0000{i}": "math" for i in range(1, 4)}
    res, peak = peak_bytes(validate_chunk, job, wanted, CAPS)
    assert [(d[0], d[1]) for d in res.drops] == [
        ("2301.00001", "too_large"),
        ("2301.00002", "sparse_member"),
        ("2301.00003", "sparse_member"),
    ]
    assert peak < 8 << 20  # before: the whole member, ~3x over (384 MiB here, 4.2 GB for 2 GiB)


# The chunk stream: iter_chunk


def test_hashing_reader_sees_every_byte() -> None:
    chunk = member("2301/2301.00001.gz", gz(TEX)) + member("2301/2301.00002.pdf", b"%PDF") + END
    fh = HashingReader(io.BytesIO(chunk))
    members = list(iter_chunk(fh, len(chunk), 1 << 20))
    assert [m.name for m in members] == ["2301/2301.00001.gz", "2301/2301.00002.pdf"]
    assert members[1].data == b"%PDF" and members[1].size == 4
    assert fh.hexdigest() == hashlib.md5(chunk).hexdigest()


def _chunk_members(chunk: bytes, cap: int = 1 << 20):
    return list(iter_chunk(io.BytesIO(chunk), len(chunk), cap))


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
    assert [(m.name, m.data) for m in members] == [
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
    assert [(m.name, m.data) for m in members] == [
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


def test_chunk_member_over_the_cap_is_not_read(tmp_path) -> None:
    path = _chunk_on_disk(tmp_path / "c.tar", 64 << 20)
    with open(path, "rb") as raw:
        fh = HashingReader(raw)
        members, peak = peak_bytes(lambda: list(iter_chunk(fh, path.stat().st_size, 1 << 20)))
        assert fh.hexdigest() == hashlib.md5(path.read_bytes()).hexdigest()  # still hashed
    assert [m.data for m in members] == [
        Drop("too_large", f"{64 << 20} stored bytes, cap {1 << 20}"),
        gz(TEX),
    ]
    assert peak < 4 << 20  # was the whole member, three times over (4.2 GB for 2 GiB)


def test_chunk_member_is_read_in_pieces_into_one_buffer(tmp_path) -> None:
    path = _chunk_on_disk(tmp_path / "c.tar", 16 << 20)
    with open(path, "rb") as raw:
        members, peak = peak_bytes(lambda: list(iter_chunk(raw, path.stat().st_size, 32 << 20)))
    assert members[0].data == bytes(16 << 20) and members[0].size == 16 << 20
    assert peak < (16 << 20) + (4 << 20)  # the member plus a piece; was ~3x the member


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
    names = [m.name for m in _chunk_members(chunk)]
    assert names == ["2301/r\ufffdsum\ufffd.gz", "2301/2301.00001.gz"]
