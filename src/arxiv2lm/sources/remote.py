"""Fetch arXiv source chunks from S3 (the requester-pays `s3://arxiv` bucket or any
S3-compatible store), verified against the manifest's md5, resumable.

A chunk is only ever present under its final name once its md5 matched: downloads go to
`<name>.part`, resume from the bytes already there with a ranged GET, are verified, and are
then renamed. A chunk already present and verified is not fetched again.

>>> client = make_client(endpoint_url="http://127.0.0.1:5000", region="us-east-1")  # doctest: +SKIP
>>> fetch_chunks(client, "arxiv", "src/", entries, Path("data/ingest"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from arxiv2lm.sources.manifest import MANIFEST, ChunkEntry, md5_file

_PART_BLOCK = 8 << 20  # bytes per streamed read


class ChecksumError(RuntimeError):
    """A downloaded chunk whose bytes do not match its manifest md5."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # the folder that holds `src/`, e.g. "" for s3://arxiv/src/...
    requester_pays: bool

    def key(self, filename: str) -> str:
        return f"{self.prefix.strip('/')}/{filename}".lstrip("/")

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
    """

    def order(yymm: str) -> str:
        return ("19" if yymm >= "91" else "20") + yymm

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


def fetch_manifest(client: Any, loc: S3Location, dest: Path) -> Path:
    """Download `src/arXiv_src_manifest.xml` (always: it changes every month)."""
    path = dest / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    client.download_file(loc.bucket, loc.key(MANIFEST), str(tmp), ExtraArgs=loc.extra())
    os.replace(tmp, path)
    return path


def _download(client: Any, loc: S3Location, entry: ChunkEntry, part: Path, bar: tqdm) -> None:
    """Append the missing bytes of `entry` to `part` (ranged GET from its current size)."""
    have = part.stat().st_size if part.exists() else 0
    if have > entry.size:
        part.unlink()
        have = 0
    if have == entry.size:
        return
    resp = client.get_object(
        Bucket=loc.bucket, Key=loc.key(entry.filename), Range=f"bytes={have}-", **loc.extra()
    )
    with part.open("ab") as fh:
        for block in resp["Body"].iter_chunks(_PART_BLOCK):
            fh.write(block)
            bar.update(len(block))


def fetch_chunk(client: Any, loc: S3Location, entry: ChunkEntry, dest: Path, bar: tqdm) -> str:
    """Make `dest/entry.filename` present and verified; returns 'present' or 'fetched'."""
    final = dest / entry.filename
    if final.exists() and final.stat().st_size == entry.size and md5_file(final) == entry.md5sum:
        bar.update(entry.size)
        return "present"
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
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
    """Fetch chunks in parallel with a progress bar (bytes/s, ETA); raise on a bad md5."""
    total = sum(e.size for e in entries)
    with (
        tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="ingest") as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        results = list(pool.map(lambda e: fetch_chunk(client, loc, e, dest, bar), entries))
    return {
        "fetched": results.count("fetched"),
        "present": results.count("present"),
        "bytes": total,
    }


def fetch_snapshot(client: Any, url: str, dest: Path, requester_pays: bool = False) -> Path:
    """Download a metadata snapshot given as `s3://bucket/key` to `dest` (atomic)."""
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise ValueError(f"snapshot URL {url!r} is not s3://bucket/key")
    bucket, key = url[5:].split("/", 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    extra = {"RequestPayer": "requester"} if requester_pays else {}
    client.download_file(bucket, key, str(tmp), ExtraArgs=extra)
    os.replace(tmp, dest)
    return dest
