"""Fetch arXiv source chunks from S3 (the requester-pays `s3://arxiv` bucket or any
S3-compatible store), verified against the manifest's md5, resumable.

A chunk is only ever present under its final name once its md5 matched: downloads go to
`<name>.part`, resume from the bytes already there with a ranged GET, are verified, and are
then renamed. A chunk already present and verified is not fetched again.

Every name from outside is checked before the first request: manifest entries
(`check_entries`: a chunk name is only ever `src/arXiv_src_YYMM_NNN.tar`), the bucket, the
prefix and each key (no `.` or `..` segment, which URL normalisation (RFC 3986 dot
segments) in a proxy or an S3-compatible store can turn into another key or bucket), and the
YYMM of the selection. A local path is written or deleted only if it resolves inside `dest`.

>>> client = make_client(endpoint_url="http://127.0.0.1:5000", region="us-east-1")  # doctest: +SKIP
>>> loc = S3Location("arxiv", "", requester_pays=True)  # doctest: +SKIP
>>> fetch_chunks(client, loc, entries, Path("data/ingest"))  # doctest: +SKIP
{'fetched': 2, 'present': 0, 'bytes': 1048576}
>>> ingest_s3(params.s3, params.snapshot, Path("data/ingest"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from arxiv2lm.io import link_or_copy
from arxiv2lm.params import S3Params
from arxiv2lm.sources.manifest import (
    MANIFEST,
    SNAPSHOT,
    ChecksumError,
    ChunkEntry,
    check_entries,
    chunk_path,
    inside,
    is_yymm,
    md5_file,
    read_manifest,
    write_manifest,
    yymm_order,
)

_PART_BLOCK = 8 << 20  # bytes per streamed read
# S3's bucket rules (3-63 characters, letters, digits, `.`, `-`), plus the upper case and `_`
# of legacy us-east-1 and some S3-compatible stores; never `/`, so never another path.
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]")
FULL_MANIFEST = "src/arXiv_src_manifest.full.xml"  # the bucket's, all months


def check_bucket(bucket: str) -> str:
    """`bucket`, if it is an S3 bucket name; a ValueError otherwise.

    >>> check_bucket("arxiv")
    'arxiv'
    """
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"bucket {bucket!r} is not an S3 bucket name")
    return bucket


def check_key(key: str, what: str = "key") -> str:
    """`key`, if no `/`-separated segment of it is `.` or `..` and it has no control
    character; a ValueError otherwise.

    >>> check_key("src/arXiv_src_0001_001.tar")
    'src/arXiv_src_0001_001.tar'
    """
    for segment in (".", ".."):
        if segment in key.split("/"):
            raise ValueError(f"{what} {key!r} has a {segment!r} segment")
    if any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError(f"{what} {key!r} has a control character")
    return key


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # the folder that holds `src/`, e.g. "" for s3://arxiv/src/...
    requester_pays: bool

    def __post_init__(self) -> None:
        check_bucket(self.bucket)
        check_key(self.prefix.strip("/"), "prefix")

    def key(self, filename: str) -> str:
        """The object key of `filename` under the prefix (checked: no `.`/`..` segment)."""
        return check_key(f"{self.prefix.strip('/')}/{check_key(filename)}".lstrip("/"))

    def extra(self) -> dict[str, str]:
        return {"RequestPayer": "requester"} if self.requester_pays else {}


def s3_errors() -> tuple[type[BaseException], ...]:
    """The boto exceptions a stage turns into a one-line message (no credentials, 403, ...)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    return (BotoCoreError, ClientError)


def make_client(endpoint_url: str = "", region: str = "us-east-1") -> Any:
    """A boto3 S3 client; credentials come from the usual AWS environment and config files."""
    import boto3  # noqa: PLC0415 - only the S3 source needs it
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def check_selection(yymm_from: str, yymm_to: str, yymm_list: Iterable[str]) -> None:
    """Raise ValueError naming a bound or list item that is not YYMM ("" is no bound): a typo
    would otherwise select nothing, or everything.

    >>> check_selection("2301", "", ["2023-01"])
    Traceback (most recent call last):
    ValueError: yymm_list '2023-01' is not YYMM (e.g. '2301')
    """
    for what, values in (
        ("yymm_from", [yymm_from] if yymm_from else []),
        ("yymm_to", [yymm_to] if yymm_to else []),
        ("yymm_list", list(yymm_list)),
    ):
        for value in values:
            if not is_yymm(value):
                raise ValueError(f"{what} {value!r} is not YYMM (e.g. '2301')")


def select_chunks(
    entries: Iterable[ChunkEntry],
    yymm_from: str = "",
    yymm_to: str = "",
    yymm_list: Iterable[str] = (),
    max_chunks: int = 0,
) -> list[ChunkEntry]:
    """Chunks by yymm range (inclusive, in YYMM order across the 1999/2000 boundary) or list.

    >>> e = [ChunkEntry("src/a.tar", "", "", 1, 1, "", "", y, 1, "") for y in ["9912", "0001"]]
    >>> [c.yymm for c in select_chunks(e, yymm_from="9912", yymm_to="0001")]
    ['9912', '0001']

    A bound or list item that is not YYMM is a ValueError (`check_selection`).
    """
    yymm_list = list(yymm_list)
    check_selection(yymm_from, yymm_to, yymm_list)
    order = yymm_order
    wanted = set(yymm_list)
    out = [
        e
        for e in entries
        if (not wanted or e.yymm in wanted)
        and (not yymm_from or order(e.yymm) >= order(yymm_from))
        and (not yymm_to or order(e.yymm) <= order(yymm_to))
    ]
    out.sort(key=lambda e: (order(e.yymm), e.seq_num))
    return out[:max_chunks] if max_chunks > 0 else out


