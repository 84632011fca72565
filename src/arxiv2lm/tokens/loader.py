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
from arxiv2lm.tokens.shards import (
    FORMAT_VERSION,
    INDEX_SCHEMA,
    UNITS_DIR,
    dtype_for,
    dtype_name,
)


class ShardError(ValueError):
    """A shard folder whose files disagree with its `meta.json` (or with the caller)."""


class TokenStream:
    """A split's unit files (memory-mapped) read as one array of N tokens: `len()` and
    contiguous slices, which may span units (only then are tokens copied).

    >>> s = TokenStream([np.arange(3), np.arange(3, 5)], np.dtype("<u2"))
    >>> len(s), s[2:4].tolist(), int(s[-1])
    (5, [2, 3], 4)
    """

    def __init__(self, files: list[np.ndarray], dtype: np.dtype) -> None:
        self.files, self.dtype = files, np.dtype(dtype)
        self.starts = np.cumsum([0, *(len(f) for f in files)]).astype(np.int64)  # (U + 1,)

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key: int | slice) -> Any:
        n = len(self)
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step != 1:
                raise ValueError("a token stream is sliced with step 1 only")
            if stop <= start:
                return np.zeros(0, self.dtype)
            first = int(np.searchsorted(self.starts, start, side="right")) - 1
            last = int(np.searchsorted(self.starts, stop, side="left"))  # units first..last-1
            pieces = [
                self.files[u][max(start, self.starts[u]) - self.starts[u] : stop - self.starts[u]]
                for u in range(first, last)
            ]
            return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        i = int(key) + n if int(key) < 0 else int(key)
        if not 0 <= i < n:
            raise IndexError(f"token {key} outside a stream of {n}")
        u = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.files[u][i - self.starts[u]]


@dataclass
class ShardSet:
    """One split of a shard folder: memory-mapped tokens, the document index, the meta."""

    dir: Path
    split: str
    tokens: TokenStream  # the units' memory-mapped files as one (N,) stream
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
        """Open a split's unit files read-only after checking them against `meta.json`."""
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
        files, indexes, base = [], [], 0
        for unit in meta.get("units", []):
            stem = shard_dir / UNITS_DIR / f"{unit['name']}.{split}"
            m = int(unit[split]["tokens"])
            bin_path, index_path = (
                stem.with_name(stem.name + ".bin"),
                stem.with_name(stem.name + ".index.parquet"),
            )
            size = bin_path.stat().st_size if bin_path.exists() else -1
            if size != m * dtype.itemsize:
                raise ShardError(
                    f"{bin_path}: {size} bytes, meta says {m} tokens x {dtype.itemsize} bytes"
                )
            if not index_path.exists():
                raise ShardError(f"{index_path} does not exist (a half-written shard folder?)")
            part = pd.read_parquet(index_path)
            if int(part["length"].sum()) != m:
                raise ShardError(
                    f"{index_path.name} covers {int(part['length'].sum())} tokens, meta says {m}"
                )
            part["offset"] += base  # unit offsets -> offsets in the split's stream
            indexes.append(part)
            if m:
                files.append(np.memmap(bin_path, dtype=dtype, mode="r"))
            base += m
        if base != n:
            raise ShardError(f"{meta_path}: units hold {base} {split} tokens, splits say {n}")
        tokens = TokenStream(files, dtype)
        index = (
            pd.concat(indexes, ignore_index=True)
            if indexes
            else pd.DataFrame({c: [] for c in INDEX_SCHEMA.names})
        )
        return cls(shard_dir, split, tokens, index, meta)

    def prefix(self, n_units: int) -> ShardSet:
        """The split as it was when it held only its first `n_units` units (a corpus grown
        since, by appending units, has them as its prefix): the same token offsets, the
        documents and tokens of those units only.

        >>> train.prefix(5).index.equals(old_train.index)                # doctest: +SKIP
        True
        """
        units = self.meta.get("units", [])
        if not 0 <= n_units <= len(units):
            raise ShardError(f"{self.dir}: a prefix of {n_units} units, the split has {len(units)}")
        if n_units == len(units):
            return self
        head = units[:n_units]
        docs = sum(int(u[self.split]["docs"]) for u in head)
        files = sum(1 for u in head if int(u[self.split]["tokens"]))  # files skip empty units
        tokens = TokenStream(self.tokens.files[:files], self.tokens.dtype)
        meta = {**self.meta, "units": head}
        index = self.index.iloc[:docs].reset_index(drop=True)
        if int(index["length"].sum()) != len(tokens):
            raise ShardError(f"{self.dir}: the first {n_units} units' index and tokens disagree")
        return ShardSet(self.dir, self.split, tokens, index, meta)

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
