"""The arXiv bulk-source layout: `arXiv_src_manifest.xml`, chunk md5s, member names.

>>> member_name("hep-th/9901001"), id_from_member("hep-th9901001")
('hep-th9901001', 'hep-th/9901001')

A mirror (the `s3://arxiv` requester-pays bucket, or a local copy of part of it) holds
`src/arXiv_src_YYMM_NNN.tar` chunks and `src/arXiv_src_manifest.xml`, whose `<file>` entries
give each chunk's md5, size and first/last member. `link_mirror` lays a local mirror plus a
Kaggle metadata snapshot out the way the `ingest` stage writes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from arxiv2lm.io import atomic_path

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


def md5_file(path: str | os.PathLike[str]) -> str:
    """Hex md5 of a file, read in 1 MiB blocks (chunks are ~500 MB)."""
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: str | os.PathLike[str]) -> list[ChunkEntry]:
    """Parse `arXiv_src_manifest.xml`; a malformed file raises ValueError naming it."""
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


def link_or_copy(src: Path, dst: Path) -> str:
    """Hard-link `src` to `dst`, copying when linking fails (another filesystem); returns how."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return "link"
    except OSError:
        shutil.copyfile(src, dst)
        return "copy"


def link_mirror(local_dir: Path, snapshot: Path, out_dir: Path) -> dict[str, int]:
    """Lay a local mirror (manifest + listed chunks) and a snapshot out under `out_dir`.

    Raises FileNotFoundError naming what is missing before anything is written.
    """
    manifest = local_dir / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"mirror {local_dir} has no {MANIFEST}")
    if not snapshot.is_file():
        raise FileNotFoundError(f"metadata snapshot {snapshot} does not exist")
    entries = read_manifest(manifest)
    missing = [e.filename for e in entries if not (local_dir / e.filename).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{manifest} lists {len(missing)} chunk(s) absent from {local_dir}, first {missing[0]}"
        )
    how = [link_or_copy(local_dir / e.filename, out_dir / e.filename) for e in entries]
    link_or_copy(manifest, out_dir / MANIFEST)
    link_or_copy(snapshot, out_dir / SNAPSHOT)
    return {
        "chunks": len(entries),
        "linked": how.count("link"),
        "copied": how.count("copy"),
        "bytes": sum((out_dir / e.filename).stat().st_size for e in entries),
    }
