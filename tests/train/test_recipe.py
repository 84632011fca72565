"""Presets are whole recipes: model, batch, schedule, token budget, curriculum, tokenizer."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from arxiv2lm.params import ParamsError, Phase, load_params, parse_section
from arxiv2lm.train.recipe import RECIPES, GiB, describe, estimate_memory, resolve_recipe

ROOT = Path(__file__).resolve().parents[2]


def shipped(**changes: object):
    return dataclasses.replace(load_params("pretrain", ROOT / "params.yaml"), **changes)


def paper_params():
    """params.yaml with configs/paper-1.36b.yaml's keys applied, through the strict loader."""
    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    over = yaml.safe_load((ROOT / "configs/paper-1.36b.yaml").read_text())
    return {s: parse_section(s, base[s] | over.get(s, {})) for s in base}


def test_the_paper_recipe_is_the_papers_run():
    p = paper_params()
    assert p["tokenizer"].vocab_size == RECIPES["paper-1.36b"].vocab_size == 102400
    assert p["evaluate"].seq_len is None  # the model's context
    r = resolve_recipe(p["pretrain"], p["tokenizer"].vocab_size, p["pretrain"].gpus)
    assert (r.model.n_layer, r.model.d_model, r.model.n_head, r.model.d_ff) == (24, 2048, 16, 5504)
    assert r.model.seq_len == r.phases[-1].seq_len == 2048  # trains at its context
    assert r.tokens_per_step() == 512 * 2048 == 1_048_576  # ~1M tokens per step
    assert (r.micro_batch, r.grad_accum, r.world_size) == (8, 32, 2)
    assert (r.lr, r.min_lr, r.warmup_steps) == (3e-4, 3e-5, 2000)  # cosine to 10%
    assert abs(r.total_tokens() - 52e9) / 52e9 < 1e-3
    assert r.max_steps == sum(r.phase_steps())
    # phases are shares of the tokens: 2% at seq 512 then 98% at 2048
    assert abs(r.phase_steps()[0] * r.tokens_per_step(0) / r.total_tokens() - 0.02) < 1e-3


def test_every_field_of_a_preset_can_be_overridden():
    phases = [Phase("only", 1.0, 256, {})]
    r = resolve_recipe(
        shipped(preset="paper-1.36b", lr=1e-4, min_lr=1e-5, warmup_steps=10, global_batch=64,
                micro_batch=4, train_tokens=64 * 256 * 100, phases=phases),
        vocab_size=50000, world_size=2,
    )  # fmt: skip
    assert (r.lr, r.min_lr, r.warmup_steps, r.global_batch, r.micro_batch) == (
        1e-4, 1e-5, 10, 64, 4,
    )  # fmt: skip
    assert (r.grad_accum, r.max_steps, r.phases) == (8, 100, phases)
    assert resolve_recipe(shipped(max_steps=7), 4096, 1).max_steps == 7  # over the budget


def test_the_tiny_recipe_is_the_samples():
    r = resolve_recipe(shipped(), 4096, 1)
    assert r.preset == "tiny" and r.tokens_per_step() == 16 * 128
    assert r.phase_steps() == [54, 241]  # 10% / 90% of 550k tokens at seq 64 / 128
    assert r.phase_at(53)[0] == 0 and r.phase_at(54)[:1] == (1,) and r.phase_at(54)[2] == 54
    assert r.phase_at(10_000)[0] == 1  # past the end: the last phase


def test_micro_batch_follows_the_process_count_unless_set():
    assert resolve_recipe(shipped(), 4096, 2).micro_batch == 8  # 16 rows over 2 processes
    with pytest.raises(ParamsError, match=r"global_batch 16 is not a multiple of micro_batch 16"):
        resolve_recipe(shipped(micro_batch=16), 4096, 2)


def test_bad_recipes_name_the_key():
    with pytest.raises(ParamsError, match="unknown preset 'huge'"):
        resolve_recipe(shipped(preset="huge"), 4096, 1)
    with pytest.raises(ParamsError, match="phase seq_len 256 exceeds the model's 128"):
        resolve_recipe(shipped(phases=[Phase("a", 1.0, 256, {})]), 4096, 1)
    with pytest.raises(ParamsError, match="min_lr 0.01 is above lr 0.003"):
        resolve_recipe(shipped(min_lr=1e-2), 4096, 1)


def test_memory_estimate_is_partitioned_by_zero2_and_shrinks_with_checkpointing():
    p = paper_params()["pretrain"]
    one = resolve_recipe(p, 102400, 1)
    two = resolve_recipe(p, 102400, 2)
    m1, m2 = (estimate_memory(r, 2, True, 1) for r in (one, two))
    assert m1["weights"] == m2["weights"] == 2 * m1["optimizer"] / 12  # bf16 vs 12 bytes/param
    assert m2["optimizer"] == m1["optimizer"] / 2 and m2["grads"] == m1["grads"] / 2
    assert estimate_memory(two, 2, False, 1)["activations"] > m2["activations"]
    assert 10 * GiB < m2["total"] < 40 * GiB  # fits an 80 GB A100 with room for micro_batch 16
    assert "GiB per GPU" in describe(two, m2, "GPU")


@pytest.mark.slow  # runs the pretrain stage as a subprocess
def test_stage_prints_the_resolved_recipe_before_training(tmp_path):
    """`--recipe` prints it and stops; the same lines open every pretrain run."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["pretrain"] |= {"preset": "paper-1.36b", "gpus": 2}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    shard = tmp_path / "shard"
    shard.mkdir()
    (shard / "meta.json").write_text(json.dumps({"vocab_size": 102400}))
    cmd = [sys.executable, str(ROOT / "stages/pretrain.py"), "--recipe", str(shard),
           "tok", "ckpt", "export", "live"]  # fmt: skip
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "recipe 'paper-1.36b'" in out.stdout
    assert "1,048,576 tokens per step" in out.stdout
    assert "micro_batch 8 x grad_accum 32 x 2 process(es)" in out.stdout
    assert "52,567 steps" in out.stdout and "(52.00B)" in out.stdout
    assert "GiB per GPU" in out.stdout
    assert not (tmp_path / "ckpt").exists()  # nothing trained, nothing locked
