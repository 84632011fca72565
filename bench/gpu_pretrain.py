"""One row of the pretrain throughput table: a recipe on one device through the stage's engine.

    python bench/gpu_pretrain.py --ckpt-every 1 --optimizer ds_fused_adam --out rows.jsonl
    DS_ACCELERATOR=cpu python bench/gpu_pretrain.py --preset tiny --vocab 512 --seq-len 32 \\
        --micro-batch 2 --steps 2 --warmup 1

`bash bench/gpu_pretrain.sh` runs the rows of the issue (paper-1.36b, seq 2048, one GPU) and
prints the table. Each row is its own process, so its peak memory is its own.

The path is the pretrain stage's: `params.yaml`'s pretrain section with the row's switches,
`configure_threads`, `_init_distributed`, `resolve_recipe`, `build_engine` (ZeRO-2, bf16,
fp32 gradient accumulation, the chosen optimizer) and `train_step`, with one micro-batch per
optimizer step (`global_batch` = micro-batch x processes) of random tokens over the vocab
instead of shards. It prints one JSON line: the mean step time over `--steps` after
`--warmup` (the first steps include compiling), tokens/s over all processes, MFU
(`flops_per_token` against `peak_flops` of the device's name or `--peak-tflops`; null on a
CPU without it), the peak memory the CUDA allocator handed out (null on a CPU) beside
`estimate_memory`'s figure, and the versions and device it ran on.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from arxiv2lm.params import PretrainParams

ROOT = Path(__file__).resolve().parents[1]


class RandomTokens:
    """Stands in for `WindowSampler`: `batch(step)` is (rows, seq_len + 1) int64 tokens."""

    def __init__(self, rows: int, seq_len: int, vocab_size: int, seed: int) -> None:
        self.shape = (rows, seq_len + 1)
        self.vocab_size = vocab_size
        self.seed = seed

    def batch(self, step: int) -> np.ndarray:
        rng = np.random.default_rng((self.seed, step))
        return rng.integers(0, self.vocab_size, self.shape, dtype=np.int64)


def bench_params(args: argparse.Namespace, on_gpu: bool, world: int) -> PretrainParams:
    """`params.yaml`'s pretrain section with this row's recipe, switches and step count."""
    from arxiv2lm.params import ModelOverrides, Phase, load_params

    return dataclasses.replace(
        load_params("pretrain", ROOT / "params.yaml"),
        preset=args.preset,
        model=ModelOverrides(),
        gpus=int(on_gpu),
        cpu_processes=1,
        threads=args.threads,
        micro_batch=args.micro_batch,
        global_batch=args.micro_batch * world,  # one micro-step per optimizer step
        max_steps=args.warmup + args.steps,
        zero_stage=2,
        bf16=True,
        optimizer=args.optimizer,
        activation_checkpointing=args.ckpt_every > 0,
        activation_checkpoint_every=max(1, args.ckpt_every),
        compile=args.compile,
        peak_tflops=args.peak_tflops,
        phases=[Phase("bench", 1.0, args.seq_len, {})],
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Imported here: `--report` and `--best` (on the device's clock) need none of it.
    import torch

    from arxiv2lm.train.engine import Run, _init_distributed, build_engine, train_step
    from arxiv2lm.train.model import flops_per_token
    from arxiv2lm.train.monitor import attention_backend, configure_threads, peak_flops
    from arxiv2lm.train.recipe import GiB, estimate_memory, resolve_recipe

    on_gpu = torch.cuda.is_available()
    deepspeed = _init_distributed(on_gpu)
    dist = deepspeed.comm
    world, rank = dist.get_world_size(), dist.get_rank()
    params = bench_params(args, on_gpu, world)
    threads = configure_threads(params)
    recipe = resolve_recipe(params, args.vocab, world)
    t0 = time.perf_counter()
    engine, _ = build_engine(params, recipe, on_gpu, deepspeed)
    build_s = time.perf_counter() - t0
    # No shards: the one phase's sampler is preset, so `Run.sampler` never opens a ShardSet.
    sampler = RandomTokens(recipe.global_batch // world, args.seq_len, args.vocab, rank)
    run_ = Run(
        params=params,
        recipe=recipe,
        engine=engine,
        dist=dist,
        on_gpu=on_gpu,
        train_set=None,
        val_set=None,
        run_dir=Path(),
        run_hash="bench",
        rank=rank,
        world=world,
        state={"tokens": 0, "loss_spikes": 0, "recent": []},
        samplers={(0, 0): sampler},  # (phase, data era)
    )
    step_s, losses = [], []
    engine.train()
    with attention_backend(on_gpu):
        for step in range(recipe.max_steps):
            if on_gpu:
                torch.cuda.synchronize()
            t = time.perf_counter()
            loss, _, _ = train_step(run_, step)  # ends with .item(): synchronised
            step_s.append(time.perf_counter() - t)
            losses.append(loss)
    mean_s = sum(step_s[args.warmup :]) / args.steps
    tokens_per_step = recipe.tokens_per_step()
    tok_s = tokens_per_step / mean_s
    device = torch.cuda.get_device_name() if on_gpu else "cpu"
    peak = peak_flops(device if on_gpu else None, params.peak_tflops)
    mfu = tok_s * flops_per_token(recipe.model, args.seq_len) / (peak * world) if peak else None
    estimate = estimate_memory(
        recipe,
        params.zero_stage,
        params.activation_checkpointing,
        params.activation_checkpoint_every,
    )
    return {
        "label": args.label,
        "preset": recipe.preset,
        "n_params": engine.module.num_params(),
        "vocab": recipe.model.vocab_size,
        "seq_len": args.seq_len,
        "micro_batch": recipe.micro_batch,
        "world_size": world,
        "tokens_per_step": tokens_per_step,
        "optimizer": params.optimizer,
        "optimizer_class": type(engine.optimizer.optimizer).__name__,
        "ckpt_every": args.ckpt_every,
        "compile": params.compile,
        "zero_stage": engine.zero_optimization_stage(),
        "bf16": engine.bfloat16_enabled(),
        "grad_accum_dtype": str(engine.get_data_types()[1]).removeprefix("torch."),
        "threads": threads,
        "step_s": round(mean_s, 4),
        "first_step_s": round(step_s[0], 2),
        "build_s": round(build_s, 1),
        "tokens_per_s": round(tok_s, 1),
        "mfu": round(mfu, 4) if mfu is not None else None,
        "peak_tflops": peak / 1e12 if peak else None,
        "peak_alloc_gib": round(torch.cuda.max_memory_allocated() / GiB, 2) if on_gpu else None,
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GiB, 2) if on_gpu else None,
        "estimate_gib": round(estimate["total"] / GiB, 2),
        "first_loss": round(losses[0], 3),
        "last_loss": round(losses[-1], 3),
        "device": device,
        "torch": torch.__version__,
        "deepspeed": deepspeed.__version__,
    }


def _cell(value: object, fmt: str = "") -> str:
    return "–" if value is None else format(value, fmt)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table under a line naming the machine and the setup."""
    head = (
        "| row | optimizer | ckpt every | compile | micro-batch | step s | tokens/s | MFU "
        "| peak alloc GiB | peak reserved GiB | estimate GiB | first step s | loss first→last |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = [
            r["label"],
            f"{r['optimizer']} ({r['optimizer_class']})",
            r["ckpt_every"] or "off",
            "yes" if r["compile"] else "no",
            r["micro_batch"],
            r["step_s"],
            f"{r['tokens_per_s']:,.0f}",
            _cell(r["mfu"], ".1%"),
            _cell(r["peak_alloc_gib"]),
            _cell(r["peak_reserved_gib"]),
            r["estimate_gib"],
            r["first_step_s"],
            f"{r['first_loss']}→{r['last_loss']}",
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    if rows:
        r = rows[0]
        lines[:0] = [
            f"{r['device']}, torch {r['torch']}, deepspeed {r['deepspeed']}, "
            f"{r['preset']} ({r['n_params'] / 1e6:,.1f}M params, vocab {r['vocab']:,}), "
            f"seq {r['seq_len']}, {r['world_size']} process(es), ZeRO-{r['zero_stage']} "
            f"{'bf16' if r['bf16'] else 'fp32'}, {r['grad_accum_dtype']} gradient "
            "accumulation, random tokens",
            "",
        ]
    return "\n".join(lines) + "\n"


def best_args(rows: list[dict[str, Any]]) -> str:
    """The switches of the fastest uncompiled row, to run it again with `--compile`.

    >>> best_args([{"tokens_per_s": 2.0, "compile": False, "optimizer": "torch_adamw",
    ...             "ckpt_every": 2, "micro_batch": 8}])
    '--optimizer torch_adamw --ckpt-every 2 --micro-batch 8'
    """
    eager = [r for r in rows if not r["compile"]]
    if not eager:
        raise ValueError("no uncompiled row measured")
    r = max(eager, key=lambda r: r["tokens_per_s"])
    return (
        f"--optimizer {r['optimizer']} --ckpt-every {r['ckpt_every']} "
        f"--micro-batch {r['micro_batch']}"
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--report",
        nargs=2,
        type=Path,
        metavar=("ROWS", "TXT"),
        help="only write the table of the JSON lines in ROWS to TXT and print it",
    )
    ap.add_argument(
        "--best",
        type=Path,
        metavar="ROWS",
        help="only print the switches of the fastest uncompiled row in ROWS",
    )
    ap.add_argument("--preset", default="paper-1.36b")
    ap.add_argument("--vocab", type=int, default=102400)  # the paper's tokenizer
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6, help="timed steps after the warm-up")
    ap.add_argument("--warmup", type=int, default=3, help="untimed first steps")
    ap.add_argument("--optimizer", choices=["torch_adamw", "ds_fused_adam"], default="torch_adamw")
    ap.add_argument(
        "--ckpt-every",
        type=int,
        choices=[0, 1, 2],
        default=1,
        help="activation checkpointing of every k-th block; 0: off",
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile the blocks")
    ap.add_argument(
        "--peak-tflops",
        type=float,
        default=0.0,
        help="MFU denominator per device; 0: from the GPU's name",
    )
    ap.add_argument("--threads", type=int, default=0, help="torch threads; 0: as the stage")
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, help="append the JSON line to this file")
    args = ap.parse_args()
    if args.report:
        rows_path, txt = args.report
        text = table(_read_rows(rows_path))
        txt.write_text(text)
        print(text)
        return
    if args.best:
        print(best_args(_read_rows(args.best)))
        return
    if args.steps < 1 or args.warmup < 0:
        ap.error(f"--steps {args.steps} must be >= 1 and --warmup {args.warmup} >= 0")
    row = run(args)
    line = json.dumps(row)
    print(line, flush=True)
    if args.out is not None:
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
