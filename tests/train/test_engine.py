import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.dsconfig import client_optimizer, deepspeed_arch_list, deepspeed_config
from arxiv2lm.train.engine import train
from arxiv2lm.train.export import load_export
from arxiv2lm.train.monitor import truncate_history
from arxiv2lm.train.recipe import resolve_recipe
from arxiv2lm.train.supervise import WORKER_ENV

from .conftest import tiny_params


def test_loss_falls_on_the_tiny_corpus(trained):
    losses = trained["summary"]["losses"]
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 1.0
    assert trained["summary"]["val_loss"] < losses[0] - 1.0


# Losses of the session's tiny 40-step CPU run (seeded) at steps 1, 10, 20, 30, 40, and its
# final validation loss; recorded from two identical runs. A change to the model, data order,
# schedule or optimizer moves them: re-record only when that change is intended.
GOLDEN_LOSSES = {1: 5.994305, 10: 4.194708, 20: 3.98088, 30: 3.765904, 40: 3.587699}
GOLDEN_VAL_LOSS = 3.688006


def test_golden_loss_curve(trained):
    losses = trained["summary"]["losses"]
    got = {step: losses[step - 1] for step in GOLDEN_LOSSES}
    assert got == pytest.approx(GOLDEN_LOSSES, rel=1e-3)
    assert trained["summary"]["val_loss"] == pytest.approx(GOLDEN_VAL_LOSS, rel=1e-3)


def test_generated_config_is_what_the_engine_runs(trained):
    p = trained["params"]
    cfg = deepspeed_config(p, trained["summary"]["recipe"], on_gpu=False)
    engine = trained["summary"]["engine"]
    # gradients accumulate and reduce in fp32, in 2e8-element buckets
    assert cfg["data_types"] == {"grad_accum_dtype": "fp32"}
    assert engine.get_data_types()[1] is torch.float32
    assert cfg["zero_optimization"]["reduce_bucket_size"] == 200_000_000
    assert engine.zero_reduce_bucket_size() == engine.zero_allgather_bucket_size() == 200_000_000
    assert engine.zero_optimization_stage() == cfg["zero_optimization"]["stage"] == 2
    assert engine.bfloat16_enabled() is cfg["bf16"]["enabled"] is True
    assert engine.gradient_accumulation_steps() == cfg["gradient_accumulation_steps"] == 1
    assert engine.train_micro_batch_size_per_gpu() == cfg["train_micro_batch_size_per_gpu"] == 8
    assert engine.gradient_clipping() == cfg["gradient_clipping"] == p.grad_clip
    assert isinstance(engine.optimizer.optimizer, torch.optim.AdamW)  # the client optimizer


def test_gpu_config_overlaps_and_picks_the_optimizer():
    p = tiny_params(global_batch=64, micro_batch=2)
    recipe = resolve_recipe(p, 400, 8)
    cfg = deepspeed_config(p, recipe, on_gpu=True)
    assert "optimizer" not in cfg  # torch AdamW (fused) through the client-optimizer path
    assert cfg["zero_optimization"]["overlap_comm"] is True
    assert (cfg["train_batch_size"], cfg["gradient_accumulation_steps"]) == (64, 4)
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))]}]
    assert client_optimizer(p, groups, 1e-3, on_gpu=False).defaults["fused"] is False
    fused = dataclasses.replace(p, optimizer="ds_fused_adam")
    assert deepspeed_config(fused, recipe, on_gpu=True)["optimizer"]["type"] == "Adam"
    assert client_optimizer(fused, groups, 1e-3, on_gpu=True) is None
    with pytest.raises(ValueError, match="zero_stage 3"):
        deepspeed_config(tiny_params(zero_stage=3), recipe, False)


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
    assert {"lr", "grad_norm", "tokens", "loss_spikes"} <= set(metrics)
    # timings differ on every rerun: kept out of DVC's metrics and plots, in timing.tsv
    assert not {"tokens_per_s", "mfu"} & set(metrics)
    assert not list((trained["live"] / "plots").rglob("tokens_per_s.tsv"))
    with (trained["live"] / "timing.tsv").open() as fh:
        timing = list(csv.DictReader(fh, delimiter="\t"))
    assert [int(r["step"]) for r in timing] == list(range(10, 41, 10))  # log_every 10
    assert all(float(r["tokens_per_s"]) > 0 and r["mfu"] == "" for r in timing)  # no CPU peak
    assert 0 < float(timing[0]["wall_s"]) < float(timing[-1]["wall_s"])
    assert metrics["tokens"] == trained["summary"]["tokens"]
    # tokens per bucket over both phases add up to every token trained on
    assert sum(b["tokens"] for b in metrics["data"].values()) == metrics["tokens"]
    assert all(b["epochs"] > 0 for b in metrics["data"].values())
    assert (trained["live"] / "plots" / "metrics" / "train" / "loss.tsv").is_file()
    run = trained["summary"]["run_dir"]
    run_hash = json.loads((trained["export"] / "config.json").read_text())["run_hash"]
    assert run == trained["ckpt"] / run_hash[:16]
    assert sorted(p.name for p in run.glob("step_*")) == ["step_000020", "step_000040"]
    s = trained["summary"]
    assert s["threads"] == 1 and s["tokens_per_s_avg"] > 0


