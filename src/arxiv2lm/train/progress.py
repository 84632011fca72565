"""What the training loop reports: a line per logged step, DVCLive metrics, data coverage.

Pure bookkeeping over a `Run` (see `engine`): no DeepSpeed or DVCLive import here; the
metrics go to `monitor.MetricsSink`.

>>> metrics = {"train/loss": 3.2, "lr": 1e-3, "phase": 0}             # doctest: +SKIP
>>> log_step(run, sink, 10, metrics, 5000.0, None, 3.4)                # doctest: +SKIP
pretrain: step 10/295 loss 3.2000 val 3.4000 lr 1.00e-03 5,000 tok/s
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import torch

from arxiv2lm.tokens.sampler import repeat_warnings
from arxiv2lm.train.model import flops_per_token

if TYPE_CHECKING:
    from arxiv2lm.train.engine import Run
    from arxiv2lm.train.monitor import MetricsSink


def data_metrics(run: Run, step: int) -> dict[str, float]:
    """Epochs over each bucket in the current phase and its tokens seen over all phases."""
    pi, _, start = run.recipe.phase_at(step - 1)
    out: dict[str, float] = {}
    bounds = [0, *run.recipe.boundaries]
    for i in range(pi + 1):
        steps = (step - start) if i == pi else bounds[i + 1] - bounds[i]
        for bucket, cov in run.sampler(i).coverage(steps).items():
            key = f"data/{bucket}/tokens"
            out[key] = out.get(key, 0) + cov["tokens"]
            if i == pi:
                out[f"data/{bucket}/epochs"] = cov["epochs"]
    return out


def _grad_norm(engine: Any) -> float:
    g = engine.get_global_grad_norm()
    return float(g.item() if torch.is_tensor(g) else g) if g is not None else float("nan")


def announce_phase(run: Run, pi: int) -> None:
    if run.rank != 0:
        return
    phase, sampler = run.recipe.phases[pi], run.sampler(pi)
    steps = run.recipe.phase_steps()[pi]
    print(
        f"pretrain: phase {pi} {phase.name!r}: {steps} steps at seq_len {phase.seq_len}, "
        f"rows per step {sampler.quotas}"
    )
    for warning in repeat_warnings(sampler, steps, run.params.max_bucket_epochs):
        print(f"pretrain: WARNING: {warning}")


def log_step(
    run: Run,
    sink: MetricsSink,
    done: int,
    metrics: dict[str, float],
    tok_s: float,
    peak: float | None,
    val_loss: float,
) -> None:
    """Log one step's metrics to DVCLive and a line to stdout (rank 0)."""
    pi = int(metrics["phase"])
    seq = run.recipe.phases[pi].seq_len
    metrics = {**metrics, "grad_norm": _grad_norm(run.engine), "tokens": run.state["tokens"],
               "tokens_per_s": tok_s, "loss_spikes": run.state["loss_spikes"]}  # fmt: skip
    if peak is not None:  # MFU only against a known peak (not on a CPU)
        metrics["mfu"] = tok_s * flops_per_token(run.recipe.model, seq) / (peak * run.world)
    metrics.update(data_metrics(run, done))
    sink.log(done, metrics)
    # every logged step on a terminal; in a log file (CI, `dvc repro > log`) at evaluations
    # and the last step, so the sample's repro output stays short
    every = 1 if sys.stdout.isatty() else max(1, run.params.eval_every // run.params.log_every)
    last = done == run.recipe.max_steps
    if not last and (done // run.params.log_every) % every:
        return
    mfu = f" mfu {metrics['mfu']:.2%}" if "mfu" in metrics else ""
    print(
        f"pretrain: step {done}/{run.recipe.max_steps} loss {metrics['train/loss']:.4f} "
        f"val {val_loss:.4f} lr {metrics['lr']:.2e} {tok_s:,.0f} tok/s{mfu}"
    )
