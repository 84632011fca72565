import importlib
import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sentencepiece as spm
import torch
import yaml

from arxiv2lm.text.mathspan import toggle_parity
from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.tokens.tokenizer import train_tokenizer
from arxiv2lm.train.evaluate import (
    PieceTable,
    evaluate,
    in_math,
    iter_batches,
    metrics,
    piece_bytes,
    resolve_seq_len,
    sample_docs,
)
from arxiv2lm.train.export import load_export
from arxiv2lm.train.model import GPT
from tests.helpers import project_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"seq_len": None, "max_docs": 0, "batch_size": 4, "seed": 0}


def load_stage():
    return importlib.import_module("stages.evaluate")


def write_params(tmp_path: Path, **changes: object) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"evaluate": {**PARAMS, **changes}}))


def processor(tokenizer_dir: Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(tokenizer_dir / "tokenizer.model"))


@pytest.fixture(scope="module")
def export(trained):
    model, config = load_export(trained["export"], dtype=torch.float32)
    val = ShardSet.open(trained["shard"], "val", config["tokenizer_sha256"])
    table = PieceTable.from_model_file(trained["export"] / "tokenizer.model")
    return model, val, table


@pytest.mark.parametrize(
    ("piece", "parity"),
    [
        ("a", 0),
        ("$", 1),
        ("$x$", 0),
        ("$$", 1),
        ("x$$y", 1),
        ("\\$", 0),
        ("\\\\$", 1),
        ("", 0),
        ("\\(", 1),
        ("\\[x\\]", 0),
        ("\\begin{align}", 1),
    ],  # fmt: skip
)
def test_toggle_parity(piece, parity):
    assert toggle_parity(piece) == parity


def test_in_math_is_the_state_before_each_token_and_resets_at_eos():
    toggle = np.array([toggle_parity(p) for p in ["<unk>", "<s>", "</s>", "a", "$", "x"]])
    stream = np.array([3, 4, 5, 5, 4, 3, 4, 5, 2, 5, 3, 3, 3])  # eos 2, '$' 4
    want = np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    np.testing.assert_array_equal(in_math(stream, toggle, eos_id=2), want)
    assert in_math(np.zeros(0, np.int64), toggle, eos_id=2).shape == (0,)


def test_piece_bytes_by_kind(tiny_data):
    sp = processor(tiny_data[1])
    nbytes = piece_bytes(sp)
    assert len(nbytes) == sp.get_piece_size()
    assert nbytes[sp.eos_id()] == nbytes[sp.bos_id()] == nbytes[sp.unk_id()] == 0
    assert nbytes[sp.piece_to_id("<0x0A>")] == nbytes[sp.piece_to_id("<0xE2>")] == 1
    assert nbytes[sp.piece_to_id("\u2581")] == 1  # '▁' is a space: 1 byte, not 3
    word = next(
        p
        for p in map(sp.id_to_piece, range(sp.get_piece_size()))
        if len(p) > 3 and p.startswith("\u2581") and p[1:].isalpha()
    )
    assert nbytes[sp.piece_to_id(word)] == len(word)  # "▁" + ASCII letters


def project_tokenizer(out: Path, **changes: object) -> spm.SentencePieceProcessor:
    """A tokenizer with the project's settings (whitespace kept, "\\n" and LaTeX symbols)."""
    rng = random.Random(0)
    words = ["the", "proof", "of", "energy", r"$\frac{a}{b}$", r"$\alpha + \beta$", "lemma"]
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))) for _ in range(300)]
    texts = ["\n  ".join(lines[i : i + 10]) for i in range(0, 300, 10)]
    small = dict(
        vocab_size=320, n_mined_symbols=4, character_coverage=1.0, sample_mb=1.0,
        heldout_fraction=0.0,
    )  # fmt: skip
    params = project_params("tokenizer", **{**small, **changes})
    train_tokenizer(texts, params, out)
    return processor(out)


@pytest.fixture(scope="module")
def project_sp(tmp_path_factory: pytest.TempPathFactory) -> spm.SentencePieceProcessor:
    return project_tokenizer(tmp_path_factory.mktemp("tokenizer"))


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("the proof", 0),
        ("  two  spaces\n\tand a newline\n", 0),
        (r"Poincaré 漢字 and $\frac{\alpha}{2}$", 0),
        ("x", 0),
        ("a literal \u2581 mark", 2),  # SentencePiece decodes U+2581 as a space: 1 byte of 3
    ],
)
def test_piece_bytes_sum_to_the_text_bytes(project_sp, text, missing):
    sp = project_sp
    ids = sp.encode(text)
    assert sp.unk_id() not in ids  # byte fallback: nothing is unknown
    assert sp.piece_to_id(r"\frac") > sp.unk_id() and piece_bytes(sp)[sp.piece_to_id(r"\frac")] == 5
    assert int(piece_bytes(sp)[ids].sum()) == len(text.encode()) - missing


