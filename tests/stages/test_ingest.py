"""The ingest stage: sample generation in place, the local-mirror round trip, clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arxiv2lm.sources.manifest import md5_file, read_manifest
from arxiv2lm.sources.sample import generate_sample

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "stages/ingest.py"


def _params(tmp: Path, **ingest) -> None:
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    doc["ingest"].update(ingest)
    (tmp / "params.yaml").write_text(yaml.safe_dump(doc))


pytestmark = pytest.mark.slow  # every test runs the ingest stage as a subprocess


def _run(tmp: Path, out: str = "data/ingest") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(STAGE), out], cwd=tmp, capture_output=True, text=True, timeout=60
    )


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): md5_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_sample_source_replaces_the_output_whole(tmp_path):
    _params(tmp_path, source="sample", n_papers=60, papers_per_chunk=20, seed=3)
    stale = tmp_path / "data/ingest/src/arXiv_src_0000_001.tar"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    res = _run(tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("\n") == 1 and "60 papers" in res.stdout
    out = tmp_path / "data/ingest"
    assert not stale.exists()
    assert (out / "metadata/arxiv-metadata-oai-snapshot.json").is_file()
    assert [p.name for p in tmp_path.joinpath("data").iterdir()] == ["ingest"]  # no temp left
    generate_sample(tmp_path / "direct", 3, 60, 20)
    assert _tree(out) == _tree(tmp_path / "direct")


def test_local_source_round_trip(tmp_path):
    mirror = tmp_path / "mirror"
    generate_sample(mirror, 5, 60, 20)
    snapshot = mirror / "metadata/arxiv-metadata-oai-snapshot.json"
    (mirror / "sample.json").unlink()
    _params(tmp_path, source="local", local_dir=str(mirror), snapshot=str(snapshot))
    res = _run(tmp_path)
    assert res.returncode == 0, res.stderr
    assert "local:" in res.stdout
    out = tmp_path / "data/ingest"
    assert _tree(out) == _tree(mirror)
    for entry in read_manifest(out / "src/arXiv_src_manifest.xml"):
        assert md5_file(out / entry.filename) == entry.md5sum


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_dir", "source local needs ingest.local_dir"),
        ("no_snapshot", "snapshot"),
        ("no_chunk", "absent from"),
        ("bad_manifest", "malformed manifest XML"),
    ],
)
def test_local_source_errors_are_one_line(tmp_path, setup, message):
    mirror = tmp_path / "mirror"
    generate_sample(mirror, 5, 40, 40)
    snapshot = mirror / "metadata/arxiv-metadata-oai-snapshot.json"
    local_dir = "" if setup == "no_dir" else str(mirror)
    if setup == "no_snapshot":
        snapshot.unlink()
    if setup == "no_chunk":
        next((mirror / "src").glob("*.tar")).unlink()
    if setup == "bad_manifest":
        (mirror / "src/arXiv_src_manifest.xml").write_text("<arXivSRC><file>")
    _params(tmp_path, source="local", local_dir=local_dir, snapshot=str(snapshot))
    (tmp_path / "data/ingest").mkdir(parents=True)
    (tmp_path / "data/ingest/keep").write_text("previous output")
    res = _run(tmp_path)
    assert res.returncode != 0
    assert message in res.stderr and "Traceback" not in res.stderr
    assert (tmp_path / "data/ingest/keep").read_text() == "previous output"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ingest"]


def test_local_hostile_manifest_links_nothing_and_keeps_the_output(tmp_path):
    """A `../victim.txt` entry used to be hard-linked from beside the mirror into data/."""
    mirror = tmp_path / "mirror"
    generate_sample(mirror, 5, 40, 40)
    snapshot = mirror / "metadata/arxiv-metadata-oai-snapshot.json"
    victim = tmp_path / "victim.txt"  # mirror/../victim.txt
    victim.write_text("precious")
    manifest = mirror / "src/arXiv_src_manifest.xml"
    first = read_manifest(manifest)[0].filename
    manifest.write_text(manifest.read_text().replace(first, "../victim.txt"))
    _params(tmp_path, source="local", local_dir=str(mirror), snapshot=str(snapshot))
    (tmp_path / "data/ingest").mkdir(parents=True)
    (tmp_path / "data/ingest/keep").write_text("previous output")
    res = _run(tmp_path)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "#1 ('../victim.txt'): <filename> '../victim.txt' is not src/" in res.stderr
    assert victim.stat().st_nlink == 1 and victim.read_text() == "precious"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["ingest"]
    assert (tmp_path / "data/ingest/keep").read_text() == "previous output"
