"""`ingest` with `source: s3` on a bucket laid out like s3://arxiv (moto on 127.0.0.1),
then `filter` and `validate` on what it fetched."""

import hashlib
import importlib
import shutil
from pathlib import Path

import pytest
import yaml

from arxiv2lm.sources.manifest import MANIFEST, SNAPSHOT, read_manifest
from arxiv2lm.sources.sample import generate_sample
from arxiv2lm.workcache import iter_parts

ROOT = Path(__file__).resolve().parents[2]


def _stage(name: str):
    return importlib.import_module(f"stages.{name}")


@pytest.fixture
def bucket(tmp_path, s3_client, s3_endpoint, monkeypatch):
    name = f"arxiv-{tmp_path.name[-20:].lower().replace('_', '-')}"
    s3_client.create_bucket(Bucket=name)
    mirror = tmp_path / "mirror"
    generate_sample(mirror, seed=5, n_papers=120, papers_per_chunk=40)
    for path in sorted((mirror / "src").iterdir()):
        s3_client.upload_file(str(path), name, f"src/{path.name}")
    s3_client.upload_file(str(mirror / SNAPSHOT), name, "meta/snapshot.json")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest"]["source"] = "s3"
    params["ingest"]["snapshot"] = f"s3://{name}/meta/snapshot.json"
    params["ingest"]["s3"].update(bucket=name, endpoint_url=s3_endpoint, requester_pays=False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    return name, mirror, params


def _set(tmp_path: Path, params: dict, **s3) -> None:
    params["ingest"]["s3"].update(s3)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))


def test_s3_ingest_feeds_the_pipeline(bucket, tmp_path, capsys) -> None:
    _, mirror, params = bucket
    months = sorted({e.yymm for e in read_manifest(mirror / MANIFEST)})
    _set(tmp_path, params, yymm_list=months[:2])
    _stage("ingest").main(["data/ingest"])
    got = read_manifest(tmp_path / "data/ingest" / MANIFEST)
    assert {e.yymm for e in got} == set(months[:2])
    for e in got:
        assert (tmp_path / "data/ingest" / e.filename).read_bytes() == (
            mirror / e.filename
        ).read_bytes()
    n = len(got)
    assert f"s3: {n} chunks ({n} fetched, 0 already present, " in capsys.readouterr().out
    _stage("ingest").main(["data/ingest"])  # a rerun fetches nothing again
    assert f"s3: {n} chunks (0 fetched, {n} already present, " in capsys.readouterr().out
    _stage("filter").main(["data/ingest", "data/filter"])
    _stage("validate").main(["data/ingest", "data/filter", "data/validate"])
    yymms = [r["yymm"] for r in iter_parts(tmp_path / "data/validate", ["yymm"])]
    assert set(yymms) <= set(months[:2])
    assert len(yymms) > 10


def test_corrupt_chunk_is_a_loud_error(bucket, tmp_path, s3_client) -> None:
    name, mirror, params = bucket
    entry = read_manifest(mirror / MANIFEST)[0]
    s3_client.put_object(Bucket=name, Key=entry.filename, Body=b"not the chunk")
    _set(tmp_path, params, yymm_list=[entry.yymm], max_chunks=1)
    with pytest.raises(SystemExit, match=rf"{Path(entry.filename).name}: md5 .* does not match"):
        _stage("ingest").main(["data/ingest"])
    assert not (tmp_path / "data/ingest" / entry.filename).exists()


def test_no_credentials_or_bucket_is_one_line(bucket, tmp_path) -> None:
    _, _, params = bucket
    _set(tmp_path, params, bucket="no-such-bucket")
    with pytest.raises(SystemExit, match="ingest: S3 error"):
        _stage("ingest").main(["data/ingest"])
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.mark.parametrize("md5_matches", [True, False])
def test_hostile_manifest_touches_nothing(bucket, tmp_path, s3_client, md5_matches) -> None:
    """A bucket whose manifest names `../../victim.txt` used to overwrite the file beside
    `data/` (md5 matches) or delete it (md5 differs), and lost the previous manifest."""
    name, mirror, params = bucket
    entries = read_manifest(mirror / MANIFEST)
    _set(tmp_path, params, yymm_list=[entries[0].yymm], max_chunks=1)
    _stage("ingest").main(["data/ingest"])  # a good previous run
    out = tmp_path / "data/ingest"
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    evil = b"attacker's bytes"
    s3_client.put_object(Bucket=name, Key="../../victim.txt", Body=evil)
    text = (mirror / MANIFEST).read_text()
    text = text.replace(entries[0].filename, "../../victim.txt")
    md5 = hashlib.md5(evil).hexdigest() if md5_matches else "0" * 32
    text = text.replace(entries[0].md5sum, md5).replace(f">{entries[0].size}<", f">{len(evil)}<")
    s3_client.put_object(Bucket=name, Key=MANIFEST, Body=text.encode())
    victim = tmp_path / "victim.txt"  # data/ingest/../../victim.txt
    victim.write_text("precious")
    with pytest.raises(SystemExit, match=r"full\.xml: <file> #1 \('../../victim.txt'\)"):
        _stage("ingest").main(["data/ingest"])
    assert victim.read_text() == "precious"
    full = out / "src/arXiv_src_manifest.full.xml"  # the bucket's, kept for a look
    assert "../../victim.txt" in full.read_text()
    after = {p: p.read_bytes() for p in before if p != full}
    assert after == {p: b for p, b in before.items() if p != full}
    assert len(after) == 3  # the previous manifest, chunk and snapshot are all still there