def test_a_rerun_at_the_end_exports_the_same_model(trained, tmp_path):
    # `dvc repro --force pretrain` with the same inputs: nothing to train, the export
    # (and so dvc.lock) must not change, val loss included (it is not recomputed)
    p, shard, tok = trained["params"], trained["shard"], trained["tokenizer"]
    again = train(p, shard, tok, trained["ckpt"], tmp_path / "export", tmp_path / "live")
    assert again["resumed_from"] == 40 and again["losses"] == []
    for name in ("config.json", "model.safetensors"):
        assert (tmp_path / "export" / name).read_bytes() == (trained["export"] / name).read_bytes()


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_losses_and_history(trained, tmp_path):
    p = trained["params"]
    shard, tok = trained["shard"], trained["tokenizer"]
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    first = train(p, shard, tok, *dirs, stop_at=24)  # "killed" after logging step 24 ...
    assert first["steps"] == 24 and not (tmp_path / "export" / "config.json").exists()
    run = first["run_dir"]
    shutil.rmtree(run / "step_000024")  # ... but before its step-24 checkpoint was sealed
    (run / "partial-step_000030").mkdir()  # a save the kill interrupted
    second = train(p, shard, tok, *dirs)
    assert second["resumed_from"] == 20 and len(second["losses"]) == 20
    full = trained["summary"]["losses"]
    np.testing.assert_allclose(first["losses"], full[:24], rtol=1e-5)
    # same data, LR and optimizer state: exact on CPU; allow bf16-level noise elsewhere
    np.testing.assert_allclose(second["losses"], full[20:], rtol=1e-4)
    assert second["tokens"] == trained["summary"]["tokens"]
    # DVCLive's history has each step once: rows 21-24 of the killed run were dropped
    for name in ("train/loss.tsv", "tokens.tsv"):
        rows = (tmp_path / "live/plots/metrics" / name).read_text().splitlines()[1:]
        steps = [int(r.split("\t")[0]) for r in rows]
        assert steps == sorted(set(steps)) == [10, 20, 30, 40], name


def test_truncate_history_keeps_rows_up_to_the_step(tmp_path):
    tsv = tmp_path / "plots/metrics/train/loss.tsv"
    tsv.parent.mkdir(parents=True)
    tsv.write_text("step\tloss\n10\t3.0\n20\t2.0\n24\t1.9\n")
    assert truncate_history(tmp_path, 20) == 1
    assert tsv.read_text() == "step\tloss\n10\t3.0\n20\t2.0\n"


@pytest.mark.slow
def test_a_changed_run_gets_its_own_folder_and_keeps_the_old_one(trained, tmp_path, capsys):
    shard, tok = trained["shard"], trained["tokenizer"]
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    old = train(tiny_params(max_steps=10, checkpoint_every=10), shard, tok, *dirs)
    again = train(tiny_params(max_steps=10, checkpoint_every=10, lr=1e-3), shard, tok, *dirs)
    assert again["resumed_from"] == 0 and len(again["losses"]) == 10
    assert again["run_dir"] != old["run_dir"]
    assert ckpt.latest_complete(old["run_dir"])[0] == 10  # never deleted
    assert f"keeping {old['run_dir']}" in capsys.readouterr().out
    # executing the first run differently (threads, activation checkpointing, cadence)
    # continues it: nothing left to train
    same = tiny_params(max_steps=10, checkpoint_every=5, threads=2, activation_checkpointing=False)
    back = train(same, shard, tok, *dirs)
    assert back["run_dir"] == old["run_dir"] and back["resumed_from"] == 10


@pytest.mark.slow
def test_resume_from_starts_a_new_run_from_old_weights(trained, tmp_path):
    shard, tok = trained["shard"], trained["tokenizer"]
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    fresh_loss = trained["summary"]["losses"][0]
    for source in (trained["summary"]["run_dir"] / "step_000040", trained["export"]):
        p = tiny_params(max_steps=2, checkpoint_every=2, eval_every=2, resume_from=str(source))
        s = train(p, shard, tok, *dirs)
        assert s["resumed_from"] == 0 and s["losses"][0] < fresh_loss - 1.0, source
        # and the optimizer's fp32 master copy holds them too: the next step does not undo it
        assert s["losses"][1] < fresh_loss - 1.0, source
    with pytest.raises(ValueError, match="neither a complete checkpoint nor an export"):
        train(tiny_params(max_steps=2, resume_from=str(tmp_path)), shard, tok, *dirs)


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


