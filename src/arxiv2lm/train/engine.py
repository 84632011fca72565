"""The training loop on DeepSpeed (ZeRO, bf16), with curriculum epochs, checkpoints, DVCLive.

The only module that imports DeepSpeed and DVCLive (lazily, so `DS_ACCELERATOR=cpu` is set
first on a machine without CUDA). One process or N under torchrun run the same code. The
pieces (`build_engine`, `resume.restore`, `train_step`, `maybe_eval`, `maybe_checkpoint`,
`MetricsSink`, `progress.log_step`) are what `train` strings together and what
`bench/gpu_pretrain.py` calls.

>>> summary = train(params, Path("data/shard"), Path("data/tokenizer"), Path("models/pretrain"),
...                 Path("models/export"), Path("reports/pretrain"))   # doctest: +SKIP
>>> summary["val_loss"] < summary["first_train_loss"]                  # doctest: +SKIP
True

Metrics (DVCLive, step = optimizer steps done): train/loss (mean over the global batch),
val/loss (fixed windows of the val split at the longest phase seq_len), lr, grad_norm,
tokens (seen so far, all ranks), loss_spikes, phase, and per math bucket data/<bucket>/epochs
(passes over the bucket's windows in the current phase) and data/<bucket>/tokens (all phases
so far). Timings, which differ on every rerun, go to `<live>/timing.tsv` instead (not a DVC
output, so they never dirty git): tokens_per_s (the last window), mfu (6N + 12*L*d*T FLOPs
per token against the GPU's peak, see `monitor.peak_flops`; empty without a known peak).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from arxiv2lm.io import file_sha256, fresh_dir
from arxiv2lm.params import PretrainParams
from arxiv2lm.tokens.loader import ShardSet, iter_eval_windows
from arxiv2lm.tokens.sampler import WindowSampler, mix_key
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.dsconfig import (
    client_optimizer,
    deepspeed_arch_list,
    deepspeed_config,
    param_groups,
)
from arxiv2lm.train.export import save_export
from arxiv2lm.train.lineage import base_hash, data_lineage, data_record
from arxiv2lm.train.model import GPT
from arxiv2lm.train.monitor import (
    MetricsSink,
    Throughput,
    attention_backend,
    configure_threads,
    eval_loss,
    peak_flops,
    track_spikes,
)
from arxiv2lm.train.progress import announce_phase, log_step
from arxiv2lm.train.recipe import Recipe, resolve_recipe
from arxiv2lm.train.resume import restore
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


@dataclass
class Run:
    """Everything the loop's pieces share."""

    params: PretrainParams
    recipe: Recipe
    engine: Any
    dist: Any
    on_gpu: bool
    train_set: ShardSet
    val_set: ShardSet
    run_dir: Path
    run_hash: str
    rank: int
    world: int
    state: dict[str, Any] = field(default_factory=dict)
    # [[first step, train units]]: a run whose corpus grew by appending units (a new month)
    # draws each era's steps from the split as it was then, so old steps keep their batches.
    eras: list[list[int]] = field(default_factory=list)
    base_hash: str = ""  # the run hash without the data's size (lineage.base_hash)
    samplers: dict[tuple[int, int], WindowSampler] = field(default_factory=dict)

    def era_at(self, step: int) -> int:
        return max((i for i, (first, _) in enumerate(self.eras) if first <= step), default=0)

    def sampler(self, phase: int, era: int | None = None) -> WindowSampler:
        """The phase's epoch sampler over this rank's rows in a data era (default: the
        latest), built once. Era 0 is the sampler the run started with; a later era reads
        the grown split from its first step on, in orders of its own (seed mixed with the
        era), so a grown corpus changes no batch of the steps before it."""
        era = max(len(self.eras) - 1, 0) if era is None else era
        if (phase, era) not in self.samplers:
            p, start = self.recipe.phases[phase], [0, *self.recipe.boundaries][phase]
            first, units = self.eras[era]
            seed = self.params.seed if era == 0 else int(mix_key(self.params.seed, era)[0])
            self.samplers[(phase, era)] = WindowSampler(
                self.train_set.prefix(units),
                p.seq_len,
                self.recipe.global_batch // self.world,
                seed,
                self.rank,
                self.world,
                p.mixture or None,
                phase=phase,
                start_step=max(start, first),
            )
        return self.samplers[(phase, era)]

    def batch(self, step: int) -> np.ndarray:
        """This rank's (B, seq_len + 1) token windows of `step`."""
        return self.sampler(self.recipe.phase_at(step)[0], self.era_at(step)).batch(step)


