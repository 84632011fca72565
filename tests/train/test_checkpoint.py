import dataclasses
from pathlib import Path

import pytest

from arxiv2lm.params import ModelOverrides
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.model import resolve_model_config

from .conftest import tiny_params

META = {"tokenizer_sha256": "abc", "splits": {"train": {"tokens": 1000, "docs": 10}}}
CFG = resolve_model_config("tiny", ModelOverrides(), vocab_size=400)


def save(ckpt_dir: Path, step: int, run_hash: str = "h1", keep: int = 0) -> Path:
    staging = ckpt_dir / ckpt.partial_tag(step)
    staging.mkdir(parents=True)
    (staging / "weights.pt").write_bytes(b"w")  # stands in for the engine's files
    return ckpt.finalize(ckpt_dir, step, run_hash, {"state": {"tokens": step}}, keep=keep)


def test_finalize_writes_marker_and_meta(tmp_path):
    path = save(tmp_path, 100)
    assert path.name == "step_000100"
    assert (path / "COMPLETE").is_file() and (path / "weights.pt").is_file()
    assert not (tmp_path / "partial-step_000100").exists()
    step, found, meta = ckpt.latest_complete(tmp_path)
    assert (step, found, meta["run_hash"], meta["state"]["tokens"]) == (100, path, "h1", 100)


def test_half_written_checkpoints_are_ignored_and_cleaned(tmp_path):
    save(tmp_path, 100)
    (tmp_path / "step_000200").mkdir()  # killed before its marker
    (tmp_path / "step_000200" / "meta.json").write_text('{"step": 200, "run_hash": "h1"}')
    (tmp_path / "partial-step_000300").mkdir()  # killed during the engine's save
    assert ckpt.latest_complete(tmp_path)[0] == 100
    resume = ckpt.prepare(tmp_path, "h1")
    assert resume[0] == 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_000100"]


def test_keep_last_k(tmp_path):
    for step in (100, 200, 300, 400):
        save(tmp_path, step, keep=2)
    assert [s for s, _, _ in ckpt.list_complete(tmp_path)] == [300, 400]


def test_other_runs_checkpoints_are_removed_so_the_run_starts_fresh(tmp_path, capsys):
    save(tmp_path, 100, run_hash="old")
    save(tmp_path, 200, run_hash="old")
    assert ckpt.prepare(tmp_path, "new") is None
    assert ckpt.list_complete(tmp_path) == []
    assert "another run" in capsys.readouterr().out


def test_latest_complete_filters_by_run_hash(tmp_path):
    save(tmp_path, 100, run_hash="a")
    save(tmp_path, 200, run_hash="b")
    assert ckpt.latest_complete(tmp_path, "a")[0] == 100
    assert ckpt.latest_complete(tmp_path, "c") is None
    assert ckpt.latest_complete(tmp_path / "missing") is None


def test_run_hash_tracks_training_inputs_not_logging():
    p = tiny_params()
    base = ckpt.run_hash(p, CFG, META)
    assert base == ckpt.run_hash(tiny_params(), CFG, META)
    assert base == ckpt.run_hash(dataclasses.replace(p, log_every=1, keep_checkpoints=9), CFG, META)
    assert base != ckpt.run_hash(dataclasses.replace(p, lr=1e-2), CFG, META)
    assert base != ckpt.run_hash(p, dataclasses.replace(CFG, n_layer=5), META)
    assert base != ckpt.run_hash(p, CFG, {**META, "tokenizer_sha256": "other"})


def test_finalize_without_staging_fails(tmp_path):
    with pytest.raises(FileNotFoundError, match="staging"):
        ckpt.finalize(tmp_path, 5, "h", {})


def test_run_hash_changes_with_the_parameter_layout() -> None:
    from arxiv2lm.train.model import ModelConfig

    from .conftest import tiny_params

    cfg = ModelConfig(vocab_size=64, n_layer=1, n_head=1, d_model=8, d_ff=16, seq_len=8)
    meta = {"tokenizer_sha256": "t", "splits": {"train": {"tokens": 10, "docs": 1}}}
    a = ckpt.run_hash(tiny_params(), cfg, meta, [["w", [8, 8]]])
    assert a == ckpt.run_hash(tiny_params(), cfg, meta, [["w", [8, 8]]])
    assert a != ckpt.run_hash(tiny_params(), cfg, meta, [["w_fused", [16, 8]]])
    assert a == ckpt.run_hash(tiny_params(log_every=3, compile=True), cfg, meta, [["w", [8, 8]]])
    assert a != ckpt.run_hash(tiny_params(lr=1.0), cfg, meta, [["w", [8, 8]]])
