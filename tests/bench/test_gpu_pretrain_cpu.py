"""`bench/gpu_pretrain.py` on a CPU: one row through the stage's engine pieces, its table."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

from arxiv2lm.params import ModelOverrides
from arxiv2lm.train.model import count_params, resolve_model_config
from arxiv2lm.train.recipe import GiB, estimate_memory, resolve_recipe
from bench.gpu_pretrain import bench_params, best_args, table

ROOT = Path(__file__).resolve().parents[2]
ROW = dict(preset="tiny", vocab=512, seq_len=32, micro_batch=2, steps=2, warmup=1)


@pytest.fixture(scope="module")
def row(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "rows.jsonl"
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in ROW.items()]
    # One thread: on a busy shared box idle spinning intra-op threads make steps 40x slower.
    argv += ["--threads=1", "--ckpt-every=2", "--label=smoke", f"--out={out}"]
    env = {**os.environ, "DS_ACCELERATOR": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_pretrain.py"), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert out.read_text() == line + "\n"  # --out appends the same line
    return json.loads(line)


@pytest.mark.slow  # `row` runs the bench script as a subprocess
def test_one_row_through_the_engine_on_cpu(row):
    assert row["tokens_per_step"] == ROW["micro_batch"] * ROW["seq_len"] == 64
    assert row["tokens_per_s"] > 0
    assert row["tokens_per_s"] == pytest.approx(64 / row["step_s"], rel=0.01)
    assert row["mfu"] is None and row["peak_tflops"] is None  # no known peak on a CPU
    assert row["peak_alloc_gib"] is None and row["peak_reserved_gib"] is None
    assert row["device"] == "cpu"
    assert row["torch"] == torch.__version__
    assert row["deepspeed"] == version("deepspeed")
    # the stage's engine: ZeRO-2, bf16, fp32 accumulation, one micro-step per optimizer step
    assert (row["zero_stage"], row["bf16"], row["grad_accum_dtype"]) == (2, True, "float32")
    assert (row["micro_batch"], row["world_size"], row["threads"]) == (2, 1, 1)
    assert (row["optimizer"], row["optimizer_class"]) == ("torch_adamw", "AdamW")
    assert (row["ckpt_every"], row["compile"]) == (2, False)
    assert row["n_params"] == count_params(resolve_model_config("tiny", ModelOverrides(), 512))
    # random tokens over the whole vocab: the untrained model's loss is about ln(vocab)
    assert abs(row["first_loss"] - math.log(512)) < 0.5
    assert math.isfinite(row["last_loss"])


@pytest.mark.slow  # `row` runs the bench script as a subprocess
def test_the_estimate_is_the_stage_estimate_for_the_same_recipe(row):
    args = argparse.Namespace(**ROW, threads=1, optimizer="torch_adamw", ckpt_every=2)
    args.compile, args.peak_tflops = False, 0.0
    params = bench_params(args, on_gpu=False, world=1)
    recipe = resolve_recipe(params, 512, 1)
    assert (recipe.global_batch, recipe.grad_accum, recipe.max_steps) == (2, 1, 3)
    assert recipe.phases[-1].seq_len == 32
    estimate = estimate_memory(recipe, 2, True, 2)["total"]
    assert row["estimate_gib"] == round(estimate / GiB, 2) > 0


@pytest.mark.slow  # `row` runs the bench script as a subprocess
def test_table_and_the_fastest_row_to_compile(row):
    text = table([row])
    assert "cpu, torch " in text and "tiny (0.9M params, vocab 512)" in text
    line = text.splitlines()[-1]
    assert line.startswith("| smoke | torch_adamw (AdamW) | 2 | no | 2 | ")
    assert "| – | – | – |" in line  # MFU and peak memory unknown on a CPU
    faster = {**row, "tokens_per_s": row["tokens_per_s"] * 2, "ckpt_every": 0}
    compiled = {**row, "tokens_per_s": row["tokens_per_s"] * 3, "compile": True}
    assert best_args([row, faster, compiled]) == (
        "--optimizer torch_adamw --ckpt-every 0 --micro-batch 2"
    )
    with pytest.raises(ValueError, match="no uncompiled row"):
        best_args([compiled])