def build_engine(
    params: PretrainParams, recipe: Recipe, on_gpu: bool, deepspeed: Any
) -> tuple[Any, list[Any]]:
    """The model under DeepSpeed (ZeRO, bf16, fp32 accumulation) and its parameter layout."""
    torch.manual_seed(params.seed)
    model = GPT(
        recipe.model,
        activation_checkpointing=params.activation_checkpointing,
        checkpoint_every=params.activation_checkpoint_every,
    )
    if params.compile:
        model.compile_blocks()  # in place: checkpoint and export keys stay unprefixed
    layout = [[name, list(p.shape)] for name, p in model.named_parameters()]
    groups = param_groups(model, params.weight_decay)
    engine, *_ = deepspeed.initialize(
        model=model,
        model_parameters=groups,
        optimizer=client_optimizer(params, groups, recipe.lr, on_gpu),
        config=deepspeed_config(params, recipe, on_gpu),
    )
    return engine, layout


def train_step(run: Run, step: int) -> tuple[float, float, int]:
    """One optimizer step (all micro-batches); returns (global mean loss, lr, phase index)."""
    pi, phase, _ = run.recipe.phase_at(step)
    r = run.recipe
    lr = lr_at(step, r.lr, r.min_lr, r.warmup_steps, r.max_steps)
    for g in run.engine.optimizer.param_groups:
        g["lr"] = lr
    xy = torch.from_numpy(run.batch(step)).to(run.engine.device)
    loss_sum = torch.zeros((), dtype=torch.float32, device=run.engine.device)
    for micro in xy.split(run.recipe.micro_batch):
        loss = run.engine(micro[:, :-1], micro[:, 1:])
        run.engine.backward(loss)
        run.engine.step()
        loss_sum += loss.detach().float()
    run.dist.all_reduce(loss_sum)
    loss_val = loss_sum.item() / (run.recipe.grad_accum * run.world)
    track_spikes(run.state, loss_val)
    run.state["tokens"] += run.recipe.global_batch * phase.seq_len
    return loss_val, lr, pi


def validation_loss(run: Run) -> float:
    longest = max(p.seq_len for p in run.recipe.phases)
    windows = iter_eval_windows(
        run.val_set, longest, run.recipe.micro_batch, run.params.eval_batches
    )
    return eval_loss(run.engine.module, windows, run.engine.device)


def maybe_eval(run: Run, done: int, last: bool, sink: MetricsSink) -> float | None:
    """The validation loss on rank 0 every `eval_every` steps and at the end."""
    if run.rank != 0 or not (done % run.params.eval_every == 0 or last):
        return None
    val = validation_loss(run)
    sink.log(done, {"val/loss": val}, summary=False)
    run.state["val_loss"] = val  # checkpointed: a run resumed at its end exports this value
    return val


def maybe_checkpoint(run: Run, done: int, last: bool) -> None:
    """Every rank writes its shard of `partial-step_N/`; rank 0 then seals it (checkpoint.py)."""
    if not (done % run.params.checkpoint_every == 0 or last):
        return
    run.engine.save_checkpoint(str(run.run_dir), tag=ckpt.partial_tag(done), save_latest=False)
    run.dist.barrier()
    if run.rank == 0:
        extra = {"state": run.state, "world_size": run.world, "data": data_record(run)}
        ckpt.finalize(run.run_dir, done, run.run_hash, extra, keep=run.params.keep_checkpoints)
    run.dist.barrier()


def _open_run(
    params: PretrainParams, shard_dir: Path, tokenizer_dir: Path, ckpt_dir: Path
) -> tuple[Run, list[Any]]:
    on_gpu = torch.cuda.is_available() and params.gpus > 0
    sha = file_sha256(tokenizer_dir / "tokenizer.model")
    train_set = ShardSet.open(shard_dir, "train", expect_tokenizer_sha256=sha)
    val_set = ShardSet.open(shard_dir, "val", expect_tokenizer_sha256=sha)
    deepspeed = _init_distributed(on_gpu)
    dist = deepspeed.comm
    world = dist.get_world_size()
    recipe = resolve_recipe(params, train_set.vocab_size, world)
    engine, layout = build_engine(params, recipe, on_gpu, deepspeed)
    quiet = dist.get_rank() != 0
    run_hash, eras = data_lineage(
        params, recipe, train_set.meta, layout, ckpt_dir, (lambda _: None) if quiet else print
    )
    base = base_hash(params, recipe, train_set.meta, layout)
    run = Run(params, recipe, engine, dist, on_gpu, train_set, val_set,
              ckpt.run_dir(ckpt_dir, run_hash), run_hash, dist.get_rank(), world,
              eras=eras, base_hash=base)  # fmt: skip
    if run.rank == 0:
        ckpt.prepare(ckpt_dir, run_hash)
    dist.barrier()
    return run, layout


