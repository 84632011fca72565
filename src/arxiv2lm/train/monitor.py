"""What the training loop measures besides the loss: validation loss, loss spikes, MFU peaks,
throughput, and the machine settings it runs under (attention kernel, torch threads); plus
cutting a resumed run's DVCLive history back to its step, and the timing log kept out of it.
"""

from __future__ import annotations

import contextlib
import csv
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from arxiv2lm.params import PretrainParams, resolve_workers
from arxiv2lm.train.model import GPT

# Dense bf16 peak FLOP/s by GPU name (vendor data sheets, SXM parts). MFU is reported only
# against a known peak: on a CPU or an unlisted GPU set `pretrain.peak_tflops`.
GPU_PEAK_TFLOPS = {"A100": 312.0, "H100": 989.0, "H200": 989.0, "H800": 989.0, "A800": 312.0}
SPIKE_FACTOR, SPIKE_WINDOW, SPIKE_MIN = 1.5, 50, 10


def peak_flops(device_name: str | None, override_tflops: float = 0.0) -> float | None:
    """Peak dense bf16 FLOP/s of one device, or None when unknown (no MFU then).

    >>> peak_flops("NVIDIA A100-SXM4-80GB"), peak_flops("NVIDIA H200"), peak_flops(None)
    (312000000000000.0, 989000000000000.0, None)
    >>> peak_flops(None, 100.0)
    100000000000000.0
    """
    if override_tflops > 0:
        return override_tflops * 1e12
    for name, tflops in GPU_PEAK_TFLOPS.items():
        if device_name and name in device_name.upper():
            return tflops * 1e12
    return None


@contextlib.contextmanager
def attention_backend(on_gpu: bool) -> Iterator[None]:
    """On CPU the math SDPA kernel trains the tiny model ~30% faster than the flash one in bf16."""
    if on_gpu:
        yield
    else:
        with sdpa_kernel(SDPBackend.MATH):
            yield


@torch.no_grad()
def eval_loss(model: GPT, batches: Iterator[Any], device: torch.device) -> float:
    """Mean next-token loss over the (B, T+1) batches, weighted by tokens."""
    was_training = model.training
    model.eval()
    total, n = 0.0, 0
    for xy in batches:
        xy = torch.as_tensor(xy, device=device)
        total += model(xy[:, :-1], xy[:, 1:]).item() * xy[:, 1:].numel()
        n += xy[:, 1:].numel()
    model.train(was_training)
    return total / max(n, 1)


def track_spikes(state: dict[str, Any], loss: float) -> None:
    """Count `loss` as a spike if it exceeds SPIKE_FACTOR x the median of the recent losses.

    >>> s = {"loss_spikes": 0, "recent": [2.0] * 10}
    >>> track_spikes(s, 3.5); s["loss_spikes"]
    1
    """
    recent = state["recent"]
    if len(recent) >= SPIKE_MIN and loss > SPIKE_FACTOR * statistics.median(recent):
        state["loss_spikes"] += 1
    state["recent"] = (recent + [loss])[-SPIKE_WINDOW:]


