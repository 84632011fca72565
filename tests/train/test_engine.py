import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from arxiv2lm.train.dsconfig import deepspeed_arch_list, deepspeed_config
from arxiv2lm.train.engine import train
from arxiv2lm.train.export import load_export

from .conftest import tiny_params


def test_loss_falls_on_the_tiny_corpus(trained):
    losses = trained["summary"]["losses"]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0
    assert trained["summary"]["val_loss"] < losses[0] - 1.0


def test_generated_config_is_what_the_engine_runs(trained):
    p = trained["params"]
    cfg = deepspeed_config(p, world_size=1, on_gpu=False)
    engine = trained["summary"]["engine"]
    assert engine.zero_optimization_stage() == cfg["zero_optimization"]["stage"] == 2
    assert engine.bfloat16_enabled() is cfg["bf16"]["enabled"] is True
    assert engine.gradient_accumulation_steps() == cfg["gradient_accumulation_steps"] == 1
    assert engine.train_micro_batch_size_per_gpu() == cfg["train_micro_batch_size_per_gpu"] == 8
    assert engine.gradient_clipping() == cfg["gradient_clipping"] == p.grad_clip
    assert isinstance(engine.optimizer.optimizer, torch.optim.AdamW)  # the client optimizer


def test_gpu_config_uses_fused_adam_and_overlap():
    cfg = deepspeed_config(tiny_params(grad_accum=4, micro_batch=2), world_size=8, on_gpu=True)
    assert cfg["optimizer"]["type"] == "Adam"
    assert cfg["zero_optimization"]["overlap_comm"] is True
    assert cfg["train_batch_size"] == 2 * 4 * 8
    with pytest.raises(ValueError, match="zero_stage 3"):
        deepspeed_config(tiny_params(zero_stage=3), 1, False)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("9.0a", "9.0"),
        ("9.0", "9.0"),
        ("8.0;9.0a 10.0+PTX", "8.0;9.0;10.0+PTX"),
        ("9.0a+PTX", "9.0+PTX"),
    ],
)
def test_arch_list_loses_the_suffixes_deepspeed_cannot_parse(image, expected):
    assert deepspeed_arch_list(image) == expected
    # DeepSpeed 0.19.8's JIT builder sorts the entries by this key; "9.0a" raised ValueError
    assert all(int(p.split("+")[0]) >= 0 for cc in expected.split(";") for p in cc.split("."))


def test_compile_switch_keeps_the_export_keys_clean(tiny_data, tmp_path, monkeypatch):
    from arxiv2lm.train.model import GPT

    compiled = []
    monkeypatch.setattr(GPT, "compile_blocks", lambda self: compiled.append(self))
    shard, tok = tiny_data
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    assert tiny_params().compile is False  # off by default (as in params.yaml)
    summary = train(
        tiny_params(compile=True, max_steps=2, checkpoint_every=2, eval_every=2, log_every=2),
        shard,
        tok,
        *dirs,
    )
    assert compiled == [summary["engine"].module]
    model, _ = load_export(dirs[1])
    assert not any("_orig_mod" in k for k in model.state_dict())
    assert set(model.state_dict()) == set(summary["engine"].module.state_dict())


def test_export_reloads_without_deepspeed_and_matches(trained):
    module = trained["summary"]["engine"].module.eval()
    model, config = load_export(trained["export"])
    assert config["steps"] == 40 and config["eos_id"] == 2
    assert (trained["export"] / "tokenizer.model").read_bytes() == (
        trained["tokenizer"] / "tokenizer.model"
    ).read_bytes()
    idx = torch.randint(0, config["vocab_size"], (2, 64))
    with torch.no_grad():
        assert torch.equal(model(idx), module(idx))


