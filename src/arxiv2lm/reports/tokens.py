"""Tokens of the funnel: counted with the trained tokenizer, or estimated from a paper's size.

A document's tokens are counted as `shard` writes them: its SentencePiece ids plus one EOS,
and 0 for a text that encodes to nothing (shard drops it as `empty_after_tokenize`), so the
tokens counted on normalize's output equal the tokens in the shards.

Before text exists (filter, validate) a paper's tokens are estimated from its size with an
`Estimator`: tokens per byte fitted on this run's papers whose text was counted (the sum of
the estimates equals the sum of the counts on those papers), with the per-paper error on
them (median and 90th percentile of |estimate - count| / count).

>>> est = Estimator.fit([(100, 40), (300, 80)], "compressed byte")
>>> est.tokens_per_byte, est.estimate(200)
(0.3, 60)

Counting is one SentencePiece encode pass over the text (~3 MB/s per core): `sampled`
counts a seeded share of the papers (`in_sample`) and scales each group of papers by its
UTF-8 bytes (`TextCount.tokens`).
"""

from __future__ import annotations

import functools
import hashlib
import statistics
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sentencepiece as spm

from arxiv2lm import pool
from arxiv2lm.sources import manifest
from arxiv2lm.sources.chunks import member_id, strip_version

_SP: dict[str, spm.SentencePieceProcessor] = {}  # per worker process: model path -> model


def doc_tokens(text: str, model_path: str) -> int:
    """Tokens `shard` stores for `text`: its ids and an EOS; 0 if it encodes to nothing."""
    sp = _SP.get(model_path)
    if sp is None:
        sp = _SP[model_path] = spm.SentencePieceProcessor(model_file=model_path)
    n = len(sp.encode(text))
    return n + 1 if n else 0


def _count_item(item: tuple[Any, str | None], model_path: str) -> tuple[Any, int | None]:
    meta, text = item
    return meta, None if text is None else doc_tokens(text, model_path)


def in_sample(doc_id: str, fraction: float, seed: int) -> bool:
    """A stable `fraction` of ids (SHA-1 of seed and id), the same on every run.

    >>> in_sample("2301.00001", 1.0, 0), in_sample("2301.00001", 0.0, 0)
    (True, False)
    """
    if fraction >= 1.0:
        return True
    digest = hashlib.sha1(f"{seed}\x00{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def count_docs(
    docs: Iterable[tuple[Any, str]],
    model_path: Path,
    fraction: float,
    seed: int,
    workers: int,
) -> Iterator[tuple[Any, int, int | None]]:
    """(meta, UTF-8 bytes, tokens) per `(meta, text)` in order; meta[0] is the paper id.
    Tokens are None for a paper outside the sample. Encoding runs in `workers` processes."""

    def items() -> Iterator[tuple[tuple[Any, int], str | None]]:
        for meta, text in docs:
            nbytes = len(text.encode("utf-8", "surrogatepass"))
            yield (meta, nbytes), text if in_sample(meta[0], fraction, seed) else None

    fn = functools.partial(_count_item, model_path=str(Path(model_path).resolve()))
    for (meta, nbytes), tokens in pool.map_ordered(fn, items(), workers):
        yield meta, nbytes, tokens


@dataclass
class TextCount:
    """Tokens of a group of papers: counted, or scaled by bytes from its counted sample.

    >>> c = TextCount()
    >>> c.add(100, 30); c.add(300, None)
    >>> c.tokens(fallback_per_byte=0.5)
    120
    """

    docs: int = 0
    bytes: int = 0
    counted_docs: int = 0
    counted_bytes: int = 0
    counted_tokens: int = 0

    def add(self, nbytes: int, tokens: int | None) -> None:
        self.docs += 1
        self.bytes += nbytes
        if tokens is not None:
            self.counted_docs += 1
            self.counted_bytes += nbytes
            self.counted_tokens += tokens

    @property
    def exact(self) -> bool:
        return self.counted_docs == self.docs

    def per_byte(self) -> float | None:
        return self.counted_tokens / self.counted_bytes if self.counted_bytes else None

    def tokens(self, fallback_per_byte: float = 0.0) -> int:
        """The count if every paper was counted; else bytes x the sample's tokens per byte
        (`fallback_per_byte`, the whole text's rate, for a group none of whose papers was
        sampled)."""
        if self.exact:
            return self.counted_tokens
        rate = self.per_byte()
        return round(self.bytes * (fallback_per_byte if rate is None else rate))


@dataclass(frozen=True)
class Estimator:
    """Tokens per byte of some size (`unit`), fitted on papers whose tokens were counted."""

    unit: str
    tokens_per_byte: float
    papers: int  # papers fitted on (with a size and at least one token)
    median_abs_pct_error: float | None  # over those papers, in percent
    p90_abs_pct_error: float | None

    @classmethod
    def fit(cls, pairs: Iterable[tuple[int, int]], unit: str) -> Estimator:
        """From (bytes, tokens) of counted papers; papers of 0 bytes or 0 tokens are left out
        (no size to scale, or no text to measure an error against)."""
        usable = [(b, t) for b, t in pairs if b > 0 and t > 0]
        total_b = sum(b for b, _ in usable)
        rate = sum(t for _, t in usable) / total_b if total_b else 0.0
        errors = sorted(abs(rate * b - t) / t * 100 for b, t in usable)
        p90 = errors[min(len(errors) - 1, int(0.9 * len(errors)))] if errors else None
        return cls(
            unit=unit,
            tokens_per_byte=round(rate, 6),
            papers=len(usable),
            median_abs_pct_error=round(statistics.median(errors), 2) if errors else None,
            p90_abs_pct_error=round(p90, 2) if p90 is not None else None,
        )

    def estimate(self, nbytes: int) -> int:
        return round(self.tokens_per_byte * nbytes)

    def describe(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "tokens_per_byte": self.tokens_per_byte,
            "papers": self.papers,
            "median_abs_pct_error": self.median_abs_pct_error,
            "p90_abs_pct_error": self.p90_abs_pct_error,
        }


def member_sizes(ingest_dir: Path, ids: set[str]) -> dict[str, int]:
    """Compressed source size (the chunk member's stored bytes, as validate counts them) of
    each paper in `ids` that has a member, keyed by its versionless id. Only the tar headers
    of the manifest's chunks are read (the members are seeked past); a paper in two chunks
    takes its first member in manifest order, the one validate counts.

    The chunks are validate's input, already checked against the manifest's md5s."""
    want = {strip_version(i) for i in ids}
    sizes: dict[str, int] = {}
    for entry in manifest.read_manifest(ingest_dir / manifest.MANIFEST):
        path = manifest.chunk_path(ingest_dir, entry.filename)
        try:
            with tarfile.open(path, mode="r:") as tar:
                for info in tar:
                    base = member_id(info.name) if info.isfile() else None
                    if base in want and base not in sizes:
                        sizes[base] = info.size
        except (tarfile.TarError, OSError) as err:
            raise ValueError(f"{path}: cannot list its members: {err}") from err
    return sizes