def test_an_unknown_piece_counts_no_bytes(tmp_path):
    sp = project_tokenizer(tmp_path, byte_fallback=False, vocab_size=60)
    ids = sp.encode("the 漢 proof")
    assert ids.count(sp.unk_id()) == 1  # '漢' is outside the alphabet
    assert int(piece_bytes(sp)[ids].sum()) == len("the 漢 proof".encode()) - len("漢".encode())


def test_piece_bytes_sum_to_each_documents_index_bytes(tiny_data):
    shard, tok = tiny_data
    nbytes = piece_bytes(processor(tok))
    for split in ("train", "val"):
        s = ShardSet.open(shard, split)
        for off, length, b in zip(
            s.index["offset"], s.index["length"], s.index["bytes"], strict=True
        ):
            doc = np.asarray(s.tokens[off : off + length], dtype=np.int64)
            assert doc[-1] == s.eos_id  # the EOS the writer appends counts 0 bytes
            assert int(nbytes[doc].sum()) == b


def test_sample_docs_is_seeded_and_spread_across_the_split():
    a, b = sample_docs(1000, 10, seed=0), sample_docs(1000, 10, seed=1)
    np.testing.assert_array_equal(a, sample_docs(1000, 10, seed=0))
    assert len(a) == len(set(a)) == 10 and not np.array_equal(a, b)
    # one document in each tenth of the split, in order: never a prefix
    np.testing.assert_array_equal(a // 100, np.arange(10))
    np.testing.assert_array_equal(sample_docs(7, 0, 3), np.arange(7))
    np.testing.assert_array_equal(sample_docs(7, 7, 3), np.arange(7))
    np.testing.assert_array_equal(sample_docs(7, 50, 3), np.arange(7))


def test_resolve_seq_len():
    assert resolve_seq_len(None, 64) == 64 and resolve_seq_len(16, 64) == 16
    with pytest.raises(ValueError, match=r"seq_len 65 .*seq_len 64"):
        resolve_seq_len(65, 64)


def fake_shards(docs: list[list[int]], domains: list[str]) -> ShardSet:
    lengths = [len(d) + 1 for d in docs]
    index = pd.DataFrame(
        {
            "id": [str(i) for i in range(len(docs))],
            "domain": domains,
            "offset": np.cumsum([0, *lengths[:-1]]),
            "length": lengths,
        }
    )
    tokens = np.concatenate([np.array([*d, 2]) for d in docs]).astype(np.uint16)
    return ShardSet(Path("."), "val", tokens, index, {"eos_id": 2, "vocab_size": 8})


def test_windows_tile_the_stream_so_every_token_is_a_target_once():
    docs = [[3, 4, 5, 5, 4], [3] * 9, [5, 4, 6], [7, 7]]  # 5 + 9 + 3 + 2 + 4 EOS = 23 tokens
    shards = fake_shards(docs, ["a", "b", "a", "b"])
    toggle = np.array([0, 0, 0, 0, 1, 0, 0, 0])  # '$' is id 4
    codes = np.array([0, 1, 0, 1])
    batches = list(iter_batches(shards, np.arange(4), codes, toggle, seq_len=4, batch_size=2))
    assert [b.xy.shape for b in batches] == [(2, 5), (2, 5), (2, 5)]
    assert [b.n for b in batches] == [8, 8, 7]  # 23 targets, one padding slot
    targets = np.concatenate([b.xy[:, 1:].ravel()[: b.n] for b in batches])
    np.testing.assert_array_equal(targets, shards.tokens)  # after one EOS of context
    assert batches[0].xy[0, 0] == 2
    for b in batches:  # each window's input is the previous target
        np.testing.assert_array_equal(b.xy[1:, 0], b.xy[:-1, -1])
    domains = np.concatenate([b.domain.ravel()[: b.n] for b in batches])
    np.testing.assert_array_equal(domains, np.repeat(codes, [6, 10, 4, 3]))
    in_math_ = np.concatenate([b.math.ravel()[: b.n] for b in batches])
    assert in_math_.tolist()[:6] == [False, False, True, True, True, False]
    # a sample skips documents: the stream holds only the chosen ones
    sampled = list(iter_batches(shards, np.array([1, 3]), codes[[1, 3]], toggle, 4, 2))
    got = np.concatenate([b.xy[:, 1:].ravel()[: b.n] for b in sampled])
    np.testing.assert_array_equal(got, [3] * 9 + [2, 7, 7, 2])


def test_metrics_of_a_group():
    m = metrics(np.array([6 * math.log(2), 3.0, 12.0, 2.0]))
    assert m == pytest.approx(
        {
            "loss": 2 * math.log(2),
            "perplexity": 4.0,
            "accuracy": 2 / 3,
            "tokens": 3,
            "bytes": 12,
            "bits_per_byte": 0.5,
        }
    )
    assert metrics(np.zeros(4)) == {"tokens": 0, "bytes": 0}
    assert "bits_per_byte" not in metrics(np.array([1.0, 1, 0, 0]))  # EOS targets alone


def direct(model: GPT, docs: list[np.ndarray], eos: int, seq_len: int) -> tuple[float, int]:
    """(summed nats, targets): the docs' stream after one EOS, one window at a time."""
    stream = torch.as_tensor(np.concatenate([[eos], *docs]).astype(np.int64))
    nats, n = 0.0, 0
    with torch.no_grad():
        for s in range(0, len(stream) - 1, seq_len):
            x, y = stream[s : s + seq_len], stream[s + 1 : s + seq_len + 1]
            x = x[: len(y)]  # the last window is shorter, not padded
            nats += model(x[None], y[None]).item() * len(y)
            n += len(y)
    return nats, n


def val_docs(val: ShardSet, rows: np.ndarray) -> list[np.ndarray]:
    idx = val.index.iloc[rows]
    return [
        np.asarray(val.tokens[o : o + n]) for o, n in zip(idx["offset"], idx["length"], strict=True)
    ]


def test_whole_split_bits_per_byte_match_a_direct_computation(trained, export):
    model, val, table = export
    sp = processor(trained["export"])
    m = evaluate(model, val, table, seq_len=40, batch_size=3)  # 40 does not tile the split
    docs = val_docs(val, np.arange(len(val.index)))
    nats, n = direct(model, docs, val.eos_id, 40)
    text_bytes = sum(len(sp.decode(d[:-1].tolist()).encode()) for d in docs)
    split = val.meta["splits"]["val"]
    # every token of the split is a target once (its first after one EOS of context)
    assert m["tokens"] == n == len(val.tokens) == split["tokens"]
    assert m["bytes"] == text_bytes == m["doc_bytes"] == split["bytes"]
    assert m["docs"] == len(val.index) and m["seq_len"] == 40 and m["unk_tokens"] == 0
    assert m["loss"] == pytest.approx(nats / n, rel=1e-5)
    assert m["bits_per_byte"] == pytest.approx(nats / math.log(2) / text_bytes, rel=1e-5)
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    assert set(m["domains"]) == {"math", "cs", "physics"}
    for name, d in m["domains"].items():
        assert d["tokens"] == split["domains"][name]["tokens"]
        assert d["bytes"] == split["domains"][name]["bytes"]
    # the groups partition the targets and their nats
    assert m["math"]["tokens"] + m["prose"]["tokens"] == m["tokens"]
    assert m["math"]["bytes"] + m["prose"]["bytes"] == m["bytes"]
    parts = [m["math"], m["prose"]]
    assert sum(g["loss"] * g["tokens"] for g in parts) == pytest.approx(nats, rel=1e-5)
    assert sum(d["tokens"] for d in m["domains"].values()) == m["tokens"]


def test_math_targets_match_the_decoded_text(trained, export):
    model, val, table = export
    sp = processor(trained["export"])
    m = evaluate(model, val, table, seq_len=None, batch_size=4, max_docs=4, seed=2)
    # the fixture has no "$$" and no "\$": math is open where the text so far has odd "$"s
    want = sum(
        sp.decode(d[:i].tolist()).count("$") % 2
        for d in val_docs(val, sample_docs(len(val.index), 4, 2))
        for i in range(len(d))
    )
    assert m["math"]["tokens"] == want and 0.1 < want / m["tokens"] < 0.9


def test_a_seeded_sample_scores_exactly_its_documents(export):
    model, val, table = export
    n = len(val.index)
    a = evaluate(model, val, table, None, batch_size=4, max_docs=6, seed=0)
    b = evaluate(model, val, table, None, batch_size=2, max_docs=6, seed=0)
    c = evaluate(model, val, table, None, batch_size=4, max_docs=6, seed=1)
    rows = sample_docs(n, 6, 0)
    assert a["docs"] == 6 and a["tokens"] == int(val.index["length"].iloc[rows].sum())
    assert a["doc_bytes"] == a["bytes"] == int(val.index["bytes"].iloc[rows].sum())
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)  # batching changes nothing
    assert (c["tokens"], c["bytes"]) != (a["tokens"], a["bytes"])
    assert rows.max() >= n - n // 6  # reaches the last stratum of the split


