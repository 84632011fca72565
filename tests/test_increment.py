"""A new month costs only that month, through shard: on a local mirror that gains one chunk,
validate, extract, normalize and shard each compute exactly the new chunk's unit, the pinned
tokenizer is kept (not retrained), and every older shard unit keeps its bytes."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
import yaml

from arxiv2lm.io import read_json
from arxiv2lm.sources.manifest import MANIFEST, read_manifest
from arxiv2lm.sources.sample import SNAPSHOT, generate_sample
from bench.increment import latest, mirror

ROOT = Path(__file__).resolve().parents[1]
DATA_STAGES = ["ingest", "filter", "validate", "extract", "normalize", "tokenizer", "shard"]
WORK = ".arxiv2lm/work"

pytestmark = pytest.mark.slow


def _commands() -> dict[str, list[str]]:
    """Each data stage's argv as dvc.yaml runs it (`python stages/<name>.py ...`)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: stages[name]["cmd"].split()[2:] for name in DATA_STAGES}


def _set(project: Path, section: str, **changes: object) -> None:
    doc = yaml.safe_load((project / "params.yaml").read_text())
    doc[section].update(changes)
    (project / "params.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _run_all(project: Path) -> dict[str, dict]:
    """Run the data stages in order; return each unit stage's record of what it did."""
    for name, argv in _commands().items():
        importlib.import_module(f"stages.{name}").main(argv)
    return {
        name: read_json(project / WORK / name / "last_run.json")
        for name in ("validate", "extract", "normalize", "shard")
    }


def test_a_new_month_computes_only_its_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    full = tmp_path / "full"
    generate_sample(full, seed=20260101, n_papers=120, papers_per_chunk=20)
    local, project = tmp_path / "mirror", tmp_path / "project"
    mirror(full, local, without_last=True)
    project.mkdir()
    shutil.copy(ROOT / "params.yaml", project / "params.yaml")
    _set(project, "ingest", source="local", local_dir=str(local), snapshot=str(local / SNAPSHOT))
    _set(project, "tokenizer", vocab_size=1024, n_mined_symbols=40)
    monkeypatch.chdir(project)

    _run_all(project)  # the first month(s), tokenizer trained
    pinned = tmp_path / "tokenizer-pinned.model"
    shutil.copy(project / "data/tokenizer/tokenizer.model", pinned)
    _set(project, "tokenizer", reuse=str(pinned))
    again = _run_all(project)  # pinning: the same model bytes, so nothing is encoded again
    n_old = len(read_manifest(local / MANIFEST))
    assert again["shard"] == {"units_computed": 0, "units_reused": n_old}
    old_units = {p.name: p.read_bytes() for p in (project / "data/shard/units").iterdir()}

    mirror(full, local, without_last=False)  # the new month arrives
    run = _run_all(project)
    n = len(read_manifest(local / MANIFEST))
    assert (run["validate"]["units_computed"], run["validate"]["units_reused"]) == (1, n - 1)
    assert (run["extract"]["units_computed"], run["extract"]["units_reused"]) == (1, n - 1)
    assert run["normalize"] == {
        "units_computed": 1, "units_reused": n - 1, "parts_written": 1, "parts_reused": n - 1
    }  # fmt: skip
    assert run["shard"] == {"units_computed": 1, "units_reused": n - 1}
    assert (project / "data/tokenizer/tokenizer.model").read_bytes() == pinned.read_bytes()
    assert read_json(project / "data/tokenizer/stats.json")["pinned"] == str(pinned)
    new_units = {p.name: p.read_bytes() for p in (project / "data/shard/units").iterdir()}
    assert {k: new_units[k] for k in old_units} == old_units
    added = sorted(set(new_units) - set(old_units))
    stem = Path(latest(read_manifest(local / MANIFEST)).filename).stem
    assert {a.split(".")[0] for a in added} == {stem}