def fetch_manifest(client: Any, loc: S3Location, dest: Path, name: str = MANIFEST) -> Path:
    """Download `src/arXiv_src_manifest.xml` (always: it changes every month) to
    `dest / name` (atomic), and return that path."""
    path = inside(dest, dest / name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    client.download_file(loc.bucket, loc.key(MANIFEST), str(tmp), ExtraArgs=loc.extra())
    os.replace(tmp, path)
    return path


def _download(client: Any, loc: S3Location, entry: ChunkEntry, part: Path, bar: tqdm) -> None:
    """Append the missing bytes of `entry` to `part` (ranged GET from its current size),
    never more than the manifest's size: a longer body cannot fill the disk, and the md5
    check then decides."""
    have = part.stat().st_size if part.exists() else 0
    if have > entry.size:
        part.unlink()
        have = 0
    if have == entry.size:
        return
    resp = client.get_object(
        Bucket=loc.bucket,
        Key=loc.key(entry.filename),
        Range=f"bytes={have}-{entry.size - 1}",
        **loc.extra(),
    )
    body = resp["Body"]
    try:
        with part.open("ab") as fh:
            for block in body.iter_chunks(_PART_BLOCK):
                block = block[: entry.size - have]
                fh.write(block)
                have += len(block)
                bar.update(len(block))
                if have == entry.size:
                    break
    finally:
        body.close()  # the rest of an over-long body is not read


def fetch_chunk(client: Any, loc: S3Location, entry: ChunkEntry, dest: Path, bar: tqdm) -> str:
    """Make `dest/entry.filename` present and verified; returns 'present' or 'fetched'.

    The entry and both local paths are checked first (ValueError): nothing outside `dest`
    is written, renamed or deleted.
    """
    check_entries([entry], "chunk")
    final = inside(dest, chunk_path(dest, entry.filename))
    part = inside(dest, final.with_name(final.name + ".part"))
    if final.exists() and final.stat().st_size == entry.size and md5_file(final) == entry.md5sum:
        bar.update(entry.size)
        return "present"
    final.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(2):  # a resumed .part that fails its md5 is fetched once more whole
        _download(client, loc, entry, part, bar)
        digest = md5_file(part)
        if digest == entry.md5sum:
            os.replace(part, final)
            return "fetched"
        part.unlink()
        if attempt == 0:
            bar.total += entry.size  # the bytes of the second, whole download
    final.unlink(missing_ok=True)
    raise ChecksumError(
        f"chunk {entry.filename}: md5 {digest} does not match the manifest's {entry.md5sum}"
    )


def fetch_chunks(
    client: Any, loc: S3Location, entries: list[ChunkEntry], dest: Path, workers: int = 4
) -> dict[str, int]:
    """Fetch chunks in parallel with a progress bar (bytes/s, ETA); raise on a bad md5.

    Every entry is checked before the first download (ValueError naming it).
    """
    check_entries(entries, "chunk list")
    total = sum(e.size for e in entries)
    with (
        tqdm(  # disable=None: no bar (and no flood) when stderr is not a terminal
            total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ingest", disable=None
        ) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        results = list(pool.map(lambda e: fetch_chunk(client, loc, e, dest, bar), entries))
    return {
        "fetched": results.count("fetched"),
        "present": results.count("present"),
        "bytes": total,
    }


def fetch_snapshot(client: Any, url: str, dest: Path, requester_pays: bool = False) -> Path:
    """Download a metadata snapshot given as `s3://bucket/key` to `dest` (atomic); the
    bucket and key are checked (`check_bucket`, `check_key`) before any request."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"snapshot URL {url!r} is not s3://bucket/key")
    bucket, key = url[5:].split("/", 1)
    check_bucket(bucket)
    if not key:
        raise ValueError(f"snapshot URL {url!r}: key '' is empty")
    check_key(key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    extra = {"RequestPayer": "requester"} if requester_pays else {}
    client.download_file(bucket, key, str(tmp), ExtraArgs=extra)
    os.replace(tmp, dest)
    return dest


def ingest_s3(s3: S3Params, snapshot: str, out: Path) -> dict[str, int | str]:
    """Fetch the selected chunks and the snapshot into `out`, in place; return the counts.

    The new manifest is read under its own name (`FULL_MANIFEST`): if it is bad, this
    stops with the previous `arXiv_src_manifest.xml` intact. Chunks no longer selected are
    deleted; `snapshot` is `s3://bucket/key` (downloaded) or a local path (linked).
    """
    client = make_client(s3.endpoint_url, s3.region)
    loc = S3Location(s3.bucket, s3.prefix, s3.requester_pays)  # checks bucket and prefix
    check_selection(s3.yymm_from, s3.yymm_to, s3.yymm_list)  # before any request
    full = fetch_manifest(client, loc, out, FULL_MANIFEST)
    chosen = select_chunks(
        read_manifest(full), s3.yymm_from, s3.yymm_to, s3.yymm_list, s3.max_chunks
    )
    if not chosen:
        raise ValueError(f"no chunk of s3://{s3.bucket}/{loc.key(MANIFEST)} matches the selection")
    got = fetch_chunks(client, loc, chosen, out, workers=s3.download_workers)
    keep = {chunk_path(out, e.filename) for e in chosen}
    for stale in (out / "src").glob("arXiv_src_*.tar"):
        if stale not in keep:
            stale.unlink()
    write_manifest(chosen, out / MANIFEST)
    if snapshot.startswith("s3://"):
        fetch_snapshot(client, snapshot, out / SNAPSHOT, s3.requester_pays)
    else:
        link_or_copy(Path(snapshot), out / SNAPSHOT)
    return {"chunks": len(chosen), **got, "source": f"s3://{s3.bucket}/{loc.key('src/')}"}