def train(
    params: PretrainParams,
    shard_dir: Path,
    tokenizer_dir: Path,
    ckpt_dir: Path,
    export_dir: Path,
    live_dir: Path,
    stop_at: int | None = None,
) -> dict[str, Any]:
    """Train (or resume) to the recipe's last step, checkpoint, export; returns a summary.

    `stop_at` ends the run right after the checkpoint at that step, without export: what a
    killed run leaves behind (tests use it). The summary holds the per-step losses of this
    process and, under "engine", the DeepSpeed engine (for inspection; drop it when done).
    """
    threads = configure_threads(params)
    run, _ = _open_run(params, shard_dir, tokenizer_dir, ckpt_dir)
    start = restore(run)
    sink = MetricsSink(live_dir, run.rank == 0, start if start else None)
    device = torch.cuda.get_device_name() if run.on_gpu else None
    peak = peak_flops(device, params.peak_tflops)
    losses: list[float] = []
    val_loss, tok_s = float("nan"), 0.0
    speed, t0, max_steps = Throughput(), time.time(), run.recipe.max_steps
    run.engine.train()
    with attention_backend(run.on_gpu):
        for step in range(start, max_steps):
            pi, phase, phase_start = run.recipe.phase_at(step)
            if step in (phase_start, start):
                announce_phase(run, pi)
            loss_val, lr, pi = train_step(run, step)
            speed.add(run.recipe.global_batch * phase.seq_len)
            losses.append(loss_val)
            done = step + 1
            last = done in (max_steps, stop_at)
            v = maybe_eval(run, done, last, sink)
            val_loss = val_loss if v is None else v
            if run.rank == 0 and (done % params.log_every == 0 or last):
                tok_s = speed.window()
                log_step(run, sink, done, {"train/loss": loss_val, "lr": lr, "phase": pi},
                         tok_s, peak, val_loss)  # fmt: skip
            maybe_checkpoint(run, done, last)
            speed.restart()
            if done == stop_at:
                break
    steps_done = start + len(losses)
    if run.rank == 0 and steps_done == max_steps:
        if val_loss != val_loss:  # resumed at the end: nothing trained, report the val loss
            # of the checkpoint (recomputing it can differ in the last digits, and would
            # change the export and dvc.lock of a rerun with the same inputs)
            saved = run.state.get("val_loss")
            val_loss = float(saved) if saved is not None else validation_loss(run)
        export_run(run, tokenizer_dir, export_dir, steps_done, val_loss)
    sink.end()
    return {
        "rank": run.rank,
        "world_size": run.world,
        "resumed_from": start,
        "steps": steps_done,
        "tokens": run.state["tokens"],
        "losses": losses,
        "val_loss": val_loss,
        "tokens_per_s": tok_s,
        "tokens_per_s_avg": speed.average(),
        "mfu_peak_flops": peak,
        "loss_spikes": run.state["loss_spikes"],
        "wall_s": time.time() - t0,
        "threads": threads,
        "n_params": run.engine.module.num_params(),
        "run_dir": run.run_dir,
        "recipe": run.recipe,
        "engine": run.engine,
    }


def export_run(
    run: Run,
    tokenizer_dir: Path,
    export_dir: Path,
    steps: int,
    val_loss: float,
) -> None:
    """The export of a finished run: weights, tokenizer, and what defines the run."""
    tokenizer_model = tokenizer_dir / "tokenizer.model"
    save_export(
        run.engine.module,
        fresh_dir(export_dir),
        tokenizer_model,
        {
            "vocab_size": run.train_set.vocab_size,
            "eos_id": run.train_set.eos_id,
            "bos_id": run.train_set.bos_id,
            "tokenizer_sha256": run.train_set.meta.get("tokenizer_sha256"),
            "steps": steps,
            "train_tokens": run.state["tokens"],
            "run_hash": run.run_hash,
            "data_eras": run.eras,
            "val_loss": val_loss,
            "preset": run.recipe.preset,
            "global_batch": run.recipe.global_batch,
            "pretrain_params": dataclasses.asdict(run.params),
            "recipe": {
                "tokens_per_step": run.recipe.tokens_per_step(),
                "max_steps": run.recipe.max_steps,
                "total_tokens": run.recipe.total_tokens(),
                **run.recipe.defining(),
            },
        },
    )