def test_seq_len_null_is_the_models_and_longer_is_refused(export):
    model, val, table = export
    assert evaluate(model, val, table, None, batch_size=8, max_docs=2)["seq_len"] == 64
    with pytest.raises(ValueError, match=r"seq_len 65 .*seq_len 64"):
        evaluate(model, val, table, 65, batch_size=8)


def test_the_trained_model_beats_a_fresh_one(export):
    model, val, table = export
    m = evaluate(model, val, table, None, batch_size=8)
    fresh = evaluate(GPT(model.cfg), val, table, None, batch_size=8)
    assert m["loss"] < fresh["loss"] - 1.0
    assert m["bits_per_byte"] < fresh["bits_per_byte"]
    assert 0.0 <= m["math"]["accuracy"] <= 1.0 and 0.0 <= m["prose"]["accuracy"] <= 1.0


def test_evaluate_stage_writes_the_metrics(trained, tmp_path, monkeypatch, capsys):
    stage = load_stage()
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports" / "evaluate.json"
    stage.main([str(trained["shard"]), str(trained["export"]), str(out)])
    m = json.loads(out.read_text())
    val = ShardSet.open(trained["shard"], "val")
    assert m["model"]["steps"] == 40 and m["model"]["seq_len"] == 64 and m["seq_len"] == 64
    assert m["docs"] == len(val.index) and m["tokens"] == len(val.tokens)
    assert set(m["domains"]) == {"math", "cs", "physics"}
    for group in (m, m["math"], m["prose"], m["domains"]["cs"]):
        assert {"loss", "bits_per_byte", "perplexity", "accuracy", "tokens", "bytes"} <= set(group)
    said = capsys.readouterr().out
    assert f"{m['docs']} docs, {m['tokens']} tokens" in said
    assert f"{m['math']['bits_per_byte']:.3f}" in said


