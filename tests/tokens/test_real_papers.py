"""Guard rail on the real dev papers: the project tokenizer, trained on half of them, must
not lose to plain SentencePiece on the other half by more than 2% tokens per character,
and must decode every held-out paper back exactly (skipped when the papers are absent)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sentencepiece as spm

from arxiv2lm.params import load_params
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.realpapers import load_real_papers
from arxiv2lm.tokens.tokenizer import train_baseline, train_tokenizer

from .conftest import make_params

ROOT = Path(__file__).resolve().parents[2]
PAPERS = ROOT.parent / "shared" / "realdata" / "papers"
# 4096 pieces (params.yaml's default) trains in about a second on ~0.7 MB of text.
VOCAB = 4096


def _halves() -> tuple[list[str], list[str]]:
    """Normalized texts of the real papers, split in two by a hash of the folder name."""
    papers, drops = load_real_papers(PAPERS, load_params("extract", ROOT / "params.yaml"))
    assert not drops, drops
    halves: tuple[list[str], list[str]] = ([], [])
    for paper in papers:
        halves[hashlib.sha1(paper.folder.encode()).digest()[0] % 2].append(paper.text)
    return halves


@pytest.mark.slow
@pytest.mark.skipif(not (PAPERS / "SOURCES.tsv").is_file(), reason=f"{PAPERS} absent")
def test_project_tokenizer_holds_against_the_baseline_on_real_papers(tmp_path: Path) -> None:
    params = make_params(vocab_size=VOCAB, n_mined_symbols=160, character_coverage=0.9999)
    halves = _halves()
    for i, (train, held) in enumerate([halves, halves[::-1]]):
        assert train and held
        train_tokenizer(train, params, tmp_path / str(i))
        ours = spm.SentencePieceProcessor(model_file=str(tmp_path / str(i) / "tokenizer.model"))
        base = spm.SentencePieceProcessor(model_proto=train_baseline(train, params))
        docs = [("real", t) for t in held]
        a, b = metrics.evaluate(ours, docs, []), metrics.evaluate(base, docs, [])
        assert a["roundtrip_rate"] == 1.0
        assert a["tokens_per_char"] <= 1.02 * b["tokens_per_char"], (a, b)
        assert a["tokens_per_math_segment"] < b["tokens_per_math_segment"], (a, b)
