"""The training loop on DeepSpeed (ZeRO, bf16), with curriculum, checkpoints and DVCLive.

The only module that imports DeepSpeed and DVCLive (lazily, so `DS_ACCELERATOR=cpu` is set
first on a machine without CUDA). One process or N under torchrun run the same code.

>>> summary = train(params, Path("data/shard"), Path("data/tokenizer"), Path("models/pretrain"),
...                 Path("models/export"), Path("reports/pretrain"))   # doctest: +SKIP
>>> summary["val_loss"] < summary["first_train_loss"]                  # doctest: +SKIP
True

Metrics (DVCLive, step = optimizer steps done): train/loss (mean over the global batch),
val/loss (fixed windows of the val split at the longest phase seq_len), lr, grad_norm,
tokens (seen so far, all ranks), tokens_per_s, mfu (6N + 12*L*d*T FLOPs per token against
989 TFLOP/s per H100 bf16; on CPU against a nominal 160 GFLOP/s per core, indicative only),
loss_spikes (steps whose loss exceeds 1.5x the median of the previous 50, counted after 10),
phase (index into params.phases) and mixture/<bucket> (the bucket probabilities in use).
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import torch

from arxiv2lm.io import fresh_dir
from arxiv2lm.params import PretrainParams
from arxiv2lm.tokens.loader import ShardSet, WindowSampler, iter_eval_windows, phase_at
from arxiv2lm.tokens.shards import file_sha256
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.dsconfig import deepspeed_arch_list, deepspeed_config, param_groups
from arxiv2lm.train.export import save_export
from arxiv2lm.train.model import GPT, flops_per_token, resolve_model_config
from arxiv2lm.train.monitor import (
    CPU_PEAK_FLOPS_PER_CORE,
    GPU_PEAK_FLOPS,
    attention_backend,
    eval_loss,
    track_spikes,
)
from arxiv2lm.train.schedule import lr_at

_OWN_ENV = False  # True once this process set the single-process rendezvous env itself


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _init_distributed(on_gpu: bool) -> Any:
    """Import DeepSpeed (CPU accelerator without CUDA) and join or create the process group."""
    global _OWN_ENV
    if not on_gpu:
        os.environ["DS_ACCELERATOR"] = "cpu"
    if "LOCAL_RANK" not in os.environ or _OWN_ENV:  # no launcher: a group of one
        os.environ.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(_free_port()),
            RANK="0",
            WORLD_SIZE="1",
            LOCAL_RANK="0",
        )
        _OWN_ENV = True
    import deepspeed

    if on_gpu:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        if os.environ.get("TORCH_CUDA_ARCH_LIST"):  # read when FusedAdam builds, at initialize
            os.environ["TORCH_CUDA_ARCH_LIST"] = deepspeed_arch_list(
                os.environ["TORCH_CUDA_ARCH_LIST"]
            )
    else:
        # DeepSpeed would JIT-compile its shared-memory CPU allreduce op here (~45 s on two
        # cores, on every fresh machine); gloo's allreduce is plenty for CPU-sized models.
        from deepspeed.accelerator import get_accelerator

        shm = get_accelerator().create_op_builder("ShareMemCommBuilder")
        if shm is not None:
            deepspeed.ops.__compatible_ops__[shm.NAME] = False
    deepspeed.init_distributed(dist_backend="nccl" if on_gpu else "gloo", verbose=False)
    return deepspeed


def _save_checkpoint(
    engine: Any,
    dist: Any,
    ckpt_dir: Path,
    step: int,
    run_hash: str,
    extra: dict[str, Any],
    keep: int,
) -> None:
    """Every rank writes its shard of `partial-step_N/`; rank 0 then seals it (see checkpoint)."""
    engine.save_checkpoint(str(ckpt_dir), tag=ckpt.partial_tag(step), save_latest=False)
    dist.barrier()
    if dist.get_rank() == 0:
        ckpt.finalize(ckpt_dir, step, run_hash, extra, keep=keep)
    dist.barrier()


def _grad_norm(engine: Any) -> float:
    g = engine.get_global_grad_norm()
    return float(g.item() if torch.is_tensor(g) else g) if g is not None else float("nan")


def train(
    params: PretrainParams,
    shard_dir: Path,
    tokenizer_dir: Path,
    ckpt_dir: Path,
    export_dir: Path,
    live_dir: Path,
    stop_at: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) to `params.max_steps`, checkpoint, export; returns a summary dict.

    `stop_at` ends the run right after the checkpoint at that step, without export: what a
    killed run leaves behind (tests use it). The summary holds the per-step losses of this
    process and, under "engine", the DeepSpeed engine (for inspection; drop it when done).
    """
    on_gpu = torch.cuda.is_available() and params.gpus > 0
    tokenizer_model = tokenizer_dir / "tokenizer.model"
    sha = file_sha256(tokenizer_model)
    train_set = ShardSet.open(shard_dir, "train", expect_tokenizer_sha256=sha)
    val_set = ShardSet.open(shard_dir, "val", expect_tokenizer_sha256=sha)
    cfg = resolve_model_config(params.preset, params.model, train_set.vocab_size)
    longest = max(ph.seq_len for ph in params.phases)
    if longest > cfg.seq_len:
        raise ValueError(f"phase seq_len {longest} exceeds the model's seq_len {cfg.seq_len}")

    deepspeed = _init_distributed(on_gpu)
    dist = deepspeed.comm
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(params.seed)
    model = GPT(
        cfg,
        activation_checkpointing=params.activation_checkpointing,
        checkpoint_every=params.activation_checkpoint_every,
    )
    if params.compile:
        model.compile_blocks()  # in place: checkpoint and export keys stay unprefixed
    layout = [[name, list(p.shape)] for name, p in model.named_parameters()]
    run_hash = ckpt.run_hash(params, cfg, train_set.meta, layout)
    groups = param_groups(model, params.weight_decay)
    client_opt = None if on_gpu else torch.optim.AdamW(groups, lr=params.lr, betas=(0.9, 0.95))
    engine, *_ = deepspeed.initialize(
        model=model,
        model_parameters=groups,
        optimizer=client_opt,
        config=deepspeed_config(params, world, on_gpu),
    )

    if rank == 0:
        ckpt.prepare(ckpt_dir, run_hash)
    dist.barrier()
    resume = ckpt.latest_complete(ckpt_dir, run_hash)
    start, state = 0, {"tokens": 0, "loss_spikes": 0, "recent": []}
    if resume is not None:
        start, path, meta = resume
        saved_world = int(meta.get("world_size", world))
        # ZeRO-2 partitions the optimizer state by data-parallel rank: a checkpoint of N
        # processes cannot fill M partitions. Keep the weights, restart Adam's moments.
        same_world = saved_world == world
        engine.load_checkpoint(
            str(ckpt_dir),
            tag=path.name,
            load_module_only=not same_world,
            load_optimizer_states=same_world,
            load_lr_scheduler_states=False,
        )
        state = meta["state"]
        if rank == 0:
            print(f"pretrain: resuming from {path} (step {start})")
            if not same_world:
                print(
                    f"pretrain: WARNING: {path} was written by {saved_world} process(es), this "
                    f"run has {world}: ZeRO-2 optimizer partitions do not carry over, so the "
                    "weights are loaded and the optimizer state (Adam moments) restarts"
                )

    live = None
    if rank == 0:
        from dvclive import Live
        from scmrepo.exceptions import SCMError

        try:
            live = Live(
                str(live_dir),
                resume=resume is not None,
                dvcyaml=False,
                save_dvc_exp=False,
                report=None,
            )
        except SCMError as err:  # DVCLive 3.49 reads HEAD before checking for commits
            raise ValueError(
                f"DVCLive cannot log in this git repository ({err}): commit once first"
            ) from err

    peak = GPU_PEAK_FLOPS if on_gpu else CPU_PEAK_FLOPS_PER_CORE * torch.get_num_threads()
    rows = params.micro_batch * params.grad_accum
    samplers: dict[int, WindowSampler] = {}
    losses: list[float] = []
    val_loss, tok_s, mfu = float("nan"), 0.0, 0.0
    t0, t_window, tokens_window = time.time(), time.time(), 0
    engine.train()
    with attention_backend(on_gpu):
        for step in range(start, params.max_steps):
            pi, phase = phase_at(step, params.max_steps, params.phases)
            if pi not in samplers:
                samplers[pi] = WindowSampler(
                    train_set, phase.seq_len, rows, params.seed, rank, world, phase.mixture
                )
                if rank == 0:
                    mix = {b: round(q, 4) for b, q in samplers[pi].probabilities.items()}
                    print(
                        f"pretrain: step {step}: phase {pi} {phase.name!r} seq_len "
                        f"{phase.seq_len} mixture {mix}"
                    )
            lr = lr_at(step, params.lr, params.min_lr, params.warmup_steps, params.max_steps)
            for g in engine.optimizer.param_groups:
                g["lr"] = lr
            xy = torch.from_numpy(samplers[pi].batch(step)).to(engine.device)
            loss_sum = torch.zeros((), dtype=torch.float32, device=engine.device)
            for micro in xy.split(params.micro_batch):
                loss = engine(micro[:, :-1], micro[:, 1:])
                engine.backward(loss)
                engine.step()
                loss_sum += loss.detach().float()
            dist.all_reduce(loss_sum)
            loss_val = loss_sum.item() / (params.grad_accum * world)
            losses.append(loss_val)
            track_spikes(state, loss_val)
            n_tok = rows * world * phase.seq_len
            state["tokens"] += n_tok
            tokens_window += n_tok
            done = step + 1
            last = done == params.max_steps or done == stop_at

            if rank == 0 and (done % params.eval_every == 0 or last):
                t_eval = time.time()
                val_loss = eval_loss(
                    engine.module,
                    iter_eval_windows(val_set, longest, params.micro_batch, params.eval_batches),
                    engine.device,
                )
                t_window += time.time() - t_eval  # tokens_per_s counts training time only
                live.step = done
                live.log_metric("val/loss", val_loss)
            if rank == 0 and (done % params.log_every == 0 or last):
                dt = time.time() - t_window
                tok_s = tokens_window / max(dt, 1e-9)
                mfu = tok_s * flops_per_token(cfg, phase.seq_len) / (peak * world)
                t_window, tokens_window = time.time(), 0
                live.step = done
                metrics = {
                    "train/loss": loss_val,
                    "lr": lr,
                    "grad_norm": _grad_norm(engine),
                    "tokens": state["tokens"],
                    "tokens_per_s": tok_s,
                    "mfu": mfu,
                    "loss_spikes": state["loss_spikes"],
                    "phase": pi,
                }
                metrics.update({f"mixture/{b}": q for b, q in samplers[pi].probabilities.items()})
                for k, v in metrics.items():
                    live.log_metric(k, v)
                live.make_summary()
                print(
                    f"pretrain: step {done}/{params.max_steps} loss {loss_val:.4f} "
                    f"val {val_loss:.4f} lr {lr:.2e} {tok_s:,.0f} tok/s mfu {mfu:.2%}"
                )
            if done % params.checkpoint_every == 0 or last:
                _save_checkpoint(
                    engine,
                    dist,
                    ckpt_dir,
                    done,
                    run_hash,
                    {"state": state, "world_size": world},
                    params.keep_checkpoints,
                )
            if done == stop_at:
                break

    steps_done = start + len(losses)
    if rank == 0 and steps_done == params.max_steps:
        if val_loss != val_loss:  # resumed at the end: nothing trained, still report val loss
            val_loss = eval_loss(
                engine.module,
                iter_eval_windows(val_set, longest, params.micro_batch, params.eval_batches),
                engine.device,
            )
        save_export(
            engine.module,
            fresh_dir(export_dir),
            tokenizer_model,
            {
                "vocab_size": train_set.vocab_size,
                "eos_id": train_set.eos_id,
                "bos_id": train_set.bos_id,
                "tokenizer_sha256": sha,
                "steps": steps_done,
                "train_tokens": state["tokens"],
                "run_hash": run_hash,
                "val_loss": val_loss,
            },
        )
    if live is not None:
        live.end()
    return {
        "rank": rank,
        "world_size": world,
        "resumed_from": start,
        "steps": steps_done,
        "tokens": state["tokens"],
        "losses": losses,
        "val_loss": val_loss,
        "tokens_per_s": tok_s,
        "mfu": mfu,
        "loss_spikes": state["loss_spikes"],
        "wall_s": time.time() - t0,
        "n_params": model.num_params(),
        "engine": engine,
    }
