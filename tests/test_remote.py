"""Sharing the pipeline's data through DVC remotes: push from the built copy, pull into a
fresh `git clone` (its own empty DVC cache), and nothing is recomputed there.

Remotes: a local folder, and S3 through dvc-s3 against the moto server on 127.0.0.1
(conftest's `s3_endpoint`, fake credentials in the environment). The built copy is
`tests/test_pipeline.py`'s `project` fixture (the small sample, one `dvc repro`). Slow.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_pipeline import project, ran_stages, run  # noqa: F401 (project: the fixture)

pytestmark = pytest.mark.slow

# The README's command for sharing everything but the raw chunks of `data/ingest`.
PUSH_BUT_INGEST = "dvc push -r {remote} $(dvc stage list --name-only | grep -vx ingest)"


def cached_outs(repo: Path) -> dict[str, str]:
    """Path -> md5 of every output DVC caches (the `cache: false` ones are in git)."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    uncached = {
        path
        for stage in spec["stages"].values()
        for kind in ("outs", "metrics", "plots")
        for item in stage.get(kind, [])
        if isinstance(item, dict)
        for path, opts in item.items()
        if opts and opts.get("cache") is False
    }
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
        if out["path"] not in uncached
    }


def add_remote(repo: Path, name: str, url: str, **options: str) -> None:
    """What the team commits: the remote's URL and settings, never credentials."""
    run(repo, "dvc", "remote", "add", name, url)
    for key, value in options.items():
        run(repo, "dvc", "remote", "modify", name, key, value)
    run(repo, "git", "add", ".dvc/config")
    run(repo, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", f"remote {name}")


def clone(repo: Path, dest: Path) -> Path:
    run(repo.parent, "git", "clone", "-q", str(repo), str(dest))
    return dest


def digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        h.update(f.read_bytes())
    return h.hexdigest()


def assert_pulled_without_recompute(source: Path, dest: Path, outs: dict[str, str]) -> None:
    for path in outs:
        assert digest(dest / path) == digest(source / path), path
    status = run(dest, "dvc", "status")
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    assert ran_stages(run(dest, "dvc", "repro").stdout) == set()


def test_local_remote_push_then_pull_in_a_fresh_clone(project: Path, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    add_remote(project, "folder", str(store))
    run(project, "dvc", "push", "-r", "folder")
    outs = cached_outs(project)
    assert {"data/ingest", "data/shard", "data/tokenizer", "models/export"} <= set(outs)
    for path, md5 in outs.items():  # every cached output, each directory by its manifest
        assert (store / "files" / "md5" / md5[:2] / md5[2:]).is_file(), path
    assert "in sync" in run(project, "dvc", "status", "-c", "-r", "folder").stdout

    colleague = clone(project, tmp_path / "colleague")
    assert not any((colleague / path).exists() for path in outs)
    run(colleague, "dvc", "pull", "-r", "folder")
    assert_pulled_without_recompute(project, colleague, outs)


def test_push_without_the_raw_chunks(project: Path, tmp_path: Path) -> None:  # noqa: F811
    store = tmp_path / "store"
    add_remote(project, "noraw", str(store))
    run(project, "bash", "-c", PUSH_BUT_INGEST.format(remote="noraw"))
    outs = cached_outs(project)
    pushed = {p for p, md5 in outs.items() if (store / "files/md5" / md5[:2] / md5[2:]).is_file()}
    assert pushed == set(outs) - {"data/ingest"}

    colleague = clone(project, tmp_path / "colleague")
    missing = run(colleague, "dvc", "pull", "-r", "noraw", check=False)
    assert missing.returncode != 0 and "data/ingest" in missing.stdout + missing.stderr
    run(colleague, "dvc", "pull", "-r", "noraw", "--allow-missing")
    assert not (colleague / "data/ingest").exists()
    outs.pop("data/ingest")
    for path in outs:
        assert digest(colleague / path) == digest(project / path), path
    # the ingest stage reads as changed (its output is missing), and would download the
    # chunks again; --allow-missing skips it and everything after it that did not change
    assert "data/ingest" in run(colleague, "dvc", "status").stdout
    assert ran_stages(run(colleague, "dvc", "repro", "--allow-missing").stdout) == set()


def test_s3_remote_through_moto(
    project: Path,  # noqa: F811
    tmp_path: Path,
    s3_endpoint: str,
    s3_client: Any,
) -> None:
    s3_client.create_bucket(Bucket="team-dvc")
    add_remote(project, "s3", "s3://team-dvc/arxiv2lm", endpointurl=s3_endpoint)
    run(project, "dvc", "push", "-r", "s3")
    outs = cached_outs(project)
    keys = {
        obj["Key"]
        for page in s3_client.get_paginator("list_objects_v2").paginate(Bucket="team-dvc")
        for obj in page.get("Contents", [])
    }
    for path, md5 in outs.items():
        assert f"arxiv2lm/files/md5/{md5[:2]}/{md5[2:]}" in keys, path

    colleague = clone(project, tmp_path / "colleague")
    run(colleague, "dvc", "pull", "-r", "s3")
    assert_pulled_without_recompute(project, colleague, outs)
