"""Read token shards: checked opening and consecutive evaluation windows.

>>> train = ShardSet.open(Path("data/shard"), "train")          # doctest: +SKIP
>>> train.vocab_size, len(train.tokens)                          # doctest: +SKIP
(4096, 377891)

Training windows (epochs over math buckets) are drawn by `arxiv2lm.tokens.sampler`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arxiv2lm.io import read_json
from arxiv2lm.tokens.shards import FORMAT_VERSION, dtype_for, dtype_name


class ShardError(ValueError):
    """A shard folder whose files disagree with its `meta.json` (or with the caller)."""


@dataclass
class ShardSet:
    """One split of a shard folder: memory-mapped tokens, the document index, the meta."""

    dir: Path
    split: str
    tokens: np.ndarray  # np.memmap of dtype uint16|uint32, shape (N,)
    index: pd.DataFrame  # id, domain, bucket, offset, length, bytes; in token order
    meta: dict[str, Any]

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eos_id(self) -> int:
        return int(self.meta["eos_id"])

    @property
    def bos_id(self) -> int:
        return int(self.meta["bos_id"])

    @classmethod
    def open(
        cls, shard_dir: Path, split: str, expect_tokenizer_sha256: str | None = None
    ) -> ShardSet:
        """Open `<split>.bin` read-only after checking it against `meta.json`."""
        shard_dir = Path(shard_dir)
        meta_path = shard_dir / "meta.json"
        if not meta_path.exists():
            raise ShardError(f"{meta_path} does not exist (did the shard stage run?)")
        meta = read_json(meta_path)
        if meta.get("format_version") != FORMAT_VERSION:
            raise ShardError(
                f"{meta_path}: format_version {meta.get('format_version')!r}, "
                f"this reader knows {FORMAT_VERSION}"
            )
        vocab = int(meta["vocab_size"])
        dtype = dtype_for(vocab)
        if meta.get("dtype") != dtype_name(dtype):
            raise ShardError(
                f"{meta_path}: dtype {meta.get('dtype')!r} but vocab_size {vocab} needs "
                f"{dtype_name(dtype)}"
            )
        if not 0 <= int(meta["eos_id"]) < vocab:
            raise ShardError(f"{meta_path}: eos_id {meta['eos_id']} outside vocab_size {vocab}")
        if expect_tokenizer_sha256 is not None and (
            meta.get("tokenizer_sha256") != expect_tokenizer_sha256
        ):
            raise ShardError(
                f"{meta_path}: shards were encoded with tokenizer {meta.get('tokenizer_sha256')}"
                f", expected {expect_tokenizer_sha256} (re-run the shard stage)"
            )
        if split not in meta.get("splits", {}):
            raise ShardError(f"{meta_path}: no split {split!r} (has {sorted(meta['splits'])})")
        n = int(meta["splits"][split]["tokens"])
        bin_path = shard_dir / f"{split}.bin"
        size = bin_path.stat().st_size if bin_path.exists() else -1
        if size != n * dtype.itemsize:
            raise ShardError(
                f"{bin_path}: {size} bytes, meta says {n} tokens x {dtype.itemsize} bytes"
            )
        tokens = np.memmap(bin_path, dtype=dtype, mode="r") if n else np.zeros(0, dtype)
        index_path = shard_dir / f"{split}.index.parquet"
        if not index_path.exists():
            raise ShardError(f"{index_path} does not exist (a half-written shard folder?)")
        index = pd.read_parquet(index_path)
        if int(index["length"].sum()) != n:
            raise ShardError(
                f"{split}.index.parquet covers {int(index['length'].sum())} tokens, meta says {n}"
            )
        return cls(shard_dir, split, tokens, index, meta)

    def bytes_per_token(self, domain: str | None = None) -> float:
        """UTF-8 bytes of text per token (EOS included), for bits-per-byte from a loss."""
        s = self.meta["splits"][self.split]
        if domain is not None:
            if domain not in s["domains"]:
                raise ShardError(f"no domain {domain!r} in split {self.split!r}")
            s = s["domains"][domain]
        if not s["tokens"]:
            raise ShardError(f"split {self.split!r} domain {domain!r} has no tokens")
        return s["bytes"] / s["tokens"]


def iter_eval_windows(
    shards: ShardSet,
    seq_len: int,
    batch_size: int,
    max_batches: int,
    domain: str | None = None,
) -> Iterator[np.ndarray]:
    """Consecutive windows from the start of the split (or of one domain's documents).

    Windows step by `seq_len`, so each target token is scored once. Each yield is int64
    (B, seq_len + 1); the last batch may have fewer rows. A split shorter than one window
    raises; a domain with fewer tokens (or absent) yields nothing.
    """
    t = seq_len + 1
    need = max_batches * batch_size * seq_len + 1  # tokens that max_batches can use
    if domain is None:
        stream = shards.tokens
        if len(stream) < t:
            raise ValueError(f"split {shards.split!r} has {len(stream)} tokens < {t}")
    else:
        rows = shards.index[shards.index["domain"] == domain]
        parts, have = [], 0
        for off, length in zip(rows["offset"], rows["length"], strict=True):
            parts.append(np.asarray(shards.tokens[off : off + min(length, need - have)]))
            have += len(parts[-1])
            if have >= need:
                break
        stream = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    n_windows = min((len(stream) - 1) // seq_len, max_batches * batch_size)
    for b0 in range(0, n_windows, batch_size):
        rows_ = range(b0, min(b0 + batch_size, n_windows))
        yield np.stack(
            [np.asarray(stream[i * seq_len : i * seq_len + t], dtype=np.int64) for i in rows_]
        )
