"""Classify arXiv source members and keep their TeX-relevant files, streaming.

A chunk `arXiv_src_YYMM_NNN.tar` holds one member per paper: `YYMM/<id>.gz` (a gzipped
tar project or a gzipped single file) or `YYMM/<id>.pdf` (no source). `chunks.py` streams a
chunk's members; this module classifies one member from a stream of its stored bytes, in
memory, never on disk, and never holding the member whole: the project tar is read in
`tarfile`'s stream mode over the member gunzipped a piece at a time (`gzstream`), its TeX
files are read and everything else (figures, data) is skipped unread.

Caps: `max_bytes` bounds the TeX-relevant bytes kept (a paper over it is `too_large`;
figures do not count); `max_member_bytes` bounds the bytes walked through, figures included
(`too_large`, "the whole member"); `max_ratio` bounds walked / stored bytes beyond the first
MiB (`gzip_bomb`). Memory stays near `max_bytes` plus a few MiB whatever the member's size.
The project tar goes through `GuardedTarFile` (hostile headers, `targuard`).

>>> classify_member("2301/2301.00001.pdf", b"%PDF-1.5 ...", Caps(64 << 20, 200.0))
Drop(reason='pdf_only', detail='')
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from arxiv2lm.ledger import Drop
from arxiv2lm.sources.gzstream import GZIP_MAGIC, PIECE, ByteStream, MemberDrop, gunzip_pieces
from arxiv2lm.sources.targuard import (
    STREAM_BUFSIZE,
    GuardedTarFile,
    looks_like_tar,
    safe_name,
    unsafe_reason,
)

TEX_SUFFIXES = (".tex", ".ltx", ".latex", ".bbl", ".sty", ".cls")
ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".zip", ".gz")
# Tar padding and tiny files compress far better than TeX; below this size any ratio is fine.
RATIO_FLOOR_BYTES = 1 << 20
_TEXT_PROBE = 8192  # bytes looked at to tell text from binary


@dataclass(frozen=True)
class Caps:
    """Per-member caps; see the module doc.

    >>> Caps(64 << 20, 200.0).walk_limit(1000), Caps(64 << 20, 200.0).walk_limit(10 << 30)
    (1048576, 4294967296)
    """

    max_bytes: int  # TeX-relevant bytes kept per paper
    max_ratio: float  # bytes walked / stored bytes, above RATIO_FLOOR_BYTES
    max_member_bytes: int = 4 << 30  # bytes walked per member, figures included

    def walk_limit(self, stored: int) -> int:
        """The most decompressed bytes a member of `stored` bytes may walk through."""
        return min(self.max_member_bytes, int(max(RATIO_FLOOR_BYTES, stored * self.max_ratio)))

    def over(self, limit: int) -> Drop:
        """Why a member that walked past `limit` is dropped."""
        if limit >= self.max_member_bytes:
            whole = self.max_member_bytes
            return Drop("too_large", f"more than {whole} bytes decompressed (the whole member)")
        return Drop("gzip_bomb", f"ratio above {self.max_ratio:g}")


@dataclass
class Paper:
    """The TeX-relevant files of one paper."""

    kind: str  # tex_project | tex_single
    paths: list[str] = field(default_factory=list)
    contents: list[bytes] = field(default_factory=list)
    nested_archives: int = 0

    @property
    def nbytes(self) -> int:
        return sum(len(c) for c in self.contents)


def is_tex_relevant(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.endswith(TEX_SUFFIXES) or name.startswith("00readme")


def read_folder(folder: str | os.PathLike[str]) -> tuple[list[str], list[bytes]]:
    """The TeX-relevant files of an unpacked project folder (paths, bytes), kept by the same
    rule as a chunk member's, for running extract on local papers."""
    root = Path(folder)
    files = sorted(f for f in root.rglob("*") if f.is_file() and is_tex_relevant(f.name))
    return [f.relative_to(root).as_posix() for f in files], [f.read_bytes() for f in files]


def classify_member(name: str, data: bytes | bytearray, caps: Caps) -> Paper | Drop:
    """One chunk member (`YYMM/<id>.<ext>` and its bytes) -> the paper's TeX files or a Drop.

    >>> classify_member("2301/2301.00002.djvu", b"AT&TFORM", Caps(64 << 20, 200.0))
    Drop(reason='unknown_format', detail='member 2301/2301.00002.djvu')
    """
    return classify_stream(name, len(data), io.BytesIO(data), caps)


