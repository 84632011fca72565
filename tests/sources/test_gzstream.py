"""The member stream: gzip inflated in bounded pieces, and the byte stream's limit."""

import gzip
import io
import os
import zlib

import pytest

from arxiv2lm.ledger import Drop
from arxiv2lm.sources.gzstream import ByteStream, MemberDrop, gunzip_pieces


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _gunzip(data: bytes, piece: int = 1000, read_size: int | None = None) -> list[bytes]:
    src = io.BytesIO(data)
    return list(gunzip_pieces(lambda n: src.read(read_size or n), piece))


def test_pieces_are_bounded_and_join_to_the_data() -> None:
    data = os.urandom(5000) + b"a" * 100_000  # incompressible, then 1000:1
    pieces = _gunzip(gz(data))
    assert b"".join(pieces) == data
    assert max(map(len, pieces)) == 1000


def test_output_pending_when_the_input_runs_out_is_not_lost() -> None:
    data = b"abc" * 50_000  # a few hundred bytes of input: each 7-byte read inflates a lot
    assert b"".join(_gunzip(gz(data), piece=999, read_size=7)) == data


@pytest.mark.parametrize(
    "stream",
    [
        gz(b"ab") + gz(b"cd"),  # members one after another (gzip -c a >> b)
        gz(b"ab") + bytes(5000) + gz(b"cd") + bytes(3),  # zero padding between and after
        gz(b"ab") + gz(b"") + gz(b"cd"),  # an empty member
    ],
)
def test_every_gzip_member_is_read(stream: bytes) -> None:
    assert b"".join(_gunzip(stream, read_size=3)) == b"abcd"


@pytest.mark.parametrize(
    ("stream", "detail"),
    [
        (gz(b"x" * 10_000)[:-30], "truncated gzip stream"),
        (gz(b"ab")[:5], "truncated gzip stream"),  # inside the header
        (b"", "truncated gzip stream"),
        (gz(b"ab") + b"garbage", "incorrect header check"),
        (gz(b"ab")[:10] + b"\xff" * 20, "invalid block type"),
    ],
)
def test_a_bad_stream_is_bad_gzip(stream: bytes, detail: str) -> None:
    with pytest.raises(MemberDrop) as info:
        _gunzip(stream)
    assert info.value.drop.reason == "bad_gzip" and detail in info.value.drop.detail


def test_a_zlib_error_is_never_raised_raw() -> None:
    with pytest.raises(MemberDrop):
        _gunzip(zlib.compress(b"not gzip framing"))


def test_byte_stream_reads_peeks_and_counts() -> None:
    s = ByteStream(iter([b"abc", b"defg", b"h"]))
    assert s.peek(5) == b"abcde" and s.total == 7  # peeked, not read
    assert [s.read(2), s.read(10), s.read(10), s.read(10)] == [b"ab", b"cdefg", b"h", b""]
    assert s.total == 8


def test_byte_stream_stops_past_its_limit() -> None:
    over = Drop("gzip_bomb", "ratio above 200")
    s = ByteStream(iter([b"x" * 600, b"x" * 600]), limit=1000, over=over)
    assert s.read(700) == b"x" * 600
    with pytest.raises(MemberDrop) as info:
        s.read(700)
    assert info.value.drop == over and s.total == 1200


def test_a_bomb_is_inflated_a_piece_past_the_limit_at_most() -> None:
    bomb = gz(bytes(64 << 20))  # 64 MiB of zeros in ~64 KiB
    s = ByteStream(gunzip_pieces(io.BytesIO(bomb).read), limit=1 << 20)
    with pytest.raises(MemberDrop):
        while s.read(1 << 16):
            pass
    assert s.total <= (1 << 20) + (256 << 10)
