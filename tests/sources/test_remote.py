"""S3 ingest against a local moto server on 127.0.0.1 laid out like s3://arxiv."""

import hashlib
import io
import re
import tarfile

import pytest
from tqdm import tqdm

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


# --- hostile names: nothing outside `dest` is ever written, linked or deleted ---


@pytest.mark.parametrize("md5_matches", [True, False])
def test_traversing_entry_never_touches_outside(s3, tmp_path, md5_matches) -> None:
    """`../victim.txt` used to be overwritten (md5 matches) or deleted (md5 differs)."""
    client, _ = s3
    evil = b"attacker's bytes"
    client.put_object(Bucket="arxiv", Key="../victim.txt", Body=evil)
    md5 = hashlib.md5(evil).hexdigest() if md5_matches else "0" * 32
    entry = ChunkEntry("../victim.txt", md5, "", len(evil), 1, "", "", "2301", 1, "t")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    with pytest.raises(ValueError, match=r"#1 \('../victim.txt'\): <filename> .* is not src/"):
        fetch_chunks(client, LOC, [entry], tmp_path / "data")
    assert victim.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]


def test_symlinked_src_folder_is_refused(s3, tmp_path) -> None:
    client, _ = s3
    entries = read_manifest(fetch_manifest(client, LOC, tmp_path))
    entry = select_chunks(entries, yymm_list=["2301"])[0]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data/src").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="outside"):
        fetch_chunk(client, LOC, entry, tmp_path / "data", tqdm(disable=True))
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bucket": "../other"}, "bucket '../other' is not an S3 bucket name"),
        ({"bucket": "a/b"}, "bucket 'a/b' is not an S3 bucket name"),
        ({"bucket": "ab"}, "bucket 'ab' is not an S3 bucket name"),
        ({"prefix": "mirror/../../other"}, "prefix 'mirror/../../other' has a '..' segment"),
        ({"prefix": "./x"}, "prefix './x' has a '.' segment"),
    ],
)
def test_s3_location_rejects_bad_names(kwargs, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        S3Location(**{"bucket": "arxiv", "prefix": "", "requester_pays": True, **kwargs})


def test_s3_location_keys() -> None:
    assert S3Location("arxiv", "/mirror/", False).key(MANIFEST) == "mirror/" + MANIFEST
    assert LOC.key("src/arXiv_src_2301_001.tar") == "src/arXiv_src_2301_001.tar"
    with pytest.raises(ValueError, match=r"key 'src/../x' has a '\.\.' segment"):
        LOC.key("src/../x")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://arxiv/../other/snap.json", "key '../other/snap.json' has a '..' segment"),
        ("s3://../snap.json", "bucket '..' is not an S3 bucket name"),
        ("s3://arxiv/", "key '' is empty"),
    ],
)
def test_snapshot_url_is_checked_before_any_request(tmp_path, url, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        fetch_snapshot(None, url, tmp_path / "snap.json")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"yymm_from": "2023-01"}, "yymm_from '2023-01' is not YYMM"),
        ({"yymm_to": "2313"}, "yymm_to '2313' is not YYMM"),
        ({"yymm_list": ["2301", "23"]}, "yymm_list '23' is not YYMM"),
    ],
)
def test_select_rejects_a_bad_yymm(kwargs, message) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        select_chunks([], **kwargs)


def test_manifest_size_bounds_what_is_written(s3, tmp_path) -> None:
    """A server (or object) longer than the manifest's size used to be written whole."""
    client, _ = s3
    client.put_object(Bucket="arxiv", Key="src/arXiv_src_2303_001.tar", Body=b"x" * 100_000)
    entry = ChunkEntry("src/arXiv_src_2303_001.tar", "0" * 32, "", 10, 1, "", "", "2303", 1, "t")

    class Bar:
        n = 0
        total = 10

        def update(self, k: int) -> None:
            self.n += k

    bar = Bar()
    with pytest.raises(ChecksumError, match=r"arXiv_src_2303_001\.tar: md5"):
        fetch_chunk(client, LOC, entry, tmp_path, bar)
    assert bar.n == 20  # 10 bytes per attempt, two attempts, not 2 x 100 kB
    assert list((tmp_path / "src").iterdir()) == []
