"""The data stages' sections of `params.yaml`: ingest to shard, and report.

Each is a frozen dataclass; range checks live in `__post_init__` (see `arxiv2lm.params`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from arxiv2lm.params.errors import ParamsError


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
    max_paper_mb: float  # TeX-relevant bytes kept per paper (figures do not count)
    max_member_mb: float  # decompressed bytes walked per member, figures included
    max_ratio: float  # walked / stored bytes of a member, beyond its first MiB
    timeout_s: float  # per member (header, read, classify); 0: no limit
    workers: int

    def __post_init__(self) -> None:
        if self.timeout_s < 0:
            raise ParamsError(f"validate: timeout_s {self.timeout_s} must be >= 0")
        for key in ("max_paper_mb", "max_member_mb"):
            if getattr(self, key) <= 0:
                raise ParamsError(f"validate: {key} {getattr(self, key)} must be > 0")
        if self.max_member_mb < self.max_paper_mb:
            raise ParamsError(
                f"validate: max_member_mb {self.max_member_mb} is below "
                f"max_paper_mb {self.max_paper_mb} (a member holds its paper's TeX)"
            )
        if self.max_ratio < 1:
            raise ParamsError(f"validate: max_ratio {self.max_ratio} must be >= 1")


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
        for key in ("min_chars", "min_words"):
            if getattr(self, key) < 0:
                raise ParamsError(f"normalize: {key} {getattr(self, key)} must be >= 0")
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
    # SentencePiece's split_by_unicode_script: false lets `\frac{` and `^{` be pieces.
    split_by_script: bool = False
    # true keeps pieces within words (the HF export requires it: train/hf_export.py).
    split_by_whitespace: bool = True
    # SentencePiece's max_sentencepiece_length: the longest piece, in characters. Long
    # pieces fit the training sample, not the corpus the model then reads (README).
    max_piece_chars: int = 16
    # Train on prose cut between words and punctuation (math whole): no `model,` pieces.
    split_prose_punct: bool = True
    # A trained tokenizer.model to keep instead of training one ("" = train). Pinning it
    # keeps every token id, so a monthly update re-encodes only the new month's papers.
    reuse: str = ""
    # Optional folder of real paper sources (sub-folders, SOURCES.tsv) also scored by the
    # stage, relative to the repo root; absent: skipped with a message, "" = off. Not a DVC
    # dependency: after changing its files, `dvc repro -f tokenizer`.
    real_papers: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.max_piece_chars <= 64:
            raise ParamsError(f"tokenizer: max_piece_chars {self.max_piece_chars} not in [1, 64]")


@dataclass(frozen=True)
class ShardParams:
    val_fraction: float
    split_salt: str
    workers: int


@dataclass(frozen=True)
class ReportParams:
    dpi: int
    # Tokens of the funnel: `exact` encodes every paper's text once (~3 MB/s per core);
    # `sampled` encodes a seeded `sample_fraction` of the papers and scales by bytes.
    count_tokens: Literal["exact", "sampled"] = "exact"
    sample_fraction: float = 0.05
    seed: int = 0
    workers: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.sample_fraction <= 1:
            raise ParamsError(f"report: sample_fraction {self.sample_fraction} must be in (0, 1]")

    @property
    def count_fraction(self) -> float:
        """Share of the papers whose tokens are counted (1.0 when exact)."""
        return 1.0 if self.count_tokens == "exact" else self.sample_fraction
