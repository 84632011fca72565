"""MinHash near-dup: versions are found, papers of one template are not, and it is stable."""

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
