"""The shard stage's named units: `--unit` encodes only those chunks into the work cache (no
meta, no ledger, no output folder); `--list-units` shows them cached; the full run reuses
them and writes what a run without `--unit` writes."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from arxiv2lm.io import read_json

from .test_shards import rows, write_parts

ROOT = Path(__file__).resolve().parents[2]


def _shard(*flags: str) -> None:
    importlib.import_module("stages.shard").main(["normalize", "tokenizer", "shard", *flags])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_shard_units_by_name(
    trained: tuple[Path, dict],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    write_parts(tmp_path / "normalize/parts", rows(), cuts=(10, 25))
    shutil.copytree(trained[0], tmp_path / "tokenizer")
    names = ["arXiv_src_2301_001", "arXiv_src_2301_002", "arXiv_src_2301_003"]

    _shard("--work-cache", "work", "--unit", names[1])
    assert not (tmp_path / "shard").exists()
    assert len(list((tmp_path / "work/shard").glob("*/*/COMPLETE"))) == 1
    capsys.readouterr()
    _shard("--work-cache", "work", "--list-units")
    assert capsys.readouterr().out == (
        f"{names[0]}\tmissing\n{names[1]}\tcached\n{names[2]}\tmissing\n"
    )
    with pytest.raises(SystemExit, match=f"shard: no unit named x; the 3 units are: {names[0]}, "):
        _shard("--work-cache", "work", "--unit", "x")
    with pytest.raises(SystemExit, match="shard: --unit and --list-units need --work-cache"):
        _shard("--list-units")

    _shard("--work-cache", "work")
    assert read_json(tmp_path / "work/shard/last_run.json") == {
        "units_computed": 2,
        "units_reused": 1,
    }
    reused = _files(tmp_path / "shard")
    shutil.rmtree(tmp_path / "shard")
    _shard()  # no work cache: every unit encoded here
    assert _files(tmp_path / "shard") == reused
