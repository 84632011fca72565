"""What the training loop measures besides the loss: validation loss, loss spikes, MFU peaks,
and the attention kernel choice per device.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Iterator
from typing import Any

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from arxiv2lm.train.model import GPT

GPU_PEAK_FLOPS = 989e12  # H100 SXM dense bf16
CPU_PEAK_FLOPS_PER_CORE = 160e9  # nominal AVX-512: 2 FMA units x 16 fp32 lanes x 2 x 2.5 GHz
SPIKE_FACTOR, SPIKE_WINDOW, SPIKE_MIN = 1.5, 50, 10


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
