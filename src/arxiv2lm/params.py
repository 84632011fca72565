"""One frozen dataclass per `params.yaml` section, and one strict loader.

>>> p = load_params("tokenizer", "params.yaml")   # doctest: +SKIP
>>> p.vocab_size                                  # doctest: +SKIP
4096

The loader rejects unknown keys, missing keys and wrong types with a message that names
the section, the key and the value, before any stage does work.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml


class ParamsError(ValueError):
    """A params.yaml section that does not match its dataclass."""


@dataclass(frozen=True)
class S3Params:
    """Where `source: s3` reads; credentials come from the AWS environment, never from here."""

    bucket: str = "arxiv"
    prefix: str = ""
    region: str = "us-east-1"
    endpoint_url: str = ""
    requester_pays: bool = True
    yymm_from: str = ""
    yymm_to: str = ""
    yymm_list: list[str] = dataclasses.field(default_factory=list)
    max_chunks: int = 0
    download_workers: int = 4


@dataclass(frozen=True)
class IngestParams:
    source: Literal["sample", "local", "s3"]
    local_dir: str
    snapshot: str
    seed: int
    n_papers: int
    papers_per_chunk: int
    s3: S3Params = dataclasses.field(default_factory=S3Params)

    def __post_init__(self) -> None:
        if self.source == "local" and not (self.local_dir and self.snapshot):
            raise ParamsError("ingest: source local needs ingest.local_dir and ingest.snapshot")
        if self.source == "s3" and not self.snapshot:
            raise ParamsError("ingest: source s3 needs ingest.snapshot (a path or s3://bucket/key)")


@dataclass(frozen=True)
class FilterParams:
    groups: dict[str, list[str]]
    from_date: str
    to_date: str
    licenses: list[str]
    drop_withdrawn: bool


@dataclass(frozen=True)
class ValidateParams:
    verify_md5: bool
    max_paper_mb: float
    max_ratio: float
    timeout_s: float  # per member (header, read, classify); 0: no limit
    workers: int

    def __post_init__(self) -> None:
        if self.timeout_s < 0:
            raise ParamsError(f"validate: timeout_s {self.timeout_s} must be >= 0")


@dataclass(frozen=True)
class ExtractParams:
    keep_title: bool
    keep_abstract: bool
    keep_appendix: bool
    keep_bibliography: bool
    max_input_depth: int
    max_expanded_mb: float
    max_macro_expansions: int
    timeout_s: float
    workers: int

    def __post_init__(self) -> None:
        for key in ("max_input_depth", "max_expanded_mb", "max_macro_expansions"):
            if getattr(self, key) <= 0:
                raise ParamsError(f"extract: {key} {getattr(self, key)} must be > 0")
        if self.timeout_s < 0:
            raise ParamsError(f"extract: timeout_s {self.timeout_s} must be >= 0 (0 = no limit)")


@dataclass(frozen=True)
class NormalizeParams:
    min_chars: int
    min_words: int
    max_command_density: float
    min_alpha_ratio: float
    max_dup_line_fraction: float
    near_dup_threshold: float  # MinHash-estimated Jaccard of word shingles; 1.0 = off
    minhash_perm: int
    shingle_words: int
    timeout_s: float  # per paper, like extract's; over it the paper is dropped as `timeout`
    workers: int

    def __post_init__(self) -> None:
        if self.timeout_s < 0:
            raise ParamsError(f"normalize: timeout_s {self.timeout_s} must be >= 0 (0 = no limit)")
        for key in ("max_command_density", "min_alpha_ratio", "max_dup_line_fraction"):
            if not 0 <= getattr(self, key) <= 1:
                raise ParamsError(f"normalize: {key} {getattr(self, key)} must be in [0, 1]")
        for key in ("minhash_perm", "shingle_words"):
            if getattr(self, key) < 1:
                raise ParamsError(f"normalize: {key} {getattr(self, key)} must be >= 1")
        if self.near_dup_threshold <= 0:
            raise ParamsError(
                f"normalize: near_dup_threshold {self.near_dup_threshold} must be > 0"
            )


@dataclass(frozen=True)
class TokenizerParams:
    model_type: Literal["bpe", "unigram"]
    vocab_size: int
    latex_symbols: Literal["none", "mined", "list"]
    symbol_list: list[str]
    n_mined_symbols: int
    split_digits: bool
    byte_fallback: bool
    character_coverage: float
    normalization: Literal["identity", "nfkc"]
    sample_mb: float
    heldout_fraction: float
    seed: int


@dataclass(frozen=True)
class ShardParams:
    val_fraction: float
    split_salt: str
    workers: int


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


@dataclass(frozen=True)
class ReportParams:
    dpi: int


SECTIONS: dict[str, type] = {
    "ingest": IngestParams,
    "filter": FilterParams,
    "validate": ValidateParams,
    "extract": ExtractParams,
    "normalize": NormalizeParams,
    "tokenizer": TokenizerParams,
    "shard": ShardParams,
    "pretrain": PretrainParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
}


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the type hint `tp`, returning it converted (lists, dataclasses)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        return {
            _convert(k, args[0], f"{where} key"): _convert(v, args[1], f"{where}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{where}: expected a string, got {value!r}")
        return value
    raise ParamsError(f"{where}: unsupported type {tp!r}")  # pragma: no cover - schema bug


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, field in fields.items():
        if name not in raw:
            if field.default is not dataclasses.MISSING:
                continue
            raise ParamsError(f"{where}: missing key {name!r}")
        values[name] = _convert(raw[name], hints[name], f"{where}.{name}")
    return cls(**values)


def parse_section(section: str, raw: Any) -> Any:
    """Build the dataclass of `section` from an already-parsed mapping."""
    if section not in SECTIONS:
        raise ParamsError(f"no params section {section!r} (known: {', '.join(SECTIONS)})")
    if not isinstance(raw, dict):
        raise ParamsError(f"params section {section!r} must be a mapping, got {raw!r}")
    return _build(SECTIONS[section], raw, section)


def load_params(section: str, path: str | os.PathLike[str] = "params.yaml") -> Any:
    """Load and check one section of `params.yaml`."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"params file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    if section not in doc:
        raise ParamsError(f"{path}: no section {section!r}")
    return parse_section(section, doc[section])


def resolve_workers(workers: int) -> int:
    """`workers: 0` means every core this process may use."""
    if workers < 0:
        raise ParamsError(f"workers {workers} must be >= 0")
    if workers:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)