def test_dvclive_metrics_and_checkpoints(trained):
    metrics = json.loads((trained["live"] / "metrics.json").read_text())
    assert metrics["step"] == 40 and metrics["phase"] == 1
    assert metrics["val"]["loss"] == pytest.approx(trained["summary"]["val_loss"])
    assert {"lr", "grad_norm", "tokens", "tokens_per_s", "mfu", "loss_spikes"} <= set(metrics)
    assert (trained["live"] / "plots" / "metrics" / "train" / "loss.tsv").is_file()
    assert sorted(p.name for p in trained["ckpt"].glob("step_*")) == ["step_000020", "step_000040"]


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_losses(trained, tmp_path):
    p = trained["params"]
    shard, tok = trained["shard"], trained["tokenizer"]
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    first = train(p, shard, tok, *dirs, stop_at=20)  # "killed" after its step-20 checkpoint
    assert first["steps"] == 20 and not (tmp_path / "export" / "config.json").exists()
    (tmp_path / "ckpt" / "partial-step_000030").mkdir()  # a save the kill interrupted
    second = train(p, shard, tok, *dirs)
    assert second["resumed_from"] == 20 and len(second["losses"]) == 20
    full = trained["summary"]["losses"]
    np.testing.assert_allclose(first["losses"], full[:20], rtol=1e-5)
    # same data, LR and optimizer state: exact on CPU; allow bf16-level noise elsewhere
    np.testing.assert_allclose(second["losses"], full[20:], rtol=1e-4)
    assert second["tokens"] == trained["summary"]["tokens"]


@pytest.mark.slow
def test_a_changed_run_starts_fresh(trained, tmp_path, capsys):
    shard, tok = trained["shard"], trained["tokenizer"]
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    train(tiny_params(max_steps=10, checkpoint_every=10), shard, tok, *dirs)
    again = train(tiny_params(max_steps=10, checkpoint_every=10, lr=1e-3), shard, tok, *dirs)
    assert again["resumed_from"] == 0 and len(again["losses"]) == 10
    assert "another run" in capsys.readouterr().out


@pytest.mark.slow
def _torchrun_worker(shard: Path, out: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env["DS_ACCELERATOR"] = "cpu"
    worker = Path(__file__).with_name("zero2_worker.py")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(worker),
        str(shard.parent),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_two_process_zero2_partitions_the_optimizer(tiny_data, tmp_path):
    shard, _ = tiny_data
    _torchrun_worker(shard, tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    n = ranks[0]["n_params"]
    for r in ranks:
        assert r["world_size"] == 2 and r["zero_stage"] == 2 and r["bf16"]
        # each rank holds about half of the flat fp32 master weights (plus alignment padding)
        assert n / 2 <= r["partition"] < n / 2 + 1024
    assert ranks[0]["losses"] == ranks[1]["losses"]  # the all-reduced global loss
    losses = ranks[0]["losses"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0
    assert (tmp_path / "export" / "model.safetensors").is_file()
    assert {p.name for p in (tmp_path / "ckpt" / "step_000030").iterdir()} >= {
        "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt",
        "COMPLETE",
    }


@pytest.mark.slow
def test_resume_on_another_world_size_keeps_weights_restarts_optimizer(tiny_data, tmp_path):
    shard, tok = tiny_data
    params = tiny_params(max_steps=30, checkpoint_every=30, eval_every=30)
    train(params, shard, tok, tmp_path / "ckpt", tmp_path / "export", tmp_path / "live", stop_at=15)
    proc = _torchrun_worker(shard, tmp_path)  # the same run, now on two processes
    assert "written by 1 process(es), this run has 2" in proc.stdout
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["resumed_from"] for r in ranks] == [15, 15]
    assert len(ranks[0]["losses"]) == 15
    assert ranks[0]["losses"][0] < 5.0  # the trained weights were loaded, not a fresh init


@pytest.mark.slow
def test_sigkilled_stage_resumes_from_the_last_complete_checkpoint(tiny_data, tmp_path):
    import signal
    import time

    import yaml

    shard, tok = tiny_data
    root = Path(__file__).resolve().parents[2]
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["pretrain"].update(
        model={"n_layer": 2, "n_head": 2, "d_model": 64, "d_ff": 128, "seq_len": 64},
        max_steps=120, checkpoint_every=10, eval_every=100, log_every=10, micro_batch=8,
        phases=[{"name": "all", "fraction": 1.0, "seq_len": 64, "mixture": {"low": 1.0}}],
    )  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, str(root / "stages/pretrain.py"), str(shard), str(tok),
           "ckpt", "export", "live"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list((tmp_path / "ckpt").glob("step_000020")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    done = sorted(p.name for p in (tmp_path / "ckpt").glob("step_*"))
    assert done and not (tmp_path / "export").exists()
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = int(done[-1].split("_")[1])
    assert f"resuming from ckpt/{done[-1]} (step {resumed})" in again.stdout
    assert "120 steps" in again.stdout
    assert (tmp_path / "export" / "model.safetensors").is_file()
