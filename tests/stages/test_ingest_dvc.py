"""`source: local` through `dvc repro ingest` with the project's own `.dvc/config`: a chunk is
one inode shared by the mirror, `data/ingest` and `.dvc/cache`, so it is on disk once."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arxiv2lm.sources.manifest import MANIFEST, read_manifest
from arxiv2lm.sources.sample import generate_sample

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _dvc(cwd: Path, *args: str) -> None:
    env = dict(os.environ, DVC_NO_ANALYTICS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"dvc {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"


def _project(tmp_path: Path, mirror: Path) -> Path:
    """A git+dvc project with the repo's .dvc/config and its `ingest` outs and params."""
    proj = tmp_path / "proj"
    proj.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=proj, check=True)
    _dvc(proj, "init", "-q")
    shutil.copy(ROOT / ".dvc/config", proj / ".dvc/config")
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["ingest"]
    stage = {
        "cmd": f"{sys.executable} {ROOT / 'stages/ingest.py'} data/ingest",
        "params": stage["params"],
        "outs": stage["outs"],  # data/ingest, persist: true
    }
    (proj / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ingest": stage}}))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = {"ingest": params["ingest"]}
    snapshot = mirror / "metadata/arxiv-metadata-oai-snapshot.json"
    params["ingest"].update(source="local", local_dir=str(mirror), snapshot=str(snapshot))
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    return proj


def _one_copy_each(mirror: Path, proj: Path) -> int:
    """Assert each chunk is one inode in all three places; return the bytes allocated for
    the chunks, each inode counted once (what `du` without --count-links reports)."""
    inodes: dict[int, int] = {}
    for e in read_manifest(mirror / MANIFEST):
        cache = proj / ".dvc/cache/files/md5" / e.md5sum[:2] / e.md5sum[2:]
        stats = [p.stat() for p in (mirror / e.filename, proj / "data/ingest" / e.filename, cache)]
        assert len({s.st_ino for s in stats}) == 1, f"{e.filename}: {[s.st_ino for s in stats]}"
        assert stats[0].st_nlink == 3  # mirror, data/ingest, cache: no other copy anywhere
        # DVC makes its cache read-only, and the mirror's chunk is the same inode.
        assert stats[0].st_mode & 0o222 == 0
        inodes[stats[0].st_ino] = stats[0].st_blocks * 512
    return sum(inodes.values())


def test_local_chunks_are_stored_once(tmp_path):
    mirror = tmp_path / "mirror"
    generate_sample(mirror, 5, 80, 40)
    (mirror / "sample.json").unlink()
    chunks = sorted((mirror / "src").glob("*.tar"))
    one_copy = sum(p.stat().st_blocks * 512 for p in chunks)
    proj = _project(tmp_path, mirror)
    _dvc(proj, "repro", "ingest")
    assert _one_copy_each(mirror, proj) == one_copy
    # A rerun (DVC first unprotects the persist out into private copies) ends linked again.
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["ingest"]["seed"] += 1
    (proj / "params.yaml").write_text(yaml.safe_dump(params))
    _dvc(proj, "repro", "ingest")
    assert _one_copy_each(mirror, proj) == one_copy
