"""A chunk member's bytes as a bounded stream: stored, or gunzipped a piece at a time.

A member can be far larger than the TeX it carries (a 10 KB paper with 70 MB of PNGs), so
it is never held whole: `gunzip_pieces` inflates it in pieces of at most `PIECE` bytes (all
its gzip members, skipping the zero padding between them), and `ByteStream` serves those
pieces to `tarfile`'s stream mode, which reads the TeX files and skips the rest. The stream
counts the bytes it produced and stops at its limit with a `MemberDrop`, so a gzip bomb is
never inflated past it, whatever the member's size.

>>> import gzip
>>> raw = ByteStream(iter([gzip.compress(b"x" * 10)]))
>>> ByteStream(gunzip_pieces(raw.read), limit=1 << 20).read(4)
b'xxxx'
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator

from arxiv2lm.ledger import Drop

# Bytes pulled from the chunk per read, and the most bytes inflated per zlib call: memory
# holds a few pieces at a time (~1 MiB), and a 70 MB member costs ~300 calls each way.
PIECE = 256 << 10
GZIP_MAGIC = b"\x1f\x8b"


class MemberDrop(Exception):  # noqa: N818 - carries a Drop out of tarfile, never seen outside
    """Reading a member must stop here: the member is `drop`."""

    def __init__(self, drop: Drop) -> None:
        super().__init__(drop.detail)
        self.drop = drop


class ByteStream:
    """A read-only file over an iterator of non-empty byte pieces, with `peek`.

    It counts the bytes it took from `pieces` (`total`); taking more than `limit` raises
    MemberDrop(`over`). `read(n)` may return fewer than `n` bytes (b"" only at the end), as
    `tarfile`'s stream mode expects of a pipe.

    >>> s = ByteStream(iter([b"abc", b"def"]), limit=4, over=Drop("too_large"))
    >>> s.peek(2), s.read(5)
    (b'ab', b'abc')
    >>> s.read(1)
    Traceback (most recent call last):
    arxiv2lm.sources.gzstream.MemberDrop
    """

    def __init__(
        self, pieces: Iterator[bytes], limit: int | None = None, over: Drop | None = None
    ) -> None:
        self._pieces = pieces
        self._buf = b""
        self._pos = 0  # read up to here in _buf
        self.total = 0
        self.limit = limit
        self.over = over or Drop("too_large", f"more than {limit} bytes")

    def _more(self) -> bool:
        piece = next(self._pieces, b"")
        if not piece:
            return False
        self.total += len(piece)
        if self.limit is not None and self.total > self.limit:
            raise MemberDrop(self.over)
        rest = self._buf[self._pos :] if self._pos < len(self._buf) else b""
        self._buf, self._pos = rest + piece, 0
        return True

    def peek(self, n: int) -> bytes:
        """The next `n` bytes (fewer at the end), left unread."""
        while len(self._buf) - self._pos < n and self._more():
            pass
        return self._buf[self._pos : self._pos + n]

    def read(self, n: int) -> bytes:
        if self._pos >= len(self._buf) and not self._more():
            return b""
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def gunzip_pieces(read: Callable[[int], bytes], piece: int = PIECE) -> Iterator[bytes]:
    """The decompressed bytes of the gzip stream that `read(n)` returns, `piece` bytes at most
    at a time: every gzip member in turn, zero padding between them skipped (as `gzip` and
    arXiv's tools allow). Raises MemberDrop(`bad_gzip`) for a stream that is not gzip or is
    cut short.

    >>> import gzip, io
    >>> stream = io.BytesIO(gzip.compress(b"ab") + bytes(9) + gzip.compress(b"c"))
    >>> b"".join(gunzip_pieces(stream.read))
    b'abc'
    """
    inflate: zlib._Decompress | None = zlib.decompressobj(wbits=31)
    data, ended = b"", False  # compressed bytes at hand; whether `read` is exhausted
    try:
        while True:
            if not data and not ended:
                data = read(piece)
                ended = not data
            if inflate is None:  # between gzip members: zero padding, another member, the end
                data = data.lstrip(b"\0")
                if data:
                    inflate = zlib.decompressobj(wbits=31)
                elif ended:
                    return
                else:
                    continue
            out = inflate.decompress(data, piece)
            data = inflate.unconsumed_tail
            if out:
                yield out
            if inflate.eof:
                data, inflate = inflate.unused_data, None
            elif ended and not data and not out:
                raise MemberDrop(Drop("bad_gzip", "truncated gzip stream"))
    except zlib.error as err:
        raise MemberDrop(Drop("bad_gzip", str(err)[:200])) from None
