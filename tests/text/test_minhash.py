"""MinHash near-dup: versions are found, papers of one template are not, and it is stable."""

import hashlib
import random

import numpy as np
import pytest

from arxiv2lm.sources.sample_text import Grammar
from arxiv2lm.text.minhash import (
    EMPTY,
    NearDupIndex,
    choose_bands,
    jaccard,
    shingle_hashes,
    signature,
)


def _sentences(seed: int, n: int = 60) -> list[str]:
    g = Grammar(random.Random(seed), "math", macros=False)
    return [g.sentence() for _ in range(n)]


PAPER = _sentences(1)
REVISED = list(PAPER)
for _i in range(0, 60, 30):  # a new version: two of sixty sentences rewritten
    REVISED[_i] = _sentences(100 + _i, 1)[0]
OTHER = _sentences(2)  # same grammar and vocabulary, a different paper


def _true_jaccard(a: str, b: str) -> float:
    x, y = set(shingle_hashes(a, 5)), set(shingle_hashes(b, 5))
    return len(x & y) / len(x | y)


def _sig(text: str) -> np.ndarray:
    return signature(text, 128, 5)


def test_shingles_are_lowercased_words_with_math_as_tokens():
    assert np.array_equal(shingle_hashes("The $x_1$ Is", 2), shingle_hashes("the $x_1$ is", 2))
    assert not np.array_equal(shingle_hashes("a $x$ b", 2), shingle_hashes("a $y$ b", 2))
    assert len(shingle_hashes("a b c d", 2)) == 3
    assert len(shingle_hashes("a b", 5)) == 1  # shorter than a shingle: one shingle


def test_signature_estimates_jaccard():
    a, b, c = " ".join(PAPER), " ".join(REVISED), " ".join(OTHER)
    assert 0.8 < _true_jaccard(a, b) < 0.98 and _true_jaccard(a, c) < 0.3
    assert jaccard(_sig(a), _sig(b)) == pytest.approx(_true_jaccard(a, b), abs=0.1)
    assert jaccard(_sig(a), _sig(c)) < 0.3


def test_signature_is_deterministic_and_fixed():
    sig = _sig("A fixed sentence about compact manifolds and their $\\lambda_1$ bounds.")
    assert sig.dtype == np.uint32 and sig.shape == (128,)
    assert np.array_equal(sig, _sig("a fixed sentence about compact manifolds and their "
                                    "$\\lambda_1$ bounds."))  # fmt: skip
    # golden values (blake2b words, fixed coefficients): the same on any machine or numpy
    assert signature("one two three", 4, 2).tolist() == GOLDEN


GOLDEN = [974187842, 2940036009, 3650314828, 2310911868]


def test_empty_text_has_empty_signature_and_matches_nothing():
    empty = _sig("")
    assert (empty == EMPTY).all()
    idx = NearDupIndex(128, 0.8)
    idx.add("e", empty)
    assert idx.find(empty) is None and idx.find(_sig("x")) is None


@pytest.mark.parametrize(
    "perm,threshold,bands",
    [(128, 0.8, (16, 8)), (128, 0.5, (32, 4)), (128, 0.95, (8, 16)), (127, 0.8, (127, 1))],
)
def test_choose_bands(perm, threshold, bands):
    assert choose_bands(perm, threshold) == bands
    b, r = bands
    assert b * r == perm and (1 / b) ** (1 / r) <= threshold


def test_index_finds_version_not_template_sibling():
    idx = NearDupIndex(128, 0.8)
    paper, revised, other = (_sig(" ".join(s)) for s in (PAPER, REVISED, OTHER))
    assert idx.find(paper) is None
    idx.add("2301.00001", paper)
    assert idx.find(other) is None
    idx.add("2301.00002", other)
    match = idx.find(revised)
    assert match is not None and match[0] == "2301.00001" and match[1] >= 0.8
    assert idx.find(paper) == ("2301.00001", 1.0)


# sha256 of the little-endian signature (perm=128, 5-word shingles) and shingle-hash bytes,
# computed with the code before the dict/block speed-up: optimisations must stay bit-identical.
PINNED = {
    "A fixed sentence about compact manifolds and their $\\lambda_1$ bounds. " * 3: (
        "97fe1374fb5e9e9c9007a94effadccfa6392693f4faf19d267d537cd77201229",
        "1597e162e2179c8e2c4841aba245e09017c0dc95d7128a460196eca8296f4d6d",
    ),
    "Ünïcödé wörds — naïve café, Straße ΣΑΣ İstanbul ﬁnal $\\alpha$ 数学 の 定理 ✓": (
        "fc193ade86cfcb6906ee04a6b75b9969e2001130fa25261e8b528b777bd22f4e",
        "a8a4e419eaac89f6230f706a37f701bae66c1a96e322392a59e4adafa6466456",
    ),
    "": (
        "9f56cda75fefeab90f6fa5d5ddc9601544b121732c5ecccab32e631060453a5d",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    " ".join(f"w{(i * 7919) % 5003}" for i in range(6000)): (  # more shingles than one block
        "60f6965f1ca1f0ed2bb161c1c57598945ef1789e323c812c0bd759f1e695683c",
        "df07f0aa2268e9d4f208571cf77c701254c9203fdeed33a261ce2a7c4d7de642",
    ),
}


@pytest.mark.parametrize("text", list(PINNED), ids=["ascii", "non_ascii", "empty", "long"])
def test_signature_bytes_pinned(text: str) -> None:
    sig_sha, shingle_sha = PINNED[text]
    sig = signature(text, 128, 5).astype("<u4").tobytes()
    assert hashlib.sha256(sig).hexdigest() == sig_sha
    shingles = shingle_hashes(text, 5).astype("<u8").tobytes()
    assert hashlib.sha256(shingles).hexdigest() == shingle_sha


def _lsh_reference(
    kept: list[tuple[str, np.ndarray]], sig: np.ndarray, bands: int, rows: int
) -> tuple[str, float] | None:
    """The index's contract by brute force: among kept papers sharing a whole band with
    `sig`, the most similar at or above 0.8, the earliest on a tie."""
    best = None
    for doc_id, other in kept:
        shared = any(
            np.array_equal(sig[b * rows : (b + 1) * rows], other[b * rows : (b + 1) * rows])
            for b in range(bands)
        )
        j = jaccard(sig, other)
        if shared and j >= 0.8 and (best is None or j > best[1]):
            best = (doc_id, j)
    return best


def test_index_equals_brute_force_with_shared_buckets(monkeypatch):
    # values from {0, 1}: many papers share a band (buckets of several), ties are common;
    # blocks of 7 signatures, so the store spans many blocks
    monkeypatch.setattr(NearDupIndex, "BLOCK_ROWS", 7)
    rng = np.random.default_rng(3)
    idx = NearDupIndex(16, 0.8)
    bands, rows = idx.bands, idx.rows
    kept: list[tuple[str, np.ndarray]] = []
    for n in range(300):
        sig = rng.integers(0, 2, size=16, dtype=np.uint32)
        if n % 3 and kept:  # a version of an earlier paper
            sig = kept[rng.integers(len(kept))][1].copy()
            sig[rng.integers(16)] ^= 1
        assert idx.find(sig) == _lsh_reference(kept, sig, bands, rows)
        if idx.find(sig) is None:
            idx.add(f"p{n}", sig)
            kept.append((f"p{n}", sig))
    assert len(idx._blocks) == -(-len(kept) // 7) > 3
    assert any(isinstance(held, list) for bucket in idx._buckets for held in bucket.values())
