import dataclasses
from pathlib import Path

import pytest

from arxiv2lm.params import ModelOverrides
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.recipe import resolve_recipe

from .conftest import tiny_params

META = {"tokenizer_sha256": "abc", "splits": {"train": {"tokens": 1000, "docs": 10}}}


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
    run = ckpt.run_dir(tmp_path, "h1" * 32)
    save(run, 100, run_hash="h1" * 32)
    (run / "step_000200").mkdir()  # killed before its marker
    (run / "step_000200" / "meta.json").write_text('{"step": 200, "run_hash": "h1"}')
    (run / "partial-step_000300").mkdir()  # killed during the engine's save
    assert ckpt.latest_complete(run)[0] == 100
    assert ckpt.prepare(tmp_path, "h1" * 32) == run
    assert ckpt.latest_complete(run)[0] == 100
    assert sorted(p.name for p in run.iterdir()) == ["step_000100"]


def test_keep_last_k(tmp_path):
    for step in (100, 200, 300, 400):
        save(tmp_path, step, keep=2)
    assert [s for s, _, _ in ckpt.list_complete(tmp_path)] == [300, 400]


def test_another_runs_checkpoints_are_never_deleted(tmp_path, capsys):
    old, new = "a" * 64, "b" * 64
    save(ckpt.run_dir(tmp_path, old), 100, run_hash=old)
    save(ckpt.run_dir(tmp_path, old), 200, run_hash=old)
    legacy = save(tmp_path, 300, run_hash="legacy")  # the old flat layout: left alone too
    mine = ckpt.prepare(tmp_path, new)
    assert mine == tmp_path / new[:16] and ckpt.latest_complete(mine, new) is None
    assert [s for s, _, _ in ckpt.list_complete(ckpt.run_dir(tmp_path, old))] == [100, 200]
    assert legacy.is_dir()
    assert f"keeping {ckpt.run_dir(tmp_path, old)}" in capsys.readouterr().out
    for step in (100, 200, 300):  # pruning stays inside the run's own folder
        save(mine, step, run_hash=new, keep=1)
    assert [s for s, _, _ in ckpt.list_complete(mine)] == [300]
    assert [s for s, _, _ in ckpt.list_complete(ckpt.run_dir(tmp_path, old))] == [100, 200]


def test_latest_complete_filters_by_run_hash(tmp_path):
    save(tmp_path, 100, run_hash="a")
    save(tmp_path, 200, run_hash="b")
    assert ckpt.latest_complete(tmp_path, "a")[0] == 100
    assert ckpt.latest_complete(tmp_path, "c") is None
    assert ckpt.latest_complete(tmp_path / "missing") is None


def _hash(params, world: int = 1, meta: dict = META, layout=None) -> str:
    return ckpt.run_hash(params, resolve_recipe(params, 400, world), meta, layout)


def test_run_hash_covers_what_defines_the_run_not_how_it_executes():
    p = tiny_params()
    base = _hash(p)
    assert base == _hash(tiny_params())
    execution = dict(log_every=1, keep_checkpoints=9, eval_every=3, checkpoint_every=7,
                     activation_checkpointing=False, activation_checkpoint_every=2,
                     compile=True, threads=2, gpus=0, cpu_processes=2, peak_tflops=312.0,
                     micro_batch=2)  # fmt: skip
    for key, value in execution.items():
        assert base == _hash(dataclasses.replace(p, **{key: value})), key
    # the same global batch split over 1, 2 or 4 processes is the same run
    split = dataclasses.replace(p, micro_batch=2)
    assert base == _hash(dataclasses.replace(p, micro_batch=4), world=2) == _hash(split, world=4)
    defining = dict(lr=1e-2, min_lr=1e-4, warmup_steps=9, max_steps=41, global_batch=16,
                    seed=1, weight_decay=0.0, grad_clip=0.5, optimizer="ds_fused_adam",
                    resume_from="models/x", model=ModelOverrides(n_layer=3, n_head=2,
                    d_model=64, d_ff=128, seq_len=64))  # fmt: skip
    for key, value in defining.items():
        assert base != _hash(dataclasses.replace(p, **{key: value})), key
    assert base != _hash(p, meta={**META, "tokenizer_sha256": "other"})


def test_finalize_without_staging_fails(tmp_path):
    with pytest.raises(FileNotFoundError, match="staging"):
        ckpt.finalize(tmp_path, 5, "h", {})


def test_run_hash_changes_with_the_parameter_layout() -> None:
    p = tiny_params()
    a = _hash(p, layout=[["w", [8, 8]]])
    assert a == _hash(p, layout=[["w", [8, 8]]])
    assert a != _hash(p, layout=[["w_fused", [16, 8]]])
