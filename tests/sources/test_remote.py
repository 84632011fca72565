"""S3 ingest against a local moto server on 127.0.0.1 laid out like s3://arxiv."""

import hashlib
import io
import tarfile

import pytest

from arxiv2lm.sources.manifest import MANIFEST, ChunkEntry, read_manifest, write_manifest
from arxiv2lm.sources.remote import (
    ChecksumError,
    S3Location,
    fetch_chunk,
    fetch_chunks,
    fetch_manifest,
    fetch_snapshot,
    make_client,
    select_chunks,
)


def _tar(n: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = (f"paper {n} " * 5000).encode()
        info = tarfile.TarInfo(f"2301/2301.{n:05d}.gz")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture(scope="module")
def s3(tmp_path_factory, s3_endpoint):
    client = make_client(endpoint_url=s3_endpoint, region="us-east-1")
    client.create_bucket(Bucket="arxiv")
    entries, blobs = [], {}
    for i, yymm in enumerate(["9912", "0001", "2301", "2302"]):
        data = _tar(i)
        name = f"src/arXiv_src_{yymm}_001.tar"
        blobs[name] = data
        md5 = hashlib.md5(data).hexdigest()
        if yymm == "2302":
            md5 = "0" * 32  # the manifest disagrees with the bytes
        entries.append(ChunkEntry(name, md5, "", len(data), 1, "", "", yymm, 1, "t"))
        client.put_object(Bucket="arxiv", Key=name, Body=data)
    local = tmp_path_factory.mktemp("manifest") / MANIFEST
    write_manifest(entries, local)
    client.upload_file(str(local), "arxiv", MANIFEST)
    client.put_object(Bucket="arxiv", Key="meta/snap.json", Body=b'{"id": "2301.00001"}\n')
    return client, blobs


LOC = S3Location(bucket="arxiv", prefix="", requester_pays=True)


def test_select_by_range_list_and_count(s3, tmp_path) -> None:
    client, _ = s3
    entries = read_manifest(fetch_manifest(client, LOC, tmp_path))
    assert [e.yymm for e in select_chunks(entries, yymm_from="9912", yymm_to="0001")] == [
        "9912",
        "0001",
    ]
    assert [e.yymm for e in select_chunks(entries, yymm_list=["2301"])] == ["2301"]
    assert [e.yymm for e in select_chunks(entries, max_chunks=3)] == ["9912", "0001", "2301"]


def test_fetch_verify_and_skip_present(s3, tmp_path) -> None:
    client, blobs = s3
    entries = select_chunks(read_manifest(fetch_manifest(client, LOC, tmp_path)), yymm_to="2301")
    first = fetch_chunks(client, LOC, entries, tmp_path, workers=2)
    assert first["fetched"] == 3 and first["present"] == 0
    for e in entries:
        assert (tmp_path / e.filename).read_bytes() == blobs[e.filename]
    again = fetch_chunks(client, LOC, entries, tmp_path, workers=2)
    assert again == {"fetched": 0, "present": 3, "bytes": first["bytes"]}


def test_resume_after_partial_download(s3, tmp_path) -> None:
    client, blobs = s3
    entry = next(
        e for e in read_manifest(fetch_manifest(client, LOC, tmp_path)) if e.yymm == "2301"
    )
    part = tmp_path / (entry.filename + ".part")
    part.write_bytes(blobs[entry.filename][:1000])  # a download killed half-way
    assert not (tmp_path / entry.filename).exists()  # a .part never counts as present

    class Bar:
        n = 0

        def update(self, k: int) -> None:
            self.n += k

    bar = Bar()
    assert fetch_chunk(client, LOC, entry, tmp_path, bar) == "fetched"
    assert bar.n == entry.size - 1000  # only the missing bytes were transferred
    assert (tmp_path / entry.filename).read_bytes() == blobs[entry.filename]
    assert not part.exists()


def test_bad_md5_is_loud_and_leaves_nothing(s3, tmp_path) -> None:
    client, _ = s3
    entries = select_chunks(
        read_manifest(fetch_manifest(client, LOC, tmp_path)), yymm_list=["2302"]
    )
    with pytest.raises(ChecksumError, match=r"arXiv_src_2302_001\.tar: md5"):
        fetch_chunks(client, LOC, entries, tmp_path)
    assert not (tmp_path / entries[0].filename).exists()
    assert not (tmp_path / (entries[0].filename + ".part")).exists()


def test_snapshot_from_s3_url(s3, tmp_path) -> None:
    client, _ = s3
    out = fetch_snapshot(client, "s3://arxiv/meta/snap.json", tmp_path / "snap.json")
    assert out.read_text().startswith('{"id"')
    with pytest.raises(ValueError, match="not s3://bucket/key"):
        fetch_snapshot(client, "http://x/y", tmp_path / "y")
