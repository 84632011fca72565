"""Tar reading that survives hostile headers: `GuardedTarFile`.

Both a chunk and each paper's project tar are hostile input. Extended headers (pax `x`/`g`,
GNU `L`/`K`) over `MAX_EXTENDED_HEADER_BYTES` are refused before `tarfile` parses them (its
pax regex is quadratic before Python 3.11.10 / 3.12.6, CVE-2024-6232), sparse members are
refused before their map is built, sizes that run past the end of the archive stop it, and
a header `tarfile` cannot parse becomes a refused member (its name is known) or an error
naming the offset (it is not).

>>> with GuardedTarFile.open(fileobj=fh, mode="r|", archive_size=n) as tar:  # doctest: +SKIP
...     for member in tar: ...
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Iterator
from typing import Any

from arxiv2lm.ledger import Drop

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
# What stream mode reads at a time (tarfile's default: 10 KiB). 64 KiB skips a member 2.5x
# faster (a 512 MiB one: 1.2 s, as fast as its md5) and copies little per 512-byte header.
STREAM_BUFSIZE = 64 << 10


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


def looks_like_tar(head: bytes) -> bool:
    """Whether an archive's first 512 bytes are a tar header: POSIX/GNU by magic, old v7 tars
    (1990s uploads) by a header that parses with a valid checksum.

    >>> looks_like_tar(b"\\\\documentclass{article}" + b" " * 490)
    False
    """
    if len(head) < tarfile.BLOCKSIZE:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(head[: tarfile.BLOCKSIZE], tarfile.ENCODING, "surrogateescape")
    except (tarfile.TarError, ValueError, OverflowError):
        return False
    return True


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
    `TarBroken` when the archive cannot be read on. A size that runs past the end stops the
    archive before tarfile seeks there block by block: past `archive_size` (bytes, when
    known), or, for a stream of unknown length, past `max_size` (the most its reader will
    give): the stream is then read to its end to name its size, unless its reader stops first.

    >>> with GuardedTarFile.open(fileobj=io.BytesIO(data), mode="r|") as tar:  # doctest: +SKIP
    ...     for member in tar: ...
    """

    tarinfo = GuardedTarInfo

    def __init__(
        self,
        *args: Any,
        archive_size: int | None = None,
        max_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.archive_size = archive_size
        self.max_size = max_size
        self.member_seen: GuardedTarInfo | None = None
        self.end_error: tarfile.HeaderError | None = None
        super().__init__(*args, **kwargs)

    def check_extent(self, start: int, size: int, name: str) -> None:
        end = self.archive_size
        if end is None and self.max_size is not None and 0 <= self.max_size < start + size:
            while self.fileobj.read(1 << 16):  # bounded by the reader's own limit
                pass
            end = self.fileobj.tell()
        if size < 0 or (end is not None and start + size > end):
            raise TarBroken(
                f"member {safe_name(name)!r}: {size} bytes at offset {start} run past the end "
                f"of the {end}-byte archive (truncated, or a bad size field)"
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
