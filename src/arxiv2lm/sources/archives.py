"""Classify arXiv source members and keep their TeX-relevant files, streaming.

A chunk `arXiv_src_YYMM_NNN.tar` holds one member per paper: `YYMM/<id>.gz` (a gzipped
tar project or a gzipped single file) or `YYMM/<id>.pdf` (no source). `chunks.py` streams a
chunk's members; this module classifies one member's bytes, in memory, never on disk.

Both the chunk and each paper's project tar are hostile input, so they go through
`GuardedTarFile`: extended headers (pax `x`/`g`, GNU `L`/`K`) over `MAX_EXTENDED_HEADER_BYTES`
are refused before `tarfile` parses them (its pax regex is quadratic before Python 3.11.10 /
3.12.6, CVE-2024-6232), sparse members are refused before their map is built, sizes that run
past the end of the archive stop it, and a header `tarfile` cannot parse becomes a refused
member (its name is known) or an error naming the offset (it is not).

>>> classify_member("2301/2301.00001.pdf", b"%PDF-1.5 ...", Caps(64 << 20, 200.0))
Drop(reason='pdf_only', detail='')
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arxiv2lm.ledger import Drop

TEX_SUFFIXES = (".tex", ".ltx", ".latex", ".bbl", ".sty", ".cls")
ARCHIVE_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".zip", ".gz")
# Tar padding and tiny files compress far better than TeX; below this size any ratio is fine.
_RATIO_FLOOR_BYTES = 1 << 20
# Extended headers hold paths (< 4 KiB), times, ids and xattrs; 64 KiB keeps every real one.
# Python < 3.11.10 parses a pax body with a regex that is quadratic in a run of digits
# (CVE-2024-6232): 64 KiB of digits costs ~4 s of C time (checked for signals every ~0.5 s,
# so the per-member time limit still ends a chain of them), 1.5 MB of digits over an hour.
MAX_EXTENDED_HEADER_BYTES = 64 << 10
_EXTENDED = {
    tarfile.XHDTYPE: "pax",
    tarfile.SOLARIS_XHDTYPE: "pax",
    tarfile.XGLTYPE: "pax global",
    tarfile.GNUTYPE_LONGNAME: "GNU long name",
    tarfile.GNUTYPE_LONGLINK: "GNU long link",
}
_DIGITS = re.compile(r"[0-9]+")


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


def member_read_cap(caps: Caps) -> int:
    """The most stored bytes a chunk member may have to be read at all.

    A gzip stream is never longer than its data plus framing (5 bytes per 64 KiB stored block,
    ~18 per gzip member; 1 MiB of slack covers names and comments), so a member stored in more
    bytes cannot decompress to `max_bytes` or less: it is `too_large` unread. (So is one that
    hides more than the slack in empty gzip members or zero padding.)

    >>> member_read_cap(Caps(64 << 20, 200.0))
    68173824
    """
    return caps.max_bytes + caps.max_bytes // 4096 + (1 << 20)


def gunzip_capped(data: bytes | bytearray, caps: Caps) -> bytes | Drop:
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


class _Refused(Exception):  # noqa: N818 - a signal between methods, never seen outside
    """Raised inside header parsing: the member just read must not be parsed further."""

    def __init__(self, drop: Drop) -> None:
        super().__init__(drop.detail)
        self.drop = drop


class TarBroken(tarfile.ReadError):
    """The archive cannot be read past this point (a header with no member to blame)."""


class GuardedTarInfo(tarfile.TarInfo):
    """A TarInfo whose header processing refuses what is unsafe to parse (see the module doc).

    `refusal` is set on members that must be dropped: `bad_header` (extended header over the
    cap, a header tarfile cannot parse) or `sparse_member`. `_proc_member` is tarfile's
    documented hook for subclasses ("can be overridden in a subclass").
    """

    refusal: Drop | None = None

    @classmethod
    def fromtarfile(cls, tar: Any) -> Any:
        try:
            return super().fromtarfile(tar)
        except tarfile.HeaderError as err:
            tar.end_error = err  # how the archive ended: a zero block, EOF, or garbage
            raise

    def _proc_member(self, tar: Any) -> Any:
        if self.type in _EXTENDED or _carries_data(self):
            tar.check_extent(self.offset + tarfile.BLOCKSIZE, self.size, self.name)
        if self.type in _EXTENDED and self.size > MAX_EXTENDED_HEADER_BYTES:
            # skip the body unparsed and blame the member it describes
            tar.fileobj.seek(self.offset + tarfile.BLOCKSIZE + self._block(self.size))
            try:
                self.fromtarfile(tar)
            except tarfile.HeaderError as err:
                raise TarBroken(f"no member after an oversized header ({err})") from None
            kind = _EXTENDED[self.type]
            cap = MAX_EXTENDED_HEADER_BYTES
            raise _Refused(Drop("bad_header", f"{kind} header of {self.size} bytes (cap {cap})"))
        return super()._proc_member(tar)

    def _proc_builtin(self, tar: Any) -> Any:
        try:
            return super()._proc_builtin(tar)
        finally:
            # tarfile sets the next header's offset first thing: this member can be skipped
            tar.member_seen = self

    def _proc_sparse(self, tar: Any) -> Any:
        # Skip the GNU sparse extension blocks without building tarfile's map (a hostile chain
        # of them runs to the end of the archive), then refuse the member.
        _, extended, realsize = self._sparse_structs
        while extended:
            block = tar.fileobj.read(tarfile.BLOCKSIZE)
            if len(block) < tarfile.BLOCKSIZE:
                raise TarBroken(f"truncated GNU sparse header of {safe_name(self.name)!r}")
            extended = bool(block[504])
        self.offset_data = tar.fileobj.tell()
        tar.check_extent(self.offset_data, self.size, self.name)
        tar.offset = self.offset_data + self._block(self.size)
        tar.member_seen = self
        raise _Refused(Drop("sparse_member", f"GNU sparse file of {realsize} bytes"))

    # pax sparse formats 0.0, 0.1 and 1.0: refused before their maps are parsed
    def _proc_gnusparse_00(self, member: Any, pax_headers: Any, buf: Any) -> None:
        raise _Refused(Drop("sparse_member", "pax GNU sparse file (format 0.0)"))

    def _proc_gnusparse_01(self, member: Any, pax_headers: Any) -> None:
        raise _Refused(Drop("sparse_member", "pax GNU sparse file (format 0.1)"))

    def _proc_gnusparse_10(self, member: Any, pax_headers: Any, tar: Any) -> None:
        raise _Refused(Drop("sparse_member", "pax GNU sparse file (format 1.0)"))


def _carries_data(member: tarfile.TarInfo) -> bool:
    """Whether `size` bytes of data follow the header (tarfile's rule)."""
    return member.isreg() or member.type not in tarfile.SUPPORTED_TYPES


class GuardedTarFile(tarfile.TarFile):
    """A TarFile that reads with `GuardedTarInfo` and never stores its members.

    `next()` returns refused members (with `refusal` set) instead of raising, and raises
    `TarBroken` when the archive cannot be read on. `archive_size` (bytes, when known) lets
    it stop a size that runs past the end before tarfile seeks there block by block.

    >>> with GuardedTarFile.open(fileobj=io.BytesIO(data), mode="r|") as tar:  # doctest: +SKIP
    ...     for member in tar: ...
    """

    tarinfo = GuardedTarInfo

    def __init__(self, *args: Any, archive_size: int | None = None, **kwargs: Any) -> None:
        self.archive_size = archive_size
        self.member_seen: GuardedTarInfo | None = None
        self.end_error: tarfile.HeaderError | None = None
        super().__init__(*args, **kwargs)

    def check_extent(self, start: int, size: int, name: str) -> None:
        if size < 0 or (self.archive_size is not None and start + size > self.archive_size):
            raise TarBroken(
                f"member {safe_name(name)!r}: {size} bytes at offset {start} run past the end "
                f"of the {self.archive_size}-byte archive (truncated, or a bad size field)"
            )

    def next(self) -> GuardedTarInfo | None:  # type: ignore[override]
        self.member_seen = None
        self.end_error = None
        at = self.offset
        try:
            member = super().next()
        except _Refused as refused:
            member = self._blame(refused.drop, at)
        except (tarfile.TarError, ValueError, EOFError, OverflowError) as err:
            if isinstance(err, TarBroken):
                raise
            member = self._blame(Drop("bad_header", _brief(err)), at)
        if member is None:
            return None
        self.members.clear()  # stream mode keeps every member otherwise
        size = member.pax_headers.get("size")
        if size is not None and not _DIGITS.fullmatch(size):
            raise TarBroken(f"member {safe_name(member.name)!r}: pax size {size[:40]!r}")
        if _carries_data(member):
            self.check_extent(member.offset_data, member.size, member.name)
        return member

    def _blame(self, drop: Drop, at: int) -> GuardedTarInfo:
        """The member a header failure belongs to, refused; TarBroken when none was read (the
        next header's place is then unknown)."""
        member = self.member_seen
        if member is None:
            raise TarBroken(f"unreadable header at offset {at}: {drop.detail}")
        member.refusal = drop
        return member

    def __iter__(self) -> Iterator[GuardedTarInfo]:  # type: ignore[override]
        while (member := self.next()) is not None:
            yield member

    def check_end(self, strict: bool = True) -> None:
        """Raise TarBroken unless the archive ended cleanly: at its end-of-archive block (or,
        not `strict`, at its last byte) and, if `strict`, with only zeros after it. A garbage
        or cut header mid-archive otherwise ends tarfile's iteration silently."""
        end = self.end_error
        if isinstance(end, tarfile.EOFHeaderError):
            while strict and (block := self.fileobj.read(1 << 16)):
                if block.count(0) != len(block):
                    raise TarBroken(f"data after the end-of-archive block at offset {self.offset}")
        elif isinstance(end, tarfile.EmptyHeaderError):
            if strict:
                raise TarBroken(f"no end-of-archive block at offset {self.offset} (truncated?)")
        else:
            raise TarBroken(f"unreadable header at offset {self.offset}: {end}")


def _brief(err: BaseException) -> str:
    return safe_name(f"{type(err).__name__}: {err}")[:200]


def _looks_like_tar(data: bytes) -> bool:
    """POSIX/GNU tar by magic; old v7 tars (1990s uploads) by a readable first header."""
    if len(data) < 512:
        return False
    if data[257:262] == b"ustar":
        return True
    if len(data) % 512:
        return False
    try:
        with GuardedTarFile(fileobj=io.BytesIO(data), archive_size=len(data)) as tar:
            return tar.next() is not None
    except tarfile.TarError:
        return False


def _looks_like_text(data: bytes) -> bool:
    return b"\x00" not in data[:8192]


def _from_project(data: bytes, caps: Caps) -> Paper | Drop:
    paper = Paper(kind="tex_project")
    others: list[str] = []
    try:
        with GuardedTarFile(fileobj=io.BytesIO(data), archive_size=len(data)) as tar:
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
                if not is_tex_relevant(path):
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


def _from_single(data: bytes) -> Paper | Drop:
    if data.startswith(b"%PDF"):
        return Drop("pdf_only")
    if data.startswith(b"%!PS"):
        return Drop("ps_only")
    if not _looks_like_text(data):
        return Drop("not_tex", "binary single file")
    return Paper(kind="tex_single", paths=["main.tex"], contents=[data])


def classify_member(name: str, data: bytes | bytearray, caps: Caps) -> Paper | Drop:
    """One chunk member (`YYMM/<id>.<ext>` and its bytes) -> the paper's TeX files or a Drop.

    >>> classify_member("2301/2301.00002.djvu", b"AT&TFORM", Caps(64 << 20, 200.0))
    Drop(reason='unknown_format', detail='member 2301/2301.00002.djvu')
    """
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
        if len(data) > caps.max_bytes:
            return Drop("too_large", f"{len(data)} bytes")
        raw = bytes(data)  # a few members are stored uncompressed under a .gz name
    if _looks_like_tar(raw):
        return _from_project(raw, caps)
    if data[:2] != b"\x1f\x8b" and not _looks_like_text(raw):
        return Drop("bad_gzip", "not a gzip stream")
    return _from_single(raw)
