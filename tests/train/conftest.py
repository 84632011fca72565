"""A tiny shard folder (train/val, three domains, three math buckets) and its tokenizer.

Built once per session in a temporary folder: a SentencePiece BPE model trained in-process
on synthetic prose and math, documents encoded and written through `ShardWriter`, exactly as
the shard stage lays them out (raw uint16 bins, index parquet, meta.json).
"""

from __future__ import annotations

import dataclasses
import io
import random
from pathlib import Path

import pytest
import sentencepiece as spm

from arxiv2lm.io import file_sha256
from arxiv2lm.params import ModelOverrides, Phase, PretrainParams
from arxiv2lm.tokens.shards import UNITS_DIR, ShardWriter, make_meta, write_meta

WORDS = [
    "the",
    "model",
    "we",
    "show",
    "that",
    "a",
    "proof",
    "of",
    "energy",
    "field",
    "graph",
    "network",
    "data",
    "is",
    "for",
    "theorem",
    "lemma",
    "particle",
    "quantum",
    "algorithm",
]
MATH = [
    "$x^2 + y^2 = z^2$",
    r"$\alpha + \beta$",
    r"$\int_0^1 f(x)\,dx$",
    "$E = mc^2$",
    r"$\sum_{i=1}^n i$",
    r"$a_n \to 0$",
]
DOMAINS = ("math", "cs", "physics")


def make_doc(rng: random.Random, math_share: float) -> str:
    parts = []
    for _ in range(rng.randint(30, 60)):
        if rng.random() < math_share:
            parts.append(rng.choice(MATH))
        else:
            parts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) + ".")
    return " ".join(parts)


def build_shards(
    root: Path, n_docs: int = 120, seed: int = 0, units: int = 1, keep: int | None = None
) -> tuple[Path, Path]:
    """Write `root/tokenizer/tokenizer.model` and `root/shard/`; returns both folders.

    `units` > 1 cuts the documents into that many consecutive units (`u0`, `u1`, ...) as
    the shard stage does per chunk; `keep` writes only the first `keep` of them (the corpus
    before its newest chunks; the tokenizer is the same either way)."""
    rng = random.Random(seed)
    docs = []
    for i in range(n_docs):
        bucket = ("low", "mid", "high")[i % 3]
        share = {"low": 0.05, "mid": 0.2, "high": 0.5}[bucket]
        docs.append((f"2401.{i:05d}", DOMAINS[i % 3], bucket, make_doc(rng, share)))
    tok_dir, shard_dir = root / "tokenizer", root / "shard"
    tok_dir.mkdir(parents=True)
    shard_dir.mkdir(parents=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(d[3] for d in docs),
        model_writer=model,
        vocab_size=400,
        model_type="bpe",
        byte_fallback=True,
        add_dummy_prefix=False,
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    (tok_dir / "tokenizer.model").write_bytes(model.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    units_dir = shard_dir / UNITS_DIR
    units_dir.mkdir()
    names = ["all"] if units == 1 else [f"u{i}" for i in range(units)]  # "all": the corpus
    index = []
    for u, name in enumerate(names[:keep]):
        vocab = sp.get_piece_size()
        writers = {s: ShardWriter(units_dir, s, vocab, 2, unit=name) for s in ("train", "val")}
        for n, (doc_id, domain, bucket, text) in enumerate(docs):
            if n * len(names) // n_docs != u:
                continue
            split = "val" if n % 5 == 4 else "train"
            writers[split].add(doc_id, domain, bucket, sp.encode(text), len(text.encode()))
        index.append({"name": name, "splits": {s: w.close() for s, w in writers.items()}})
    sha = file_sha256(tok_dir / "tokenizer.model")
    write_meta(shard_dir, make_meta(sp.get_piece_size(), 2, 1, sha, index))
    return shard_dir, tok_dir


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs the `trained` run (about 8 s of CPU training, paid by the first one)
    is slow; the fast tier skips them all."""
    here = Path(__file__).parent
    for item in items:
        if "trained" in getattr(item, "fixturenames", ()) and here in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def trained(tiny_data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 40-step single-process run (checkpoints at 20 and 40): summary plus its folders."""
    from arxiv2lm.train.engine import train

    root = tmp_path_factory.mktemp("run")
    shard, tok = tiny_data
    dirs = {k: root / k for k in ("ckpt", "export", "live")}
    params = tiny_params()
    summary = train(params, shard, tok, dirs["ckpt"], dirs["export"], dirs["live"])
    return {"summary": summary, "params": params, "shard": shard, "tokenizer": tok, **dirs}


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(shard_dir, tokenizer_dir) shared by the train tests; read-only."""
    return build_shards(tmp_path_factory.mktemp("data"))


def tiny_params(**changes: object) -> PretrainParams:
    """`params.yaml`'s pretrain section for a model small enough to train dozens of steps in
    seconds: the file's values with the sizes, steps and cadence below replaced."""
    from arxiv2lm.params import load_params

    root = Path(__file__).resolve().parents[2]
    base = dict(
        model=ModelOverrides(n_layer=2, n_head=2, d_model=64, d_ff=128, seq_len=64),
        micro_batch=8,
        global_batch=8,
        max_steps=40,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=5,
        log_every=10,
        eval_every=20,
        eval_batches=2,
        checkpoint_every=20,
        keep_checkpoints=2,
        threads=1,
        phases=[
            Phase("short", 0.25, 32, {"low": 0.6, "mid": 0.3, "high": 0.1}),
            Phase("long", 0.75, 64, {"low": 0.34, "mid": 0.33, "high": 0.33}),
        ],
    )
    base.update(changes)
    return dataclasses.replace(load_params("pretrain", root / "params.yaml"), **base)
