"""Learning-rate schedule: linear warm-up, then cosine decay to `min_lr` at `max_steps`.

>>> lr_at(0, lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=100)
0.1
>>> lr_at(100, lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=100)
0.1
"""

from __future__ import annotations

import math


def lr_at(step: int, lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> float:
    """The LR for optimizer step `step` (0-based); a pure function, so resume is exact."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)
