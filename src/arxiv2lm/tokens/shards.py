"""Token shards: per-chunk units of documents, each followed by EOS, and the index over them.

>>> split_of("2301.00001", 0.08, "arxiv2lm") in ("train", "val")
True
>>> math_bucket(0.15)
'mid'

A shard folder holds, for each source chunk (one normalize part) and split, a unit:
`units/<chunk>.<split>.bin` (raw little-endian uint16, or uint32 when the vocabulary does
not fit 16 bits) and `units/<chunk>.<split>.index.parquet` (one row per document: id,
domain, bucket, offset and length in tokens incl. EOS within the unit, UTF-8 bytes). The
shared `meta.json` describes them: format version, dtype, vocab, EOS, tokenizer hash, counts
per split, and `units`, the index: every unit in chunk (time) order with its tokens and
documents per split. A split's token stream is its units concatenated in that order, so a
new month appends its units and every older document keeps its offset. `loader.ShardSet`
checks that description before reading a token. Units are built by `tokens.encode`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from arxiv2lm.io import ParquetBatchWriter, temp_sibling, write_json

FORMAT_VERSION = 2  # 2: per-chunk units and their index (1: one file per split)
SPLITS = ("train", "val")
UNITS_DIR = "units"  # <shard dir>/units/<chunk>.<split>.{bin,index.parquet}

# Math-density buckets on normalize's `math_fraction` (share of characters inside math):
# low < 0.1 <= mid < 0.3 <= high. 0.1 is about one display equation per page of prose,
# 0.3 is a derivation-heavy paper; the curriculum mixes by these names.
BUCKET_MID = 0.1
BUCKET_HIGH = 0.3
BUCKETS = ("low", "mid", "high")

INDEX_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("bucket", pa.string()),
        ("offset", pa.int64()),
        ("length", pa.int64()),
        ("bytes", pa.int64()),
    ]
)


def dtype_for(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every id: uint16 up to 65536 ids, else uint32."""
    if vocab_size <= 0:
        raise ValueError(f"vocab_size {vocab_size} must be positive")
    if vocab_size <= 2**16:
        return np.dtype("<u2")
    if vocab_size <= 2**32:
        return np.dtype("<u4")
    raise ValueError(f"vocab_size {vocab_size} does not fit uint32 shards")


def dtype_name(dtype: np.dtype) -> str:
    return {np.dtype("<u2"): "uint16", np.dtype("<u4"): "uint32"}[np.dtype(dtype)]


def split_of(doc_id: str, val_fraction: float, salt: str) -> str:
    """`"val"` for a stable `val_fraction` of ids (SHA-1 of salt + id), else `"train"`."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction {val_fraction} must be in [0, 1)")
    digest = hashlib.sha1(f"{salt}\x00{doc_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "val" if u < val_fraction else "train"


def math_bucket(math_fraction: float) -> str:
    """`low` | `mid` | `high` math density, by `BUCKET_MID` and `BUCKET_HIGH`."""
    if math_fraction < BUCKET_MID:
        return "low"
    if math_fraction < BUCKET_HIGH:
        return "mid"
    return "high"


def _empty_split() -> dict[str, Any]:
    return {"tokens": 0, "docs": 0, "bytes": 0, "domains": {}, "buckets": {}}


class ShardWriter:
    """Stream one split's tokens to `<split>.bin` and its index, atomically on `close()`.

    >>> with ShardWriter(out_dir, "train", vocab_size=4096, eos_id=2) as w:  # doctest: +SKIP
    ...     w.add("2301.00001", "math", "low", [17, 99], nbytes=12)   # writes 17 99 2
    """

    def __init__(
        self, out_dir: Path, split: str, vocab_size: int, eos_id: int, unit: str = ""
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        if not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos_id {eos_id} is outside vocab_size {vocab_size}")
        self.dtype = dtype_for(vocab_size)
        self.vocab_size = vocab_size
        self.eos_id = eos_id
        stem = f"{unit}.{split}" if unit else split
        self.path = Path(out_dir) / f"{stem}.bin"
        self._tmp = temp_sibling(self.path)
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._index = ParquetBatchWriter(Path(out_dir) / f"{stem}.index.parquet", INDEX_SCHEMA)
        self.stats = _empty_split()

    def add(self, doc_id: str, domain: str, bucket: str, ids: Sequence[int], nbytes: int) -> int:
        """Append one document (its ids, then EOS); return its length in tokens incl. EOS."""
        arr = np.empty(len(ids) + 1, dtype=np.int64)
        arr[:-1] = ids
        arr[-1] = self.eos_id
        if len(ids) and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise ValueError(f"{doc_id}: token id outside vocab_size {self.vocab_size}")
        offset = self.stats["tokens"]
        self._fh.write(arr.astype(self.dtype).tobytes())
        n = len(arr)
        self._index.write(
            {
                "id": doc_id,
                "domain": domain,
                "bucket": bucket,
                "offset": offset,
                "length": n,
                "bytes": int(nbytes),
            }
        )
        s = self.stats
        s["tokens"] += n
        s["docs"] += 1
        s["bytes"] += int(nbytes)
        d = s["domains"].setdefault(domain, {"tokens": 0, "bytes": 0, "docs": 0})
        d["tokens"] += n
        d["bytes"] += int(nbytes)
        d["docs"] += 1
        b = s["buckets"].setdefault(bucket, {"tokens": 0, "docs": 0})
        b["tokens"] += n
        b["docs"] += 1
        return n

    def close(self) -> dict[str, Any]:
        self._fh.close()
        self._index.close()
        os.replace(self._tmp, self.path)
        return self.stats

    def abort(self) -> None:
        self._fh.close()
        self._index.abort()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def add_split(total: dict[str, Any], part: dict[str, Any]) -> None:
    """Add one unit's split stats (`ShardWriter.stats`) into `total`, in place."""
    for k in ("tokens", "docs", "bytes"):
        total[k] += part[k]
    for group in ("domains", "buckets"):
        for name, counts in part[group].items():
            acc = total[group].setdefault(name, dict.fromkeys(counts, 0))
            for k, v in counts.items():
                acc[k] += v


def make_meta(
    vocab_size: int,
    eos_id: int,
    bos_id: int,
    tokenizer_sha256: str,
    units: list[dict[str, Any]],
) -> dict[str, Any]:
    """The self-description `meta.json` that every reader checks. `units`: per unit in
    stream order, `{"name", "splits": {split: ShardWriter.stats}}`."""
    splits = {name: _empty_split() for name in SPLITS}
    for unit in units:
        for name in SPLITS:
            add_split(splits[name], unit["splits"][name])
    for s in splits.values():  # stable key order, whatever order the units met them in
        s["domains"] = dict(sorted(s["domains"].items()))
        s["buckets"] = dict(sorted(s["buckets"].items()))
    return {
        "format_version": FORMAT_VERSION,
        "dtype": dtype_name(dtype_for(vocab_size)),
        "vocab_size": int(vocab_size),
        "eos_id": int(eos_id),
        "bos_id": int(bos_id),
        "tokenizer_sha256": tokenizer_sha256,
        "splits": splits,
        "units": [
            {"name": u["name"]}
            | {name: {k: u["splits"][name][k] for k in ("tokens", "docs")} for name in SPLITS}
            for u in units
        ],
    }


def write_meta(out_dir: Path, meta: dict[str, Any]) -> None:
    write_json(meta, Path(out_dir) / "meta.json")