def test_evaluate_stage_scores_a_sample(trained, tmp_path, monkeypatch):
    stage = load_stage()
    write_params(tmp_path, max_docs=5, seq_len=32)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "e.json"
    stage.main([str(trained["shard"]), str(trained["export"]), str(out)])
    m = json.loads(out.read_text())
    assert m["docs"] == 5 and m["seq_len"] == 32


def test_evaluate_stage_rejects_another_tokenizer(trained, tmp_path, monkeypatch):
    stage = load_stage()
    export = tmp_path / "export"
    shutil.copytree(trained["export"], export)
    cfg = json.loads((export / "config.json").read_text())
    (export / "config.json").write_text(json.dumps({**cfg, "tokenizer_sha256": "0" * 64}))
    write_params(tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="tokenizer"):
        stage.main([str(trained["shard"]), str(export), str(tmp_path / "e.json")])


def test_evaluate_stage_refuses_a_seq_len_beyond_the_model(trained, tmp_path, monkeypatch):
    stage = load_stage()
    write_params(tmp_path, seq_len=128)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"seq_len 128 .*seq_len 64"):
        stage.main([str(trained["shard"]), str(trained["export"]), str(tmp_path / "e.json")])
    assert not (tmp_path / "e.json").exists()


def test_sample_generates_from_the_export(trained, capsys):
    from arxiv2lm.train.sample import generate, main

    model, config = load_export(trained["export"], dtype=torch.float32)
    a = generate(model, [5, 9], max_new_tokens=10, temperature=0.0, eos_id=None)
    assert a[:2] == [5, 9] and len(a) == 12
    assert a == generate(model, [5, 9], max_new_tokens=10, temperature=0.0, eos_id=None)
    main([str(trained["export"]), "--prompt", "the model", "--tokens", "20"])
    assert capsys.readouterr().out.startswith("the model")