def configure_threads(params: PretrainParams) -> int:
    """Fix torch's intra-op threads: idle spinning threads collapse throughput on a busy box.

    `threads: 0` shares the cores this process may use among the processes of this node.
    """
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    n = params.threads or max(1, resolve_workers(0) // local)
    torch.set_num_threads(n)
    return n


def truncate_history(live_dir: Path, step: int) -> int:
    """Drop DVCLive rows past `step` (a resumed run logs them again); returns rows dropped."""
    dropped = 0
    for tsv in sorted((live_dir / "plots" / "metrics").rglob("*.tsv")):
        with tsv.open(newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        if not rows or "step" not in rows[0]:
            continue
        col = rows[0].index("step")
        keep = [rows[0]] + [r for r in rows[1:] if r and int(float(r[col])) <= step]
        if len(keep) < len(rows):
            dropped += len(rows) - len(keep)
            tmp = tsv.with_name(tsv.name + ".tmp")
            with tmp.open("w", newline="") as fh:
                csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(keep)
            os.replace(tmp, tsv)
    return dropped


# Timings differ from run to run on the same inputs: logged as DVC metrics or plots they would
# dirty git after every rerun, so they go to `<live>/timing.tsv`, which no stage declares.
TIMING_METRICS = ("tokens_per_s", "mfu")
TIMING_FILE = "timing.tsv"


class TimingLog:
    """Per-step timings beside the DVCLive folder: step, wall_s (the loop's seconds so far,
    across resumes), tokens_per_s and mfu (empty without a known peak)."""

    FIELDS = ["step", "wall_s", *TIMING_METRICS]

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        done = 0.0
        if resume_step is None:
            path.unlink(missing_ok=True)
        elif path.is_file():
            rows = self._rows()
            keep = [r for r in rows if int(float(r["step"])) <= resume_step]
            done = float(keep[-1]["wall_s"]) if keep else 0.0
            if len(keep) < len(rows):
                self._write(keep)
        self._t0 = time.perf_counter() - done

    def _rows(self) -> list[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh, delimiter="\t"))

    def _write(self, rows: list[dict[str, Any]]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.FIELDS, delimiter="\t", lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def log(self, step: int, timings: dict[str, float]) -> None:
        row = {"step": step, "wall_s": round(time.perf_counter() - self._t0, 3), **timings}
        if not self.path.is_file():
            self._write([row])
            return
        with self.path.open("a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.FIELDS, delimiter="\t", lineterminator="\n")
            w.writerow(row)


class Throughput:
    """Tokens per second of training (evaluation and checkpoint time excluded)."""

    def __init__(self) -> None:
        self.t_window = self.t_total = 0.0
        self.tokens_window = self.tokens_total = 0
        self._t = time.perf_counter()

    def add(self, tokens: int) -> None:
        dt = time.perf_counter() - self._t
        self.t_window += dt
        self.t_total += dt
        self.tokens_window += tokens
        self.tokens_total += tokens

    def restart(self) -> None:
        """Start timing again (after evaluation or checkpointing, which do not count)."""
        self._t = time.perf_counter()

    def window(self) -> float:
        rate = self.tokens_window / max(self.t_window, 1e-9)
        self.t_window, self.tokens_window = 0.0, 0
        return rate

    def average(self) -> float:
        return self.tokens_total / max(self.t_total, 1e-9)


class MetricsSink:
    """DVCLive on rank 0, nothing elsewhere; a resumed run's history ends at its step.
    Timings (`TIMING_METRICS`) go to `<live>/timing.tsv`, not to DVCLive."""

    def __init__(self, live_dir: Path, enabled: bool, resume_step: int | None) -> None:
        self.live = None
        if not enabled:
            return
        live_dir.mkdir(parents=True, exist_ok=True)
        self.timing = TimingLog(live_dir / TIMING_FILE, resume_step)
        from dvclive import Live
        from scmrepo.exceptions import SCMError

        if resume_step is not None:
            truncate_history(live_dir, resume_step)
        try:
            self.live = Live(
                str(live_dir),
                resume=resume_step is not None,
                dvcyaml=False,
                save_dvc_exp=False,
                report=None,
            )
        except SCMError as err:  # DVCLive 3.49 reads HEAD before checking for commits
            raise ValueError(
                f"DVCLive cannot log in this git repository ({err}): commit once first"
            ) from err

    def log(self, step: int, metrics: dict[str, float], summary: bool = True) -> None:
        if self.live is None:
            return
        self.live.step = step
        timings = {k: metrics[k] for k in TIMING_METRICS if k in metrics}
        if timings:
            self.timing.log(step, timings)
        for k, v in metrics.items():
            if k not in timings:
                self.live.log_metric(k, v)
        if summary:
            self.live.make_summary()

    def end(self) -> None:
        if self.live is not None:
            self.live.end()
