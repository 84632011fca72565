"""Named units (`--unit`, `--list-units`): on a tiny generated sample, a stage computes only
the named chunks into its work cache and writes no output folder; the full run that follows
reuses them and writes the same bytes as a run that never saw `--unit`."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from arxiv2lm.io import read_json
from arxiv2lm.workcache import part_files

ROOT = Path(__file__).resolve().parents[1]
CACHE = "work"


def _stages() -> dict[str, list[str]]:
    """Each stage's argv as dvc.yaml runs it, less its `--work-cache`."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    argv = {name: stages[name]["cmd"].split()[2:] for name in stages}
    return {n: a[: a.index("--work-cache")] if "--work-cache" in a else a for n, a in argv.items()}


def _main(stage: str, *flags: str) -> None:
    importlib.import_module(f"stages.{stage}").main([*_stages()[stage], *flags])


def _complete(project: Path, stage: str) -> set[str]:
    """The keys of the units in a stage's work cache."""
    return {p.parent.name for p in (project / CACHE / stage).glob("*/*/COMPLETE")}


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _listed(capsys: pytest.CaptureFixture[str], stage: str) -> list[list[str]]:
    capsys.readouterr()
    _main(stage, "--work-cache", CACHE, "--list-units")
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with ingest and filter run on a 40-paper sample in 8-paper chunks, and
    validate and extract outputs of a plain run (no work cache) under `reference/`."""
    project = tmp_path_factory.mktemp("base")
    doc = yaml.safe_load((ROOT / "params.yaml").read_text())
    doc["ingest"].update(source="sample", n_papers=40, papers_per_chunk=8)
    (project / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        for stage in ("ingest", "filter", "validate", "extract"):
            _main(stage)
    (project / "reference").mkdir()
    for stage in ("validate", "extract"):
        shutil.move(project / "data" / stage, project / "reference" / stage)
    return project


@pytest.fixture
def project(base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.copytree(base, tmp_path / "p", symlinks=True)
    monkeypatch.chdir(tmp_path / "p")
    yield tmp_path / "p"


def test_validate_unit_is_computed_alone_then_reused(project: Path, capsys) -> None:
    listed = _listed(capsys, "validate")
    names = [name for name, _ in listed]
    assert len(names) >= 3 and all(n.startswith("arXiv_src_") and n.endswith(".tar") for n in names)
    assert {state for _, state in listed} == {"missing"}
    one = names[1]

    _main("validate", "--work-cache", CACHE, "--unit", one)
    assert not (project / "data/validate").exists()
    assert len(_complete(project, "validate")) == 2  # its classify and its selection unit
    assert not (project / CACHE / "validate/last_run.json").exists()
    assert [s for _, s in _listed(capsys, "validate")] == [
        "cached" if n == one else "missing" for n in names
    ]

    _main("validate", "--work-cache", CACHE, "--unit", one)  # cached: nothing to do
    assert "0 chunks classified, 1 already in" in capsys.readouterr().out
    _main("validate", "--work-cache", CACHE)
    run = read_json(project / CACHE / "validate/last_run.json")
    n = len(names)
    assert (run["units_computed"], run["units_reused"]) == (n - 1, 1)
    assert (run["select_computed"], run["select_reused"]) == (n - 1, 1)
    assert _tree(project / "data/validate") == _tree(project / "reference/validate")
    assert {s for _, s in _listed(capsys, "validate")} == {"cached"}


def test_extract_unit_is_computed_alone_then_reused(project: Path, capsys) -> None:
    shutil.copytree(project / "reference/validate", project / "data/validate")
    names = [p.stem for p in part_files(project / "data/validate")]
    assert _listed(capsys, "extract") == [[n, "missing"] for n in names]
    one, two = names[0], names[-1]

    _main("extract", "--work-cache", CACHE, "--unit", one, "--unit", two)
    assert not (project / "data/extract").exists()
    assert len(_complete(project, "extract")) == 2
    assert not [p for p in (project / CACHE / "extract").iterdir() if p.name.startswith(".")]
    states = {n: s for n, s in _listed(capsys, "extract")}
    assert states == {n: "cached" if n in (one, two) else "missing" for n in names}

    _main("extract", "--work-cache", CACHE)
    run = read_json(project / CACHE / "extract/last_run.json")
    assert run == {"units_computed": len(names) - 2, "units_reused": 2}
    assert _tree(project / "data/extract") == _tree(project / "reference/extract")


def test_unknown_unit_is_an_error_naming_the_units(project: Path) -> None:
    shutil.copytree(project / "reference/validate", project / "data/validate")
    first = part_files(project / "data/validate")[0].stem
    with pytest.raises(SystemExit) as err:
        _main("extract", "--work-cache", CACHE, "--unit", first, "--unit", "arXiv_src_0000_001")
    assert str(err.value.code).startswith("extract: no unit named arXiv_src_0000_001; the ")
    assert first in str(err.value.code)
    assert not _complete(project, "extract")  # nothing computed, not even the known one
    with pytest.raises(SystemExit, match="extract: --unit and --list-units need --work-cache"):
        _main("extract", "--unit", first)
    assert not (project / "data/extract").exists()


@pytest.mark.slow  # a stage subprocess
def test_unknown_unit_exits_non_zero(project: Path) -> None:
    """The command a driver runs: exit status 1 and the message on stderr."""
    argv = [*_stages()["validate"], "--work-cache", CACHE, "--unit", "arXiv_src_2301_001"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = str(ROOT / "stages/validate.py")
    run = subprocess.run([sys.executable, script, *argv], cwd=project, env=env, capture_output=True)
    assert run.returncode == 1
    err = run.stderr.decode()
    assert err.startswith("validate: no unit named arXiv_src_2301_001; the ")
    assert ".tar" in err  # validate's units are named by chunk file
    assert not _complete(project, "validate")


def test_normalize_unit_skips_the_global_pass(project: Path, capsys) -> None:
    shutil.copytree(project / "reference/extract", project / "data/extract")
    names = [p.stem for p in part_files(project / "data/extract")]
    one = names[-1]
    _main("normalize", "--work-cache", CACHE, "--unit", one)
    assert not (project / "data/normalize").exists()
    assert len(_complete(project, "normalize")) == 1  # the unit, not a part (a global result)
    assert _listed(capsys, "normalize") == [[n, "cached" if n == one else "missing"] for n in names]
    with pytest.raises(SystemExit, match=r"normalize: no unit named nope; the \d+ units are: "):
        _main("normalize", "--work-cache", CACHE, "--unit", "nope")
    _main("normalize", "--work-cache", CACHE)
    run = read_json(project / CACHE / "normalize/last_run.json")
    assert (run["units_computed"], run["units_reused"]) == (len(names) - 1, 1)
