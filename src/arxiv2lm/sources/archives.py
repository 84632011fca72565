"""Classify arXiv source members and keep their TeX-relevant files, streaming.

A chunk `arXiv_src_YYMM_NNN.tar` holds one member per paper: `YYMM/<id>.gz` (a gzipped
tar project or a gzipped single file) or `YYMM/<id>.pdf` (no source). Chunks are read with
`tarfile`'s stream mode, one member in memory at a time, never unpacked to disk.

>>> classify_member("2301/2301.00001.pdf", b"%PDF-1.5 ...", Caps(64 << 20, 200.0))
Drop(reason='pdf_only', detail='')
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from arxiv2lm.ledger import Drop

TEX_SUFFIXES = (".tex", ".ltx", ".latex", ".bbl", ".sty", ".cls")
ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".zip", ".gz")
_READ_BLOCK = 1 << 20
# Tar padding and tiny files compress far better than TeX; below this size any ratio is fine.
_RATIO_FLOOR_BYTES = 1 << 20


@dataclass(frozen=True)
class Caps:
    max_bytes: int  # decompressed bytes per paper
    max_ratio: float  # decompressed / compressed, above _RATIO_FLOOR_BYTES


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


def safe_name(name: str) -> str:
    """Member names that are not UTF-8 arrive with surrogate escapes; make them printable."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def unsafe_reason(member: tarfile.TarInfo) -> str | None:
    """Why a project member must not be trusted, or None."""
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return f"absolute path {safe_name(name)!r}"
    if ".." in name.replace("\\", "/").split("/"):
        return f"path climbs out: {safe_name(name)!r}"
    if member.issym() or member.islnk():
        return f"link {safe_name(name)!r} -> {safe_name(member.linkname)!r}"
    if member.isdev() or member.isfifo():
        return f"device or fifo {safe_name(name)!r}"
    return None


def gunzip_capped(data: bytes, caps: Caps) -> bytes | Drop:
    """Decompress a gzip stream (all its members), stopping at the size and ratio caps.

    One C-level call per gzip member with `max_length`, so a bomb is never inflated past
    the cap and an honest file costs no Python loop.
    """
    limit = min(caps.max_bytes, int(max(_RATIO_FLOOR_BYTES, len(data) * caps.max_ratio)))
    out: list[bytes] = []
    total, rest = 0, data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            out.append(d.decompress(rest, limit + 1 - total))
            total += len(out[-1])
            if total > limit or d.unconsumed_tail:
                if total > caps.max_bytes or limit == caps.max_bytes:
                    return Drop("too_large", f"more than {caps.max_bytes} bytes decompressed")
                return Drop("gzip_bomb", f"ratio above {caps.max_ratio:g}")
            if not d.eof:
                return Drop("bad_gzip", "truncated gzip stream")
            rest = d.unused_data.lstrip(b"\x00")  # members may be followed by padding
    except zlib.error as err:
        return Drop("bad_gzip", str(err)[:200])
    return b"".join(out)


def _looks_like_tar(data: bytes) -> bool:
    """POSIX/GNU tar by magic; old v7 tars (1990s uploads) by a readable first header."""
    if len(data) < 512:
        return False
    if data[257:262] == b"ustar":
        return True
    if len(data) % 512:
        return False
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            return tar.next() is not None
    except (tarfile.TarError, EOFError):
        return False


def _looks_like_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def _from_project(data: bytes, caps: Caps) -> Paper | Drop:
    paper = Paper(kind="tex_project")
    others: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                reason = unsafe_reason(member)
                if reason:
                    return Drop("unsafe_path", reason)
                if not member.isfile():
                    continue
                path = safe_name(posixpath.normpath(member.name.lstrip("./") or member.name))
                if not is_tex_relevant(path):
                    others.append(path.lower())
                    if path.lower().endswith(ARCHIVE_SUFFIXES):
                        paper.nested_archives += 1
                    continue
                fh = tar.extractfile(member)
                if fh is None:  # pragma: no cover - isfile() members always have data
                    continue
                paper.paths.append(path)
                paper.contents.append(fh.read())
    except (tarfile.TarError, EOFError) as err:
        return Drop("bad_tar", str(err)[:200])
    if paper.nbytes > caps.max_bytes:
        return Drop("too_large", f"{paper.nbytes} TeX bytes")
    if not paper.paths:
        if any(p.endswith(".pdf") for p in others):
            return Drop("pdf_only", "project without TeX files")
        return Drop("no_tex", f"{len(others)} files, none TeX")
    return paper


def _from_single(data: bytes) -> Paper | Drop:
    if data.startswith(b"%PDF"):
        return Drop("pdf_only")
    if data.startswith(b"%!PS"):
        return Drop("ps_only")
    if not _looks_like_text(data):
        return Drop("not_tex", "binary single file")
    return Paper(kind="tex_single", paths=["main.tex"], contents=[data])


def classify_member(name: str, data: bytes, caps: Caps) -> Paper | Drop:
    """One chunk member (`YYMM/<id>.<ext>` and its bytes) -> the paper's TeX files or a Drop."""
    lower = name.lower()
    if lower.endswith(".pdf") or data.startswith(b"%PDF"):
        return Drop("pdf_only")
    if not lower.endswith(".gz"):
        return Drop("unknown_format", f"member {name}")
    if data[:2] == b"\x1f\x8b":
        raw = gunzip_capped(data, caps)
        if isinstance(raw, Drop):
            return raw
    else:
        raw = data  # a few members are stored uncompressed under a .gz name
        if len(raw) > caps.max_bytes:
            return Drop("too_large", f"{len(raw)} bytes")
    if _looks_like_tar(raw):
        return _from_project(raw, caps)
    if data[:2] != b"\x1f\x8b" and not _looks_like_text(raw):
        return Drop("bad_gzip", "not a gzip stream")
    return _from_single(raw)


class HashingReader:
    """A read-only file wrapper that feeds every byte read through md5 (one pass, not two)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.md5 = hashlib.md5()

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.md5.update(data)
        return data

    def hexdigest(self) -> str:
        while self.read(1 << 20):  # the tail tarfile never asks for (end-of-archive zeros)
            pass
        return self.md5.hexdigest()


def iter_chunk(fh: BinaryIO) -> Iterator[tuple[str, bytes]]:
    """Stream (member name, bytes) of the regular files of a chunk, one at a time."""
    with tarfile.open(fileobj=fh, mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            data = tar.extractfile(member)
            if data is None:  # pragma: no cover
                continue
            yield safe_name(member.name), data.read()
