"""Token shards: documents concatenated into one flat array per split, each followed by EOS.

>>> split_of("2301.00001", 0.08, "arxiv2lm") in ("train", "val")
True
>>> math_bucket(0.15)
'mid'

A split is three files in the shard folder: `<split>.bin` (raw little-endian uint16, or
uint32 when the vocabulary does not fit 16 bits), `<split>.index.parquet` (one row per
document: id, domain, bucket, offset and length in tokens incl. EOS, UTF-8 bytes) and the
shared `meta.json` that describes them (format version, dtype, vocab, EOS, tokenizer hash,
counts). `loader.ShardSet.open` checks that description before reading a token.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import multiprocessing
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sentencepiece as spm

from arxiv2lm.io import ParquetBatchWriter, file_sha256, write_json
from arxiv2lm.ledger import Ledger

FORMAT_VERSION = 1
SPLITS = ("train", "val")

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

    def __init__(self, out_dir: Path, split: str, vocab_size: int, eos_id: int) -> None:
        if split not in SPLITS:
            raise ValueError(f"split {split!r} is not one of {SPLITS}")
        if not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos_id {eos_id} is outside vocab_size {vocab_size}")
        self.dtype = dtype_for(vocab_size)
        self.vocab_size = vocab_size
        self.eos_id = eos_id
        self.path = Path(out_dir) / f"{split}.bin"
        self._tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._fh = open(self._tmp, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._index = ParquetBatchWriter(Path(out_dir) / f"{split}.index.parquet", INDEX_SCHEMA)
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


def make_meta(
    vocab_size: int,
    eos_id: int,
    bos_id: int,
    tokenizer_sha256: str,
    splits: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The self-description `meta.json` that every reader checks."""
    return {
        "format_version": FORMAT_VERSION,
        "dtype": dtype_name(dtype_for(vocab_size)),
        "vocab_size": int(vocab_size),
        "eos_id": int(eos_id),
        "bos_id": int(bos_id),
        "tokenizer_sha256": tokenizer_sha256,
        "splits": {name: splits.get(name, _empty_split()) for name in SPLITS},
    }


def write_meta(out_dir: Path, meta: dict[str, Any]) -> None:
    write_json(meta, Path(out_dir) / "meta.json")


# Documents handed to the pool at a time: bounds memory (Pool.imap would otherwise read
# the whole input ahead); the next batch is submitted before the current one is consumed,
# so workers never wait for the main process at a batch boundary.
FEED_DOCS = 256
_SP: spm.SentencePieceProcessor | None = None
_DTYPE = np.dtype("<u4")


def _init_worker(model_path: str) -> None:
    global _SP, _DTYPE
    _SP = spm.SentencePieceProcessor(model_file=model_path)
    _DTYPE = dtype_for(_SP.get_piece_size())


def _encode(text: str) -> np.ndarray:
    """Token ids of `text` in the shard dtype (half the bytes of int32 to send back)."""
    assert _SP is not None, "worker not initialised"
    return np.asarray(_SP.encode(text), dtype=_DTYPE)


def _batches(rows: Iterable[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, n)):
        yield batch


class WorkerDied(RuntimeError):
    """A worker process of the encoding pool was killed (an OOM kill, say)."""


def encode_texts(
    rows: Iterable[dict[str, Any]], model_path: Path, workers: int
) -> Iterator[tuple[dict[str, Any], np.ndarray]]:
    """(row, token ids) for each row's `text`, in input order; `workers` processes."""
    if workers <= 1:
        _init_worker(str(model_path))
        for row in rows:
            yield row, _encode(row["text"])
        return
    ctx = multiprocessing.get_context("spawn")  # no fork of a parent holding threads
    # An executor, unlike mp.Pool, raises BrokenProcessPool when a worker is OOM-killed
    # instead of waiting for it forever.
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_worker, initargs=(str(model_path),)
    ) as pool:
        pending: tuple[list[dict[str, Any]], Iterator[np.ndarray]] | None = None
        try:
            for batch in _batches(rows, FEED_DOCS):
                submitted = pool.map(_encode, [r["text"] for r in batch], chunksize=2)
                if pending is not None:
                    yield from zip(*pending, strict=True)
                pending = (batch, submitted)
            if pending is not None:
                yield from zip(*pending, strict=True)
        except BrokenProcessPool as err:
            raise WorkerDied(
                f"an encoding worker died (killed by the out-of-memory killer?): {err}"
            ) from err


def build_shards(
    rows: Iterable[dict[str, Any]],
    model_path: Path,
    out_dir: Path,
    val_fraction: float,
    salt: str,
    workers: int,
    ledger: Ledger | None = None,
) -> dict[str, Any]:
    """Encode rows (id, domain, text, math_fraction, bytes) into train/val shards; return meta.

    Each document is followed by the model's EOS id; a document that encodes to no token
    is dropped as `empty_after_tokenize`.
    >>> build_shards(rows, Path("tokenizer.model"), out, 0.08, "arxiv2lm", 2)  # doctest: +SKIP
    """
    model_path = Path(model_path)
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    vocab, eos, bos = sp.get_piece_size(), sp.eos_id(), sp.bos_id()
    if eos < 0:
        raise ValueError(f"{model_path} has no EOS id; documents could not be separated")
    dtype_for(vocab)  # refuses a vocabulary too large before any work
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        writers = {s: stack.enter_context(ShardWriter(out_dir, s, vocab, eos)) for s in SPLITS}
        for row, ids in encode_texts(rows, model_path, workers):
            if not len(ids):
                if ledger is not None:
                    ledger.drop(row["id"], "empty_after_tokenize", row["bytes"])
                continue
            split = split_of(row["id"], val_fraction, salt)
            bucket = math_bucket(row["math_fraction"])
            n = writers[split].add(row["id"], row["domain"], bucket, ids, row["bytes"])
            if ledger is not None:
                ledger.keep(row["id"], row["bytes"], n)
    meta = make_meta(
        vocab, eos, bos, file_sha256(model_path), {s: w.stats for s, w in writers.items()}
    )
    write_meta(out_dir, meta)
    return meta
