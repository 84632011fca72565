"""MinHash signatures of word shingles, and an LSH index that finds near-duplicate papers.

A shingle is `shingle_words` consecutive words of the lowercased normalized text (a word is
a run of non-space characters, so `$E_{1}$` is one token). Words are hashed with blake2b and
combined into 64-bit shingle hashes; each of the `perm` permutations is Thorup's vector
multiply-shift hash `((a*lo + c*hi + b) mod 2^64) >> 32` of the shingle hash's 32-bit
halves, which is strongly universal (Thorup 2015, "High speed hashing for integers and
strings", sec. 3.3). Coefficients come from blake2b of their index, so signatures are the
same on every machine, process and numpy version. A signature is `perm` uint32 values
(128 -> 512 bytes per paper).

>>> sig = signature("the cat sat on the mat today", perm=16, shingle_words=3)
>>> sig.shape, jaccard(sig, sig)
((16,), 1.0)
"""

from __future__ import annotations

import functools
import hashlib
import re

import numpy as np

_WORD = re.compile(r"\S+")
_MASK32 = np.uint64(0xFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: order-sensitive word combination
EMPTY = np.uint32(0xFFFFFFFF)  # every value of the signature of a text without words
BLOCK = 2048  # shingles per (BLOCK, perm) uint64 temporary: 2 MiB at perm=128


def _h64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


@functools.lru_cache(maxsize=4)
def _coefficients(perm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, c, b) of each permutation; deterministic (blake2b of the index), not random."""
    rows = [[_h64(f"minhash-{name}-{i}".encode()) for i in range(perm)] for name in "acb"]
    return tuple(np.array(r, dtype=np.uint64) for r in rows)  # type: ignore[return-value]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: every input bit affects every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def shingle_hashes(text: str, shingle_words: int) -> np.ndarray:
    """Distinct 64-bit hashes of the word shingles of `text`; a text shorter than one
    shingle is one shingle of all its words, an empty text has none.

    >>> len(shingle_hashes("a b c a b c", 3)), len(shingle_hashes("", 3))
    (3, 0)
    """
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    vocab, inverse = np.unique(np.array(words, dtype=object), return_inverse=True)
    word_hash = np.array([_h64(w.encode("utf-8")) for w in vocab], dtype=np.uint64)[inverse]
    n = max(1, len(words) - shingle_words + 1)
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic is mod 2^64 on purpose
        for j in range(min(shingle_words, len(words))):
            acc = (acc ^ word_hash[j : j + n]) * _PRIME
        return np.unique(_mix(acc))


def signature(text: str, perm: int, shingle_words: int) -> np.ndarray:
    """The (perm,) uint32 MinHash signature of `text`'s word shingles (all EMPTY if none)."""
    shingles = shingle_hashes(text, shingle_words)
    sig = np.full(perm, EMPTY, dtype=np.uint32)
    if not len(shingles):
        return sig
    a, c, b = _coefficients(perm)
    low = np.full(perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(shingles), BLOCK):
            x = shingles[start : start + BLOCK, None]  # (n, 1)
            h = (a * (x & _MASK32) + c * (x >> np.uint64(32)) + b) >> np.uint64(32)  # (n, perm)
            low = np.minimum(low, h.min(axis=0))
    return low.astype(np.uint32)


def jaccard(x: np.ndarray, y: np.ndarray) -> float:
    """Estimated Jaccard similarity: the share of permutations whose minima agree."""
    return float(np.mean(x == y))


def choose_bands(perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows) with bands * rows == perm and the S-curve threshold (1/b)^(1/r) at or
    just below `threshold`: the most rows that still make a pair at `threshold` a likely
    candidate. Candidates are verified, so erring low costs time, not precision.

    >>> choose_bands(128, 0.8)   # S-curve 0.707; P(candidate) 0.947 at J=0.8, 0.061 at 0.5
    (16, 8)
    """
    best = (perm, 1)
    for rows in range(1, perm + 1):
        if perm % rows == 0 and (rows / perm) ** (1 / rows) <= threshold:
            best = (perm // rows, rows)
    return best


class NearDupIndex:
    """Kept signatures banded for LSH; `find` names an earlier kept near-duplicate.

    Memory per kept paper: the signature (perm * 4 bytes) and one dict entry per band
    (about 100 bytes each): ~2.1 KB at perm=128 with 16 bands, so ~2 GB per million kept.

    >>> idx = NearDupIndex(perm=16, threshold=0.8)
    >>> s = signature("one two three four five six", 16, 2)
    >>> idx.add("p1", s); idx.find(s)
    ('p1', 1.0)
    """

    def __init__(self, perm: int, threshold: float) -> None:
        self.perm = perm
        self.threshold = threshold
        self.bands, self.rows = choose_bands(perm, threshold)
        self._buckets: list[dict[int, list[int]]] = [{} for _ in range(self.bands)]
        self._ids: list[str] = []
        self._sigs: list[np.ndarray] = []

    def _keys(self, sig: np.ndarray) -> list[int]:
        grid = sig[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        acc = np.arange(self.bands, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for col in range(self.rows):
                acc = (acc ^ grid[:, col]) * _PRIME
        return [int(k) for k in _mix(acc)]

    def find(self, sig: np.ndarray) -> tuple[str, float] | None:
        """The kept (id, estimated Jaccard) most similar to `sig` at or above the threshold
        (the earliest on a tie), or None. A signature without shingles matches nothing."""
        if (sig == EMPTY).all():
            return None
        candidates: set[int] = set()
        for bucket, key in zip(self._buckets, self._keys(sig), strict=True):
            candidates.update(bucket.get(key, ()))
        best: tuple[float, int] | None = None
        for i in sorted(candidates):
            j = jaccard(sig, self._sigs[i])
            if j >= self.threshold and (best is None or j > best[0]):
                best = (j, i)
        return None if best is None else (self._ids[best[1]], best[0])

    def add(self, doc_id: str, sig: np.ndarray) -> None:
        """Index a kept paper so later papers are compared with it."""
        if (sig == EMPTY).all():
            return
        for bucket, key in zip(self._buckets, self._keys(sig), strict=True):
            bucket.setdefault(key, []).append(len(self._ids))
        self._ids.append(doc_id)
        self._sigs.append(sig)
