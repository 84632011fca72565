"""The training sections of `params.yaml`: pretrain (with its model and phases) and evaluate.

A pretrain `preset` names a whole recipe (`arxiv2lm.train.recipe`); null fields take its values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from arxiv2lm.params.errors import ParamsError


@dataclass(frozen=True)
class ModelOverrides:
    """Model fields; `None` means "take the preset's value"."""

    n_layer: int | None = None
    n_head: int | None = None
    d_model: int | None = None
    d_ff: int | None = None
    seq_len: int | None = None
    dropout: float | None = None


@dataclass(frozen=True)
class Phase:
    """A curriculum phase: a share of the run's training tokens at one sequence length.

    `mixture` gives the share of each step's rows drawn from each math-density bucket;
    an empty mixture means "natural" (in proportion to the buckets' sizes).
    """

    name: str
    fraction: float  # of the run's training tokens (normalised over the phases)
    seq_len: int
    mixture: dict[str, float]

    def __post_init__(self) -> None:
        if self.fraction < 0:
            raise ParamsError(f"pretrain: phase {self.name!r} fraction {self.fraction} < 0")
        if self.seq_len < 1:
            raise ParamsError(f"pretrain: phase {self.name!r} seq_len {self.seq_len} < 1")
        bad = {b: w for b, w in self.mixture.items() if w < 0}
        if bad:
            raise ParamsError(f"pretrain: phase {self.name!r} mixture weights < 0: {bad}")


@dataclass(frozen=True)
class PretrainParams:
    """The `pretrain:` section. `preset` names a whole recipe (model, batch, schedule, token
    budget, curriculum); every field left null here takes the preset's value."""

    preset: str
    model: ModelOverrides
    gpus: int  # 0: CPU; N: N GPUs on this node (torchrun)
    cpu_processes: int  # processes when gpus is 0 (torchrun with gloo when > 1)
    threads: int  # torch intra-op threads per process; 0: the cores this stage may use / processes
    micro_batch: int | None  # sequences per process per forward (an execution detail)
    global_batch: int | None  # sequences per optimizer step over all processes
    train_tokens: int | None  # the token budget; steps follow from it and the phases
    max_steps: int | None  # overrides train_tokens when set
    lr: float | None
    min_lr: float | None
    warmup_steps: int | None
    weight_decay: float
    grad_clip: float
    zero_stage: int
    bf16: bool
    optimizer: Literal["torch_adamw", "ds_fused_adam"]  # torch_adamw is fused on GPU
    activation_checkpointing: bool
    activation_checkpoint_every: int  # 1: every block; 2: every 2nd (faster, more memory)
    compile: bool  # torch.compile the model (GPU; minutes of warm-up, worth it at scale)
    peak_tflops: float  # for MFU; 0: from the GPU's name (A100 312, H100/H200 989)
    max_bucket_epochs: float  # warn when a phase repeats a math bucket more often than this
    log_every: int
    eval_every: int
    eval_batches: int
    checkpoint_every: int
    keep_checkpoints: int
    seed: int
    resume_from: str  # "": none; a checkpoint step folder or an export to start from
    phases: list[Phase] | None
    # A train split grown by appending units (next month's chunks): "continue" the run it
    # grew from (steps already trained keep their batches; the rest draw from all units),
    # or start a "new_run" (the run hash includes the split's size).
    grown_data: Literal["continue", "new_run"] = "continue"

    def __post_init__(self) -> None:
        at_least = {
            "gpus": (self.gpus, 0),
            "cpu_processes": (self.cpu_processes, 1),
            "threads": (self.threads, 0),
            "micro_batch": (self.micro_batch, 1),
            "global_batch": (self.global_batch, 1),
            "train_tokens": (self.train_tokens, 1),
            "max_steps": (self.max_steps, 1),
            "warmup_steps": (self.warmup_steps, 0),
            "activation_checkpoint_every": (self.activation_checkpoint_every, 1),
            "log_every": (self.log_every, 1),
            "eval_every": (self.eval_every, 1),
            "eval_batches": (self.eval_batches, 1),
            "checkpoint_every": (self.checkpoint_every, 1),
            "keep_checkpoints": (self.keep_checkpoints, 0),
        }
        for key, (value, low) in at_least.items():
            if value is not None and value < low:
                raise ParamsError(f"pretrain.{key}: {value} must be >= {low}")
        positive = {"lr": self.lr, "min_lr": self.min_lr, "grad_clip": self.grad_clip}
        positive["max_bucket_epochs"] = self.max_bucket_epochs
        for key, value in positive.items():
            if value is not None and not value > 0:
                raise ParamsError(f"pretrain.{key}: {value} must be > 0")
        if self.lr is not None and self.min_lr is not None and self.min_lr > self.lr:
            raise ParamsError(f"pretrain.min_lr: {self.min_lr} is above lr {self.lr}")
        if self.weight_decay < 0 or self.peak_tflops < 0:
            raise ParamsError(
                f"pretrain: weight_decay {self.weight_decay} and peak_tflops "
                f"{self.peak_tflops} must be >= 0"
            )
        if self.phases is not None and (
            not self.phases or sum(p.fraction for p in self.phases) <= 0
        ):
            raise ParamsError("pretrain.phases: needs at least one phase with fraction > 0")


@dataclass(frozen=True)
class EvaluateParams:
    seq_len: int | None  # None: the model's context length (from the export's config)
    max_docs: int  # 0: every val document; N: a seeded sample of N documents across the split
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        if self.seq_len is not None and self.seq_len < 1:
            raise ParamsError(f"evaluate: seq_len {self.seq_len} must be >= 1 (or null)")
        if self.max_docs < 0:
            raise ParamsError(f"evaluate: max_docs {self.max_docs} must be >= 0")
        if self.batch_size < 1:
            raise ParamsError(f"evaluate: batch_size {self.batch_size} must be >= 1")
