"""Shared fixtures: a local S3 server (moto) on 127.0.0.1, never the internet; and a
runtime-only Python for subprocesses (test-only packages made unimportable)."""

from __future__ import annotations

import os
import socket
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# The longest files start first, one on each of the two xdist workers (pyproject's addopts:
# loadfile, --no-loadscope-reorder keeps this order), so no worker is left finishing one
# alone: the DVC pipeline (~1.5 min on an idle core), the training engine (~1 min).
LONGEST_FIRST = [
    "tests/test_study.py",
    "tests/test_pipeline.py",
    "tests/train/test_engine.py",
    "tests/test_remote.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        rel = item.path.relative_to(ROOT).as_posix() if item.path.is_relative_to(ROOT) else ""
        return LONGEST_FIRST.index(rel) if rel in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other file keeps its place


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server for this test session, with fake credentials in the env."""
    server_mod = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    mp = pytest.MonkeyPatch()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        mp.setenv(key, value)
    yield f"http://127.0.0.1:{port}"
    server.stop()
    mp.undo()


@pytest.fixture
def s3_client(s3_endpoint: str) -> Any:
    from arxiv2lm.sources.remote import make_client

    return make_client(endpoint_url=s3_endpoint, region="us-east-1")


@pytest.fixture(scope="session")
def runtime_distributions() -> set[str]:
    """Canonical names of `[project] dependencies` and, transitively, what they require:
    what `pip install .` puts in a fresh environment besides the project itself."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own requirements cannot be read
        for text in requires:
            sub = Requirement(text)
            extras = req.extras or {""}
            if sub.marker and not any(sub.marker.evaluate({"extra": e}) for e in extras):
                continue
            todo.append(sub)
    return seen


# Imported at interpreter start (as `sitecustomize`, from PYTHONPATH). It replaces the
# PathFinder on sys.meta_path by one that neither finds the blocked top-level modules nor
# lists the blocked distributions, so `import pytest` fails, `importlib.util.find_spec`
# says None and no entry point of a blocked distribution is seen: what a runtime-only
# install shows. It appends its argv to a log, so a test can tell which processes it covered.
_BLOCKER = '''\
"""Written by tests/conftest.py: this interpreter sees only the runtime install."""
import os
import re
import sys
from importlib.machinery import PathFinder

BLOCKED_MODULES = frozenset({modules!r})
BLOCKED_DISTS = frozenset({dists!r})


class RuntimeOnlyFinder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if path is None and name in BLOCKED_MODULES:
            return None
        return PathFinder.find_spec(name, path, target)

    @classmethod
    def find_distributions(cls, *args, **kwargs):
        for dist in PathFinder.find_distributions(*args, **kwargs):
            name = re.sub(r"[-_.]+", "-", dist.metadata["Name"] or "").lower()
            if name not in BLOCKED_DISTS:
                yield dist

    @classmethod
    def invalidate_caches(cls):
        PathFinder.invalidate_caches()


sys.meta_path[:] = [RuntimeOnlyFinder if f is PathFinder else f for f in sys.meta_path]
with open({log!r}, "a") as log:  # one short O_APPEND write: processes do not interleave
    log.write(" ".join(sys.argv[:2]) + "\\n")
'''


@dataclass(frozen=True)
class RuntimeOnly:
    env: dict[str, str]  # PYTHONPATH: the blocker first, then what was set before
    log: Path  # one line per interpreter started under it: `sys.argv[:2]`
    blocked_modules: frozenset[str]


@pytest.fixture(scope="session")
def runtime_only(
    tmp_path_factory: pytest.TempPathFactory, runtime_distributions: set[str]
) -> RuntimeOnly:
    """Environment under which a Python subprocess imports only what a runtime install of
    the project has: test extras (pytest, moto, transformers, ...) and whatever else was
    installed by hand are unimportable, so a stage that imports one fails as in production.
    """
    allowed = runtime_distributions | {canonicalize_name("arxiv2lm")}
    blocked_dists: set[str] = set()
    blocked_modules: set[str] = set()
    for module, dists in metadata.packages_distributions().items():
        names = {canonicalize_name(d) for d in dists}
        if not names & allowed:  # a namespace shared with a runtime distribution stays
            blocked_modules.add(module)
            blocked_dists |= names
    folder = tmp_path_factory.mktemp("runtime_only")
    log = folder / "processes.log"
    log.touch()
    (folder / "sitecustomize.py").write_text(
        _BLOCKER.format(modules=sorted(blocked_modules), dists=sorted(blocked_dists), log=str(log))
    )
    path = os.pathsep.join(p for p in [str(folder), os.environ.get("PYTHONPATH", "")] if p)
    return RuntimeOnly({"PYTHONPATH": path}, log, frozenset(blocked_modules))
