"""One row of the pretrain throughput table: a preset on one device through the engine's path.

    python bench/gpu_pretrain.py --micro-batch 8 --ckpt --compile --out rows.jsonl
    python bench/gpu_pretrain.py --preset tiny --vocab 4096 --seq-len 64 --steps 2 --warmup 1

`bash bench/gpu_pretrain.sh` runs the rows of issue 6 (paper-1.36b, seq 2048, one H100) and
prints the table. Each row is its own process, so its peak memory is its own. The path is the
pretrain stage's: `deepspeed_config` (ZeRO-2, bf16, FusedAdam on GPU), `_init_distributed`,
`param_groups`, `GPT(..., activation_checkpointing)` and `compile_blocks()` for `compile`,
`engine(x, y)` / `engine.backward` / `engine.step` per step, on random tokens over the
preset's vocab (no shards needed, no DVCLive). It prints one JSON line: mean step time over
`--steps` after `--warmup` (the first step includes compiling), tokens/s, MFU (6N + 12*L*d*T
FLOPs per token against 989 TFLOP/s; on CPU against a nominal 160 GFLOP/s per core) and the
peak memory the CUDA allocator handed out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from arxiv2lm.params import PretrainParams


def bench_params(args: argparse.Namespace, on_gpu: bool) -> PretrainParams:
    """Pretrain params for one benchmark row (only the engine-relevant fields matter)."""
    from arxiv2lm.params import ModelOverrides, Phase, PretrainParams

    return PretrainParams(
        preset=args.preset,
        model=ModelOverrides(),
        gpus=int(on_gpu),
        micro_batch=args.micro_batch,
        grad_accum=1,
        max_steps=args.warmup + args.steps,
        lr=3e-4,
        min_lr=3e-5,
        warmup_steps=0,
        weight_decay=0.1,
        grad_clip=1.0,
        zero_stage=2,
        bf16=True,
        activation_checkpointing=args.ckpt,
        activation_checkpoint_every=args.ckpt_every,
        compile=args.compile,
        log_every=1,
        eval_every=10**9,
        eval_batches=0,
        checkpoint_every=10**9,
        keep_checkpoints=1,
        seed=0,
        phases=[Phase("bench", 1.0, args.seq_len, {"all": 1.0})],
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    # Imported here: `--report` (after every row, on the device's clock) needs none of it.
    import torch

    from arxiv2lm.params import ModelOverrides
    from arxiv2lm.train.dsconfig import deepspeed_config, param_groups
    from arxiv2lm.train.engine import _init_distributed
    from arxiv2lm.train.model import GPT, flops_per_token, resolve_model_config
    from arxiv2lm.train.monitor import CPU_PEAK_FLOPS_PER_CORE, GPU_PEAK_FLOPS, attention_backend

    on_gpu = torch.cuda.is_available()
    params = bench_params(args, on_gpu)
    cfg = resolve_model_config(args.preset, ModelOverrides(), args.vocab)
    if args.seq_len > cfg.seq_len:
        raise ValueError(f"--seq-len {args.seq_len} exceeds {args.preset}'s seq_len {cfg.seq_len}")
    deepspeed = _init_distributed(on_gpu)
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    torch.manual_seed(params.seed)
    with device:  # initialise in place: 1.4B parameters on the CPU take a while
        model = GPT(cfg, activation_checkpointing=args.ckpt, checkpoint_every=args.ckpt_every)
    if params.compile:
        model.compile_blocks()
    groups = param_groups(model, params.weight_decay)
    client_opt = None if on_gpu else torch.optim.AdamW(groups, lr=params.lr, betas=(0.9, 0.95))
    t0 = time.perf_counter()
    engine, *_ = deepspeed.initialize(
        model=model,
        model_parameters=groups,
        optimizer=client_opt,
        config=deepspeed_config(params, 1, on_gpu),
    )
    init_s = time.perf_counter() - t0
    gen = torch.Generator(device=device).manual_seed(params.seed)
    step_s, losses = [], []
    engine.train()
    with attention_backend(on_gpu):
        for _ in range(args.warmup + args.steps):
            xy = torch.randint(
                0,
                cfg.vocab_size,
                (args.micro_batch, args.seq_len + 1),
                device=device,
                generator=gen,
            )
            if on_gpu:
                torch.cuda.synchronize()
            t = time.perf_counter()
            loss = engine(xy[:, :-1], xy[:, 1:])
            engine.backward(loss)
            engine.step()
            losses.append(loss.item())  # synchronises
            step_s.append(time.perf_counter() - t)
    mean_s = sum(step_s[args.warmup :]) / args.steps
    tok_s = args.micro_batch * args.seq_len / mean_s
    peak = GPU_PEAK_FLOPS if on_gpu else CPU_PEAK_FLOPS_PER_CORE * torch.get_num_threads()
    return {
        "label": args.label,
        "preset": args.preset,
        "n_params": model.num_params(),
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "ckpt": args.ckpt,
        "ckpt_every": args.ckpt_every,
        "compile": args.compile,
        "optimizer": type(engine.optimizer.optimizer).__name__,
        "zero_stage": engine.zero_optimization_stage(),
        "bf16": engine.bfloat16_enabled(),
        "step_s": round(mean_s, 4),
        "first_step_s": round(step_s[0], 1),
        "ds_init_s": round(init_s, 1),
        "tokens_per_s": round(tok_s),
        "mfu": round(tok_s * flops_per_token(cfg, args.seq_len) / peak, 4),
        "peak_alloc_gb": round(torch.cuda.max_memory_allocated() / 1e9, 1) if on_gpu else None,
        "peak_reserved_gb": round(torch.cuda.max_memory_reserved() / 1e9, 1) if on_gpu else None,
        "first_loss": round(losses[0], 3),
        "last_loss": round(losses[-1], 3),
        "device": torch.cuda.get_device_name() if on_gpu else "cpu",
        "torch": torch.__version__,
        "deepspeed": deepspeed.__version__,
    }


def table(rows: list[dict[str, object]]) -> str:
    """The rows as a markdown table under a line naming the machine and the setup."""
    head = (
        "| row | micro-batch | step s | tokens/s | MFU | peak alloc GB | peak reserved GB "
        "| first step s | loss first→last |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['micro_batch']} | {r['step_s']} | "
            f"{r['tokens_per_s']:,} | {r['mfu']:.1%} | {r['peak_alloc_gb']} | "
            f"{r['peak_reserved_gb']} | {r['first_step_s']} | "
            f"{r['first_loss']}→{r['last_loss']} |"
        )
    if rows:
        r = rows[0]
        lines[:0] = [
            f"{r['device']}, torch {r['torch']}, deepspeed {r['deepspeed']}, "
            f"{r['preset']} ({r['n_params'] / 1e9:.2f}B params), seq {r['seq_len']}, "
            f"ZeRO-{r['zero_stage']} bf16, {r['optimizer']}, random tokens",
            "",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--report",
        nargs=2,
        type=Path,
        metavar=("ROWS", "TXT"),
        help="only write the table of the JSON lines in ROWS to TXT and print it",
    )
    ap.add_argument("--preset", default="paper-1.36b")
    ap.add_argument("--vocab", type=int, default=102400)  # the paper's tokenizer
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--ckpt", action="store_true", help="activation checkpointing")
    ap.add_argument("--ckpt-every", type=int, default=1, help="checkpoint every k-th block")
    ap.add_argument("--compile", action="store_true", help="torch.compile the blocks")
    ap.add_argument("--warmup", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--label", default="")
    ap.add_argument("--out", type=Path, help="append the JSON line to this file")
    args = ap.parse_args()
    if args.report:
        rows_path, txt = args.report
        text = table([json.loads(line) for line in rows_path.read_text().splitlines()])
        txt.write_text(text)
        print(text)
        return
    row = run(args)
    line = json.dumps(row)
    print(line, flush=True)
    if args.out is not None:
        with args.out.open("a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