def classify_stream(name: str, stored: int, fh: BinaryIO, caps: Caps) -> Paper | Drop:
    """`classify_member` from a stream of the member's `stored` bytes: reads only what it
    needs, `PIECE` bytes at a time (the caller skips the rest)."""
    lower = name.lower()
    if lower.endswith(".pdf"):
        return Drop("pdf_only")
    whole = caps.max_member_bytes
    raw = ByteStream(iter(lambda: fh.read(PIECE), b""), whole, caps.over(whole))
    try:
        head = raw.peek(4)
        if head.startswith(b"%PDF"):
            return Drop("pdf_only")
        if not lower.endswith(".gz"):
            return Drop("unknown_format", f"member {name}")
        gzipped = head.startswith(GZIP_MAGIC)
        data = raw  # a few members are stored uncompressed under a .gz name
        if gzipped:
            limit = caps.walk_limit(stored)
            data = ByteStream(gunzip_pieces(raw.read), limit, caps.over(limit))
        if looks_like_tar(data.peek(tarfile.BLOCKSIZE)):
            return _from_project(data, caps)
        if not gzipped and b"\x00" in data.peek(_TEXT_PROBE):
            return Drop("bad_gzip", "not a gzip stream")
        return _from_single(data, caps)
    except MemberDrop as stop:
        return stop.drop


def _from_project(data: ByteStream, caps: Caps) -> Paper | Drop:
    paper = Paper(kind="tex_project")
    others: list[str] = []
    try:
        with GuardedTarFile.open(
            fileobj=data, mode="r|", max_size=data.limit, bufsize=STREAM_BUFSIZE
        ) as tar:
            for member in tar:
                if (refused := member.refusal) is not None:
                    reason = "bad_tar" if refused.reason == "bad_header" else refused.reason
                    return Drop(reason, f"{safe_name(member.name)!r}: {refused.detail}")
                reason = unsafe_reason(member)
                if reason:
                    return Drop("unsafe_path", reason)
                if not member.isfile():
                    continue
                path = safe_name(posixpath.normpath(member.name.lstrip("./") or member.name))
                if not is_tex_relevant(path):  # skipped unread by the next header's seek
                    others.append(path.lower())
                    if path.lower().endswith(ARCHIVE_SUFFIXES):
                        paper.nested_archives += 1
                    continue
                if paper.nbytes + member.size > caps.max_bytes:  # checked before reading
                    return Drop("too_large", f"over {caps.max_bytes} TeX bytes at {path!r}")
                fh = tar.extractfile(member)
                if fh is None:  # pragma: no cover - isfile() members always have data
                    continue
                paper.paths.append(path)
                paper.contents.append(fh.read())
            # users' tars may lack the end block or carry junk after it; not a cut header
            tar.check_end(strict=False)
    except (tarfile.TarError, EOFError) as err:
        return Drop("bad_tar", str(err)[:200])
    if not paper.paths:
        if any(p.endswith(".pdf") for p in others):
            return Drop("pdf_only", "project without TeX files")
        return Drop("no_tex", f"{len(others)} files, none TeX")
    return paper


def _from_single(data: ByteStream, caps: Caps) -> Paper | Drop:
    head = data.peek(_TEXT_PROBE)
    if head.startswith(b"%PDF"):
        return Drop("pdf_only")
    if head.startswith(b"%!PS"):
        return Drop("ps_only")
    if b"\x00" in head:
        return Drop("not_tex", "binary single file")
    pieces: list[bytes] = []
    kept = 0
    try:
        while kept <= caps.max_bytes and (piece := data.read(PIECE)):
            pieces.append(piece)
            kept += len(piece)
    except MemberDrop as stop:
        if data.total <= caps.max_bytes:
            return stop.drop  # a bomb before the cap
        kept = data.total
    if kept > caps.max_bytes:
        return Drop("too_large", f"more than {caps.max_bytes} bytes decompressed")
    return Paper(kind="tex_single", paths=["main.tex"], contents=[b"".join(pieces)])