@pytest.mark.slow
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
    (run,) = [d for d in (tmp_path / "ckpt").iterdir() if d.is_dir()]
    assert {p.name for p in (run / "step_000030").iterdir()} >= {
        "bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt",
        "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt",
        "COMPLETE",
    }


@pytest.mark.slow
def test_resume_on_another_world_size_continues_the_same_run(tiny_data, tmp_path):
    shard, tok = tiny_data
    params = tiny_params(max_steps=30, checkpoint_every=30, eval_every=30)
    one = train(params, shard, tok, tmp_path / "ckpt", tmp_path / "export", tmp_path / "live",
                stop_at=15)  # fmt: skip
    proc = _torchrun_worker(shard, tmp_path)  # the same run (same hash), now on two processes
    assert "written by 1 process(es), this run has 2" in proc.stdout
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["resumed_from"] for r in ranks] == [15, 15]
    assert len(ranks[0]["losses"]) == 15
    assert ranks[0]["losses"][0] < 5.0  # the trained weights were loaded, not a fresh init
    assert [d for d in (tmp_path / "ckpt").iterdir() if d.is_dir()] == [one["run_dir"]]


def _stage_project(tmp_path: Path, **pretrain: object) -> list[str]:
    """params.yaml for a tiny stage run in tmp_path; returns the stage command."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    params = yaml.safe_load((root / "params.yaml").read_text())
    pretrain = {"micro_batch": 8, **pretrain}
    params["pretrain"].update(
        model={"n_layer": 2, "n_head": 2, "d_model": 64, "d_ff": 128, "seq_len": 64},
        max_steps=60, checkpoint_every=10, eval_every=100, log_every=10,
        global_batch=8, threads=1,
        phases=[{"name": "all", "fraction": 1.0, "seq_len": 64, "mixture": {"low": 1.0}}],
        **pretrain,
    )  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return [sys.executable, str(root / "stages/pretrain.py")]


def _stage_env() -> dict[str, str]:
    drop = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", WORKER_ENV)
    return {k: v for k, v in os.environ.items() if k not in drop}


def _descendants(pid: int) -> list[int]:
    """Every process whose parent chain reaches `pid` (from /proc)."""
    parents = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parents[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, frontier = [], [pid]
    while frontier:
        kids = [c for c, p in parents.items() if p in frontier]
        out += kids
        frontier = kids
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _kill_at_checkpoint(proc: subprocess.Popen, ckpt_dir: Path, step: str) -> list[int]:
    deadline = time.time() + 240
    while not list(ckpt_dir.glob(f"*/{step}")) and time.time() < deadline:
        assert proc.poll() is None, "the stage ended before its checkpoint"
        time.sleep(0.2)
    workers = _descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    return workers


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_sigkilled_stage_takes_its_workers_and_resumes(tiny_data, tmp_path, processes):
    """The stage supervises its training child (or torchrun and its workers); SIGKILL of the
    stage kills them all (PR_SET_PDEATHSIG); the rerun resumes from the last checkpoint."""
    shard, tok = tiny_data
    cmd = _stage_project(tmp_path, cpu_processes=processes, micro_batch=8 // processes)
    cmd += [str(shard), str(tok), "ckpt", "export", "live"]
    with (tmp_path / "first.log").open("w") as log:  # a pipe nobody reads could fill and block
        proc = subprocess.Popen(cmd, cwd=tmp_path, env=_stage_env(), stdout=log, stderr=log)
    workers = _kill_at_checkpoint(proc, tmp_path / "ckpt", "step_000020")
    assert len(workers) >= processes  # the child (and torchrun's workers)
    deadline = time.time() + 10
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _alive(w)], "training processes outlived the stage"
    (run,) = [d for d in (tmp_path / "ckpt").iterdir() if d.is_dir()]
    done = sorted(p.name for p in run.glob("step_*"))
    assert done and not (tmp_path / "export").exists()
    again = subprocess.run(cmd, cwd=tmp_path, env=_stage_env(), capture_output=True, text=True,
                           timeout=400)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    resumed = int(done[-1].split("_")[1])
    assert f"resuming from {run.relative_to(tmp_path) / done[-1]} (step {resumed})" in again.stdout
    assert "60 steps" in again.stdout
    assert "tok/s on average" in again.stdout and "in the last window" in again.stdout
    assert (tmp_path / "export" / "model.safetensors").is_file()


def test_threads_default_to_the_cores_shared_among_local_processes(monkeypatch):
    from arxiv2lm.params import resolve_workers
    from arxiv2lm.train.monitor import configure_threads

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
        assert configure_threads(tiny_params(threads=0)) == max(1, resolve_workers(0) // 2)
        assert torch.get_num_threads() == max(1, resolve_workers(0) // 2)
        assert configure_threads(tiny_params(threads=3)) == 3 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
