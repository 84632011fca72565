"""Training recipes: a preset is a whole run (model, batch, schedule, token budget, curriculum).

`params.yaml` names a preset and overrides any field; `resolve_recipe` turns both into the
concrete numbers a run uses, and `describe` prints them before any work.

>>> r = resolve_recipe(params, vocab_size=102400, world_size=2)      # doctest: +SKIP
>>> r.tokens_per_step(), r.max_steps                                 # doctest: +SKIP
(1048576, 52567)

Phase fractions are shares of the training *tokens*; each phase's steps are its tokens over
its tokens per step (global_batch x the phase's seq_len), rounded on the cumulative sum so
the boundaries do not drift. With `max_steps` set, the steps are shared out in the same
proportions instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from arxiv2lm.params import ParamsError, Phase, PretrainParams
from arxiv2lm.train.model import (
    CE_CHUNK_LOGITS,
    ModelConfig,
    count_params,
    resolve_model_config,
)

GiB = 2**30
_LOW_MATH_FIRST = {"low": 0.6, "mid": 0.3, "high": 0.1}


@dataclass(frozen=True)
class RecipeDefaults:
    """What a preset sets besides the model; `vocab_size` is the tokenizer it is meant for."""

    micro_batch: int
    global_batch: int
    train_tokens: int
    lr: float
    min_lr: float
    warmup_steps: int
    phases: list[Phase]
    vocab_size: int
    note: str


RECIPES: dict[str, RecipeDefaults] = {
    # The CPU sample: ~300 steps of 16 x 128 tokens in about a minute on two cores.
    "tiny": RecipeDefaults(
        micro_batch=16,
        global_batch=16,
        train_tokens=550_000,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=30,
        phases=[
            Phase("warmup-prose", 0.1, 64, _LOW_MATH_FIRST),
            Phase("full-mix", 0.9, 128, {}),  # natural: every bucket about once
        ],
        vocab_size=4096,
        note="the bundled sample on a CPU",
    ),
    # GPT-2 small scale: ~20 tokens per parameter (Chinchilla), 262k tokens per step.
    "small": RecipeDefaults(
        micro_batch=16,
        global_batch=256,
        train_tokens=2_200_000_000,
        lr=6e-4,
        min_lr=6e-5,
        warmup_steps=1000,
        phases=[
            Phase("warmup-prose", 0.02, 256, _LOW_MATH_FIRST),
            Phase("full-mix", 0.98, 1024, {}),
        ],
        vocab_size=32768,
        note="one GPU, a few billion tokens",
    ),
    # The paper: 1.36B parameters, 52B tokens, ~1M tokens per step, 2 x A100 80GB.
    "paper-1.36b": RecipeDefaults(
        micro_batch=8,
        global_batch=512,
        train_tokens=52_000_000_000,
        lr=3e-4,
        min_lr=3e-5,
        warmup_steps=2000,
        phases=[
            Phase("warmup-prose", 0.02, 512, _LOW_MATH_FIRST),
            Phase("full-mix", 0.98, 2048, {}),
        ],
        vocab_size=102400,
        note="the paper's run; tokenizer and evaluate settings in configs/paper-1.36b.yaml",
    ),
}


@dataclass(frozen=True)
class Recipe:
    """The concrete numbers of a run (see the module docstring)."""

    preset: str
    model: ModelConfig
    world_size: int
    micro_batch: int
    global_batch: int
    grad_accum: int
    lr: float
    min_lr: float
    warmup_steps: int
    phases: list[Phase]
    boundaries: list[int]  # the first step after each phase; the last one is max_steps

    @property
    def max_steps(self) -> int:
        return self.boundaries[-1]

    def phase_at(self, step: int) -> tuple[int, Phase, int]:
        """(index, phase, first step of the phase) covering `step`; past the end, the last.

        >>> r = Recipe("t", None, 1, 1, 1, 1, 1.0, 0.1, 0, [a, b], [10, 40])  # doctest: +SKIP
        >>> r.phase_at(9)[0], r.phase_at(10)[0], r.phase_at(99)[0]          # doctest: +SKIP
        (0, 1, 1)
        """
        start = 0
        for i, end in enumerate(self.boundaries):
            if step < end or i == len(self.boundaries) - 1:
                return i, self.phases[i], start
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    def tokens_per_step(self, phase: int | None = None) -> int:
        """Tokens of one optimizer step, all processes (the last phase's by default)."""
        p = self.phases[-1 if phase is None else phase]
        return self.global_batch * p.seq_len

    def phase_steps(self) -> list[int]:
        return [b - a for a, b in zip([0, *self.boundaries[:-1]], self.boundaries, strict=True)]

    def total_tokens(self) -> int:
        return sum(n * self.tokens_per_step(i) for i, n in enumerate(self.phase_steps()))

    def defining(self) -> dict[str, Any]:
        """What defines the run's trajectory (hashed), not how it is executed."""
        return {
            "model": dataclasses.asdict(self.model),
            "global_batch": self.global_batch,
            "lr": self.lr,
            "min_lr": self.min_lr,
            "warmup_steps": self.warmup_steps,
            "phases": [dataclasses.asdict(p) for p in self.phases],
            "boundaries": self.boundaries,
        }


def _boundaries(weights: list[float], total: float) -> list[int]:
    """Cumulative round(total * share) per phase, each phase with weight > 0 at least 1 step.

    >>> _boundaries([0.1 / 64, 0.9 / 128], 295.4)
    [54, 295]
    """
    out, cum, s = [], 0.0, sum(weights)
    for w in weights:
        cum += w
        b = round(cum / s * total)
        prev = out[-1] if out else 0
        out.append(max(b, prev + (1 if w > 0 else 0)))
    return out


def resolve_recipe(params: PretrainParams, vocab_size: int, world_size: int) -> Recipe:
    """The preset's recipe with every non-null field of `params` applied (see module doc)."""
    if params.preset not in RECIPES:
        raise ParamsError(
            f"pretrain.preset: unknown preset {params.preset!r} (known: {', '.join(RECIPES)})"
        )
    d = RECIPES[params.preset]
    cfg = resolve_model_config(params.preset, params.model, vocab_size)

    def pick(name: str) -> Any:
        value = getattr(params, name)
        return getattr(d, name) if value is None else value

    micro, global_batch = pick("micro_batch"), pick("global_batch")
    lr, min_lr = pick("lr"), pick("min_lr")
    if min_lr > lr:
        raise ParamsError(f"pretrain: min_lr {min_lr} is above lr {lr}")
    phases = pick("phases")
    longest = max(p.seq_len for p in phases)
    if longest > cfg.seq_len:
        raise ParamsError(f"pretrain: phase seq_len {longest} exceeds the model's {cfg.seq_len}")
    if params.micro_batch is None:  # the preset's micro-batch, shrunk to divide evenly
        per_rank = global_batch // world_size if global_batch % world_size == 0 else 0
        micro = next((m for m in range(micro, 0, -1) if per_rank and per_rank % m == 0), micro)
    per_step = micro * world_size
    if global_batch % per_step:
        raise ParamsError(
            f"pretrain: global_batch {global_batch} is not a multiple of micro_batch {micro} x "
            f"{world_size} process(es); try micro_batch "
            f"{_divisors_hint(global_batch, world_size)}"
        )
    # A phase's steps are proportional to its share of tokens over its tokens per step.
    weights = [p.fraction / p.seq_len for p in phases]
    if params.max_steps is not None:
        total_steps = float(params.max_steps)
    else:  # steps of phase p = fraction_p x budget / (global_batch x seq_p), summed
        share = sum(weights) / sum(p.fraction for p in phases)
        total_steps = share * pick("train_tokens") / global_batch
    bounds = _boundaries(weights, total_steps)
    return Recipe(
        preset=params.preset,
        model=cfg,
        world_size=world_size,
        micro_batch=micro,
        global_batch=global_batch,
        grad_accum=global_batch // per_step,
        lr=lr,
        min_lr=min_lr,
        warmup_steps=pick("warmup_steps"),
        phases=phases,
        boundaries=bounds,
    )


def _divisors_hint(global_batch: int, world_size: int) -> str:
    per_rank = global_batch // world_size if global_batch % world_size == 0 else 0
    options = [m for m in (1, 2, 4, 8, 16, 32, 64) if per_rank and per_rank % m == 0]
    return " or ".join(map(str, options)) if options else "(global_batch must divide evenly)"


def estimate_memory(
    recipe: Recipe,
    zero_stage: int,
    activation_checkpointing: bool,
    checkpoint_every: int,
) -> dict[str, float]:
    """Bytes per process, by part: an estimate to plan with, not a measurement.

    bf16 weights (2N) + fp32 accumulated gradients (4N) + fp32 master weights and Adam's
    two moments (12N), the last two partitioned over processes by ZeRO-2 (gradients from
    stage 2, optimizer states from stage 1); activations per layer ~34 x seq x micro x d
    bytes with a fused attention kernel (Korthikanti et al. 2022, table 2), only the block
    input (2 x seq x micro x d) for checkpointed blocks plus one block's recompute.
    """
    cfg, n = recipe.model, count_params(recipe.model)
    w = recipe.world_size
    grads = 4 * n / (w if zero_stage >= 2 else 1)
    optim = 12 * n / (w if zero_stage >= 1 else 1)
    sbh = recipe.phases[-1].seq_len * recipe.micro_batch * cfg.d_model
    full = 34 * sbh
    if activation_checkpointing:
        kept = -(-cfg.n_layer // checkpoint_every)  # blocks 0, k, 2k, ...
        acts = kept * 2 * sbh + (cfg.n_layer - kept) * full + full
    else:
        acts = cfg.n_layer * full
    # The chunked loss holds one chunk of logits (bf16 + fp32 CE) and an fp32 dW of the head.
    rows = recipe.micro_batch * recipe.phases[-1].seq_len
    logits = 6 * min(CE_CHUNK_LOGITS, rows * cfg.vocab_size) + 4 * cfg.vocab_size * cfg.d_model
    parts = {"weights": 2 * n, "grads": grads, "optimizer": optim, "activations": acts}
    parts["logits"] = logits
    parts["total"] = sum(parts.values())
    return parts


def describe(recipe: Recipe, memory: dict[str, float], device: str) -> str:
    """The resolved recipe as the lines printed before training."""
    d = RECIPES[recipe.preset]
    cfg = recipe.model
    lines = [
        f"recipe {recipe.preset!r} ({d.note}):",
        f"  model       {count_params(cfg) / 1e6:,.1f}M params: {cfg.n_layer} layers x "
        f"d {cfg.d_model}, {cfg.n_head} heads, d_ff {cfg.d_ff}, context {cfg.seq_len}, "
        f"vocab {cfg.vocab_size:,}",
        f"  batch       {recipe.global_batch} sequences per step = micro_batch "
        f"{recipe.micro_batch} x grad_accum {recipe.grad_accum} x {recipe.world_size} "
        f"process(es); {recipe.tokens_per_step():,} tokens per step at seq "
        f"{recipe.phases[-1].seq_len}",
        f"  schedule    lr {recipe.lr:g} -> {recipe.min_lr:g} (cosine), warmup "
        f"{recipe.warmup_steps:,} steps, {recipe.max_steps:,} steps, "
        f"{recipe.total_tokens():,} tokens ({recipe.total_tokens() / 1e9:.2f}B)",
    ]
    for i, (p, n) in enumerate(zip(recipe.phases, recipe.phase_steps(), strict=True)):
        mix = p.mixture or "natural (bucket sizes)"
        lines.append(
            f"  phase {i}     {p.name!r}: {n:,} steps at seq {p.seq_len} "
            f"({n * recipe.tokens_per_step(i):,} tokens), mixture {mix}"
        )
    parts = ", ".join(f"{k} {v / GiB:.1f}" for k, v in memory.items() if k != "total")
    lines.append(f"  memory      ~{memory['total'] / GiB:.1f} GiB per {device} ({parts} GiB)")
    if cfg.vocab_size != d.vocab_size:
        lines.append(
            f"  note        the tokenizer has {cfg.vocab_size:,} pieces; this recipe is meant "
            f"for {d.vocab_size:,} (tokenizer.vocab_size)"
        )
    return "\n".join(lines)
