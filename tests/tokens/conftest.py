"""A small tokenizer trained in-process, shared by the token tests."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from arxiv2lm.params import TokenizerParams
from arxiv2lm.tokens.tokenizer import train_tokenizer
from tests.helpers import project_params

WORDS = ["the", "of", "we", "show", "that", "energy", "field", "bounded", "norm", "proof", "lemma"]
MATH = [r"$\frac{a}{b}$", r"$\alpha + \beta$", r"$x^2 \leq \sqrt{y}$", r"$$\sum_i x_i$$"]


def corpus_lines(n: int = 400, seed: int = 0) -> list[str]:
    """LaTeX-like lines: prose, math, environments, digits, indentation, names."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        words = [rng.choice(WORDS + MATH) for _ in range(rng.randint(4, 16))]
        if i % 7 == 0:
            words.append(str(rng.randint(0, 10**9)))
        line = " ".join(words)
        if i % 5 == 0:
            line = f"\\begin{{align}}\n  {line} \\\\\n\\end{{align}}"
        if i % 11 == 0:
            line = f"  {line}\tPoincaré"
        lines.append(line)
    return lines


def make_params(**changes: object) -> TokenizerParams:
    """`params.yaml`'s tokenizer section at the size of the tiny test corpus."""
    small = dict(
        vocab_size=400, n_mined_symbols=12, character_coverage=1.0, sample_mb=1.0,
        heldout_fraction=0.1,
    )  # fmt: skip
    return project_params("tokenizer", **{**small, **changes})


def corpus_docs(n_docs: int = 40) -> list[str]:
    lines = corpus_lines(n_docs * 10)
    return ["\n".join(lines[i : i + 10]) for i in range(0, len(lines), 10)]


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(tokenizer dir, train_tokenizer stats) for a 400-piece BPE on ~400 lines."""
    out = tmp_path_factory.mktemp("tokenizer")
    stats = train_tokenizer(corpus_docs(), make_params(), out)
    return out, stats
