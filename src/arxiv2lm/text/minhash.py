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

import numpy as np

_MASK32 = np.uint64(0xFFFFFFFF)
_PRIME = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: order-sensitive word combination
EMPTY = np.uint32(0xFFFFFFFF)  # every value of the signature of a text without words
# shingles per (BLOCK, perm) uint64 buffer: 512 KiB at perm=128, so the two buffers stay in
# a core's L2 (64 to 2048 rows: within 10%; 4096: 1.8x slower on the real papers)
BLOCK = 512


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


def _word_hashes(words: list[str]) -> np.ndarray:
    """(len(words),) uint64: blake2b of each word, each distinct word hashed once (a dict of
    the vocabulary, 3x faster than `np.unique` on an object array), the words' digests
    joined in C."""
    digests = {
        w: hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest() for w in dict.fromkeys(words)
    }
    return np.frombuffer(b"".join(map(digests.__getitem__, words)), dtype="<u8").astype(np.uint64)


def _all_shingles(text: str, shingle_words: int) -> np.ndarray:
    """64-bit hashes of every word shingle of `text` in order, repeats included."""
    words = text.lower().split()  # str.split's whitespace is exactly regex `\s`: runs of `\S+`
    if not words:
        return np.zeros(0, dtype=np.uint64)
    word_hash = _word_hashes(words)
    n = max(1, len(words) - shingle_words + 1)
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):  # arithmetic is mod 2^64 on purpose
        for j in range(min(shingle_words, len(words))):
            acc ^= word_hash[j : j + n]
            acc *= _PRIME
        return _mix(acc)


def shingle_hashes(text: str, shingle_words: int) -> np.ndarray:
    """Distinct 64-bit hashes of the word shingles of `text`, sorted; a text shorter than one
    shingle is one shingle of all its words, an empty text has none.

    >>> len(shingle_hashes("a b c a b c", 3)), len(shingle_hashes("", 3))
    (3, 0)
    """
    return np.unique(_all_shingles(text, shingle_words))


def signature(text: str, perm: int, shingle_words: int) -> np.ndarray:
    """The (perm,) uint32 MinHash signature of `text`'s word shingles (all EMPTY if none)."""
    shingles = _all_shingles(text, shingle_words)  # a repeat cannot change a minimum
    if not len(shingles):
        return np.full(perm, EMPTY, dtype=np.uint32)
    a, c, b = _coefficients(perm)
    low = np.full(perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    rows = min(BLOCK, len(shingles))
    h, hi = np.empty((rows, perm), dtype=np.uint64), np.empty((rows, perm), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(shingles), BLOCK):
            x = shingles[start : start + BLOCK, None]  # (n, 1)
            hb, hib = h[: len(x)], hi[: len(x)]  # (n, perm) each
            np.multiply(x & _MASK32, a, out=hb)
            np.multiply(x >> np.uint64(32), c, out=hib)
            hb += hib
            hb += b
            np.minimum(low, hb.min(axis=0), out=low)
    # `>> 32` is monotone, so it is taken once on the minima instead of on every row
    return (low >> np.uint64(32)).astype(np.uint32)


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

    Per kept paper (perm=128, 16 bands; measured by `bench/dedup.py`): the signature in a
    block of a (n, perm) uint32 store (512 bytes), per band one dict entry and its 64-bit
    key (~100 bytes), so ~2.1 KB, ~2.0 GiB per million kept; ~18 us of CPU per `find` and
    `add`, ~18 s per million papers.

    >>> idx = NearDupIndex(perm=16, threshold=0.8)
    >>> s = signature("one two three four five six", 16, 2)
    >>> idx.add("p1", s); idx.find(s)
    ('p1', 1.0)
    """

    BLOCK_ROWS = 8192  # signatures per block of the store (4 MiB at perm=128)

    def __init__(self, perm: int, threshold: float) -> None:
        self.perm = perm
        self.threshold = threshold
        self.bands, self.rows = choose_bands(perm, threshold)
        # a bucket holds the index of its one paper, or a list once a second one shares it
        self._buckets: list[dict[int, int | list[int]]] = [{} for _ in range(self.bands)]
        self._ids: list[str] = []
        self._blocks: list[np.ndarray] = []  # (BLOCK_ROWS, perm) uint32 each
        # a band's key: its rows times odd 64-bit constants, summed mod 2^64 (one numpy pass
        # for all bands); papers that share a band always share its key, and a rare other
        # paper with the key is only a candidate that the Jaccard check turns down
        self._mult = np.array(
            [_h64(f"minhash-band-{i}".encode()) | 1 for i in range(self.rows)], dtype=np.uint64
        )
        self._last: tuple[bytes, list[int]] = (b"", [])  # `add` after `find` of one signature

    def _keys(self, sig: np.ndarray) -> list[int]:
        data = sig.tobytes()
        if data == self._last[0]:
            return self._last[1]
        grid = sig[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        keys = (grid * self._mult).sum(axis=1, dtype=np.uint64).tolist()  # wraps mod 2^64
        self._last = (data, keys)
        return keys

    def _sig(self, i: int) -> np.ndarray:
        return self._blocks[i // self.BLOCK_ROWS][i % self.BLOCK_ROWS]

    def find(self, sig: np.ndarray) -> tuple[str, float] | None:
        """The kept (id, estimated Jaccard) most similar to `sig` at or above the threshold
        (the earliest on a tie), or None. A signature without shingles matches nothing."""
        if sig.min() == EMPTY:
            return None
        candidates: set[int] = set()
        for bucket, key in zip(self._buckets, self._keys(sig), strict=True):
            held = bucket.get(key)
            if held is None:
                continue
            if isinstance(held, int):
                candidates.add(held)
            else:
                candidates.update(held)
        best: tuple[float, int] | None = None
        for i in sorted(candidates):
            j = jaccard(sig, self._sig(i))
            if j >= self.threshold and (best is None or j > best[0]):
                best = (j, i)
        return None if best is None else (self._ids[best[1]], best[0])

    def add(self, doc_id: str, sig: np.ndarray) -> None:
        """Index a kept paper so later papers are compared with it."""
        if sig.min() == EMPTY:
            return
        i = len(self._ids)
        for bucket, key in zip(self._buckets, self._keys(sig), strict=True):
            held = bucket.get(key)
            if held is None:
                bucket[key] = i
            elif isinstance(held, int):
                bucket[key] = [held, i]
            else:
                held.append(i)
        if i % self.BLOCK_ROWS == 0:
            self._blocks.append(np.empty((self.BLOCK_ROWS, self.perm), dtype=np.uint32))
        self._blocks[-1][i % self.BLOCK_ROWS] = sig
        self._ids.append(doc_id)
