"""The arXiv bulk-source layout: `arXiv_src_manifest.xml`, chunk md5s, member names.

>>> member_name("hep-th/9901001"), id_from_member("hep-th9901001")
('hep-th9901001', 'hep-th/9901001')

A mirror (the `s3://arxiv` requester-pays bucket, or a local copy of part of it) holds
`src/arXiv_src_YYMM_NNN.tar` chunks and `src/arXiv_src_manifest.xml`, whose `<file>` entries
give each chunk's md5, size and first/last member. `link_mirror` lays a local mirror plus a
Kaggle metadata snapshot out the way the `ingest` stage writes it.

A manifest is outside input: `read_manifest` checks every entry (`entry_problem`) and stops
with a ValueError naming the first bad one (`<file> #N ('../x')`), before any file is
touched. A bad entry is an error, not a dropped chunk, because a manifest that names a path
outside the mirror is corrupt or hostile as a whole. Only `src/arXiv_src_YYMM_NNN.tar`
(`CHUNK_NAME`) is ever joined to a folder, and `inside` checks again, symlinks followed,
that what is written or deleted stays in its folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from arxiv2lm.io import atomic_path, link_or_copy

MANIFEST = "src/arXiv_src_manifest.xml"
SNAPSHOT = "metadata/arxiv-metadata-oai-snapshot.json"
BLOCK = 1 << 20  # md5 read size: 1 MiB

# Old-style ids are `archive/YYMMNNN`; the archive is lower-case letters and dashes
# (hep-th, cond-mat, q-bio). A subject class (`math.AG/9901001`) is not part of the
# member name: arXiv names the member after the archive only (`math9901001`).
_OLD_ID = re.compile(r"^([a-z]+(?:-[a-z]+)*)(?:\.[A-Za-z-]+)?/(\d{7})(?:v\d+)?$")
_NEW_ID = re.compile(r"^(\d{4}\.\d{4,5})(?:v\d+)?$")
_OLD_MEMBER = re.compile(r"^([a-z]+(?:-[a-z]+)*)(\d{7})$")
_NEW_MEMBER = re.compile(r"^\d{4}\.\d{4,5}$")

# A chunk's <filename>: `src/arXiv_src_YYMM_NNN.tar`, YYMM its month and NNN its sequence
# number in that month (all 1910 entries of the 2018 manifest match). [0-9], not \d, which
# also matches non-ASCII digits. No `/` beyond the one after `src`, no `..`: such a name
# cannot leave the folder it is joined to.
CHUNK_NAME = re.compile(r"src/arXiv_src_([0-9]{4})_([0-9]{3})\.tar")
_MD5 = re.compile(r"[0-9a-f]{32}")
_FOUR_DIGITS = re.compile(r"[0-9]{4}")


class ChunkError(RuntimeError):
    """A chunk that cannot be used (unreadable structure, its worker lost): the message
    names it, and nothing may run on it."""


class ChecksumError(ChunkError):
    """A chunk whose bytes do not match its manifest md5 (on download or on validation)."""


def yymm_order(yymm: str) -> str:
    """YYYYMM of a YYMM: arXiv began in 1991, so `91`..`99` are the 1900s, the rest 2000s.
    Comparable as strings across the 1999/2000 boundary.

    >>> yymm_order("9912"), yymm_order("0001")
    ('199912', '200001')
    """
    return ("19" if yymm >= "91" else "20") + yymm


@dataclass(frozen=True)
class ChunkEntry:
    """One `<file>` of the manifest: a chunk tar and what it holds."""

    filename: str  # relative to the mirror root, e.g. "src/arXiv_src_0001_001.tar"
    md5sum: str
    content_md5sum: str
    size: int
    num_items: int
    first_item: str
    last_item: str
    yymm: str
    seq_num: int
    timestamp: str


_FIELDS = [f.name for f in dataclasses.fields(ChunkEntry)]
_INT_FIELDS = {"size", "num_items", "seq_num"}


def member_name(arxiv_id: str) -> str:
    """The member stem of an id inside a chunk (no folder, no extension).

    >>> member_name("math.AG/9901001"), member_name("2301.01234v2")
    ('math9901001', '2301.01234')
    """
    if m := _NEW_ID.match(arxiv_id):
        return m.group(1)
    if m := _OLD_ID.match(arxiv_id):
        return m.group(1) + m.group(2)
    raise ValueError(f"not an arXiv id: {arxiv_id!r}")


def id_from_member(member_stem: str) -> str:
    """Inverse of `member_name`: `"cond-mat0001001"` -> `"cond-mat/0001001"`.

    >>> id_from_member("2301.01234")
    '2301.01234'
    """
    if _NEW_MEMBER.match(member_stem):
        return member_stem
    if m := _OLD_MEMBER.match(member_stem):
        return f"{m.group(1)}/{m.group(2)}"
    raise ValueError(f"not an arXiv member name: {member_stem!r}")


def is_yymm(text: str) -> bool:
    """Whether `text` is a YYMM month (`0001` is January 2000, `9912` December 1999).

    >>> is_yymm("2301"), is_yymm("2313"), is_yymm("2023-01")
    (True, False, False)
    """
    return bool(_FOUR_DIGITS.fullmatch(text)) and 1 <= int(text[2:]) <= 12


def entry_problem(e: ChunkEntry) -> str | None:
    """Why a manifest entry cannot be used, or None. `first_item`, `last_item` and
    `timestamp` are informational (never used in a path or a check), so not checked.

    >>> entry_problem(ChunkEntry("../x.tar", "a" * 32, "", 1, 1, "", "", "0001", 1, ""))
    "<filename> '../x.tar' is not src/arXiv_src_YYMM_NNN.tar"
    """
    name = CHUNK_NAME.fullmatch(e.filename)
    if name is None:
        return f"<filename> {e.filename!r} is not src/arXiv_src_YYMM_NNN.tar"
    if not _MD5.fullmatch(e.md5sum):
        return f"<md5sum> {e.md5sum!r} is not 32 hex digits"
    if e.content_md5sum and not _MD5.fullmatch(e.content_md5sum):  # empty in hand-made ones
        return f"<content_md5sum> {e.content_md5sum!r} is not 32 hex digits"
    if e.size < 1:
        return f"<size> {e.size} is not a positive byte count"
    if e.num_items < 0:
        return f"<num_items> {e.num_items} is negative"
    if not is_yymm(e.yymm):
        return f"<yymm> {e.yymm!r} is not YYMM"
    if e.yymm != name.group(1):  # selection is by <yymm>: it must pick the file it names
        return f"<yymm> {e.yymm!r} is not the filename's {name.group(1)}"
    if not 1 <= e.seq_num <= 999:
        return f"<seq_num> {e.seq_num} is not in 1..999"
    return None


def check_entries(entries: Iterable[ChunkEntry], where: str) -> None:
    """Raise ValueError naming the first bad or repeated entry (1-based, as in the file).

    >>> check_entries([ChunkEntry("/etc/x", "", "", 1, 1, "", "", "", 1, "")], "m.xml")
    Traceback (most recent call last):
    ValueError: m.xml: <file> #1 ('/etc/x'): <filename> '/etc/x' is not src/arXiv_src_YYMM_NNN.tar
    """
    seen: set[str] = set()
    for i, e in enumerate(entries):
        problem = entry_problem(e)
        if problem is None and e.filename in seen:  # two writers of one .part
            problem = "listed twice"
        if problem is not None:
            raise ValueError(f"{where}: <file> #{i + 1} ({e.filename!r}): {problem}")
        seen.add(e.filename)


def chunk_path(root: Path, filename: str) -> Path:
    """`root / filename` for a chunk name; any other name is a ValueError.

    >>> chunk_path(Path("mirror"), "src/arXiv_src_0001_001.tar").as_posix()
    'mirror/src/arXiv_src_0001_001.tar'
    """
    if not CHUNK_NAME.fullmatch(filename):
        raise ValueError(f"{filename!r} is not src/arXiv_src_YYMM_NNN.tar")
    return root / filename


def inside(root: Path, path: Path) -> Path:
    """`path`, if it resolves (symlinks followed) inside `root`; a ValueError otherwise.

    The name checks already keep `..` out; this catches a symlinked `src/` or chunk that
    would send a write or an unlink elsewhere.

    >>> inside(Path("out"), Path("out/src/arXiv_src_0001_001.tar")).as_posix()
    'out/src/arXiv_src_0001_001.tar'
    """
    real = path.resolve()
    if not real.is_relative_to(root.resolve()):
        raise ValueError(f"{path} resolves to {real}, outside {root}")
    return path


def md5_file(path: str | os.PathLike[str]) -> str:
    """Hex md5 of a file, read in 1 MiB blocks (chunks are ~500 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike[str]) -> list[ChunkEntry]:
    """Parse and check `arXiv_src_manifest.xml`; a malformed file or entry raises ValueError
    naming the file and the entry (`check_entries`)."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path}: malformed manifest XML: {err}") from err
    if root.tag != "arXivSRC":
        raise ValueError(f"{path}: root element is <{root.tag}>, expected <arXivSRC>")
    entries = []
    for i, node in enumerate(root.iter("file")):
        values: dict[str, str | int] = {}
        for name in _FIELDS:
            text = node.findtext(name)
            if text is None:
                raise ValueError(f"{path}: <file> #{i + 1} has no <{name}>")
            text = text.strip()
            if name in ("md5sum", "content_md5sum"):
                text = text.lower()  # md5_file's hexdigest is lower case
            if name in _INT_FIELDS:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ValueError(
                        f"{path}: <file> #{i + 1} <{name}> is not an integer: {text!r}"
                    ) from None
            else:
                values[name] = text
        entries.append(ChunkEntry(**values))  # type: ignore[arg-type]
    check_entries(entries, str(path))
    return entries


def write_manifest(
    entries: Iterable[ChunkEntry], path: str | os.PathLike[str], timestamp: str = ""
) -> None:
    """Write entries in arXiv's layout (fields sorted, as in the real file), atomically."""
    lines = ["<?xml version='1.0' standalone='yes'?>", "<arXivSRC>"]
    for entry in entries:
        lines.append("  <file>")
        for name in sorted(_FIELDS):
            lines.append(f"    <{name}>{escape(str(getattr(entry, name)))}</{name}>")
        lines.append("  </file>")
    if timestamp:
        lines.append(f"  <timestamp>{escape(timestamp)}</timestamp>")
    lines.append("</arXivSRC>")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def link_mirror(local_dir: Path, snapshot: Path, out_dir: Path) -> dict[str, int]:
    """Lay a local mirror (manifest + listed chunks) and a snapshot out under `out_dir`.

    Raises FileNotFoundError naming what is missing, or ValueError naming a bad manifest
    entry or a destination that resolves outside `out_dir`, before anything is written.
    """
    manifest = local_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"mirror {local_dir} has no {MANIFEST}")
    if not snapshot.is_file():
        raise FileNotFoundError(f"metadata snapshot {snapshot} does not exist")
    entries = read_manifest(manifest)  # every filename is a chunk name from here on
    # Sources may be symlinks (a mirror assembled from another disk): only the name is
    # checked there. Destinations must resolve inside out_dir.
    pairs = [
        (chunk_path(local_dir, e.filename), inside(out_dir, chunk_path(out_dir, e.filename)))
        for e in entries
    ]
    missing = [e.filename for e, (src, _) in zip(entries, pairs, strict=True) if not src.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{manifest} lists {len(missing)} chunk(s) absent from {local_dir}, first {missing[0]}"
        )
    for dst in (out_dir / MANIFEST, out_dir / SNAPSHOT):
        inside(out_dir, dst)
    how = [link_or_copy(src, dst) for src, dst in pairs]
    link_or_copy(manifest, out_dir / MANIFEST)
    link_or_copy(snapshot, out_dir / SNAPSHOT)
    return {
        "chunks": len(entries),
        "linked": how.count("link"),
        "copied": how.count("copy"),
        "bytes": sum(dst.stat().st_size for _, dst in pairs),
    }
