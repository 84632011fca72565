import importlib
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from arxiv2lm.tokens.loader import ShardSet, iter_eval_windows
from arxiv2lm.train.evaluate import MathTracker, dollar_parity, evaluate
from arxiv2lm.train.export import load_export
from arxiv2lm.train.model import GPT

ROOT = Path(__file__).resolve().parents[2]


def load_stage():
    return importlib.import_module("stages.evaluate")


@pytest.mark.parametrize(
    ("piece", "parity"),
    [("a", 0), ("$", 1), ("$x$", 0), ("$$", 1), ("x$$y", 1), ("\\$", 0), ("\\\\$", 1), ("", 0)],
)
def test_dollar_parity(piece, parity):
    assert dollar_parity(piece) == parity


def test_math_mask_carries_state_across_consecutive_windows():
    pieces = ["<unk>", "<s>", "</s>", "a", "$", "x"]  # ids: eos 2, '$' 4
    stream = np.array([3, 4, 5, 5, 4, 3, 4, 5, 2, 5, 3, 3, 3])
    # state before each token:   0  0  1  1  1  0  0  1  1  0  0  0  0
    want = np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    tracker = MathTracker(pieces, eos_id=2)
    got = [tracker.mask(stream[None, i * 4 : i * 4 + 5])[0] for i in range(3)]
    np.testing.assert_array_equal(np.concatenate(got), want[1:])


def test_metrics_of_the_trained_export(trained):
    model, config = load_export(trained["export"], dtype=torch.float32)
    val = ShardSet.open(trained["shard"], "val", config["tokenizer_sha256"])
    tracker = MathTracker.from_model_file(trained["export"] / "tokenizer.model", val.eos_id)
    m = evaluate(model, val, tracker, seq_len=64, batch_size=4, batches=3)
    assert m["tokens"] == 3 * 4 * 64
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    assert m["bits_per_byte"] == pytest.approx(m["loss"] / math.log(2) / val.bytes_per_token())
    assert 0.0 < m["math_token_fraction"] < 0.9
    assert 0.0 <= m["accuracy_math"] <= 1.0 and 0.0 <= m["accuracy_prose"] <= 1.0
    assert set(m["domains"]) == {"math", "cs", "physics"}
    # the trained model beats a fresh one by a wide margin
    fresh = GPT(model.cfg)
    base = evaluate(fresh, val, None, seq_len=64, batch_size=4, batches=3)
    assert m["loss"] < base["loss"] - 1.0 and "accuracy_math" not in base


def test_loss_matches_a_direct_computation(trained):
    model, config = load_export(trained["export"], dtype=torch.float32)
    val = ShardSet.open(trained["shard"], "val")
    m = evaluate(model, val, None, seq_len=32, batch_size=2, batches=2)
    losses = [
        model(torch.as_tensor(xy[:, :-1]), torch.as_tensor(xy[:, 1:])).item()
        for xy in iter_eval_windows(val, 32, 2, 2)
    ]
    assert m["loss"] == pytest.approx(np.mean(losses), rel=1e-5)
    with pytest.raises(ValueError, match="exceeds"):
        evaluate(model, val, None, seq_len=65, batch_size=2, batches=1)


def test_evaluate_stage_writes_the_metrics(trained, tmp_path, monkeypatch):
    stage = load_stage()
    (tmp_path / "params.yaml").write_text("evaluate: {batches: 2, batch_size: 4, seq_len: 64}\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "reports" / "evaluate.json"
    stage.main([str(trained["shard"]), str(trained["export"]), str(out)])
    m = json.loads(out.read_text())
    assert m["model"]["steps"] == 40 and m["domains"]["math"]["tokens"] > 0


def test_evaluate_stage_rejects_another_tokenizer(trained, tmp_path, monkeypatch):
    stage = load_stage()
    export = tmp_path / "export"
    shutil.copytree(trained["export"], export)
    cfg = json.loads((export / "config.json").read_text())
    (export / "config.json").write_text(json.dumps({**cfg, "tokenizer_sha256": "0" * 64}))
    (tmp_path / "params.yaml").write_text("evaluate: {batches: 2, batch_size: 4, seq_len: 64}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="tokenizer"):
        stage.main([str(trained["shard"]), str(export), str(tmp_path / "e.json")])


def test_sample_generates_from_the_export(trained, capsys):
    from arxiv2lm.train.sample import generate, main

    model, config = load_export(trained["export"], dtype=torch.float32)
    a = generate(model, [5, 9], max_new_tokens=10, temperature=0.0, eos_id=None)
    assert a[:2] == [5, 9] and len(a) == 12
    assert a == generate(model, [5, 9], max_new_tokens=10, temperature=0.0, eos_id=None)
    main([str(trained["export"]), "--prompt", "the model", "--tokens", "20"])
    assert capsys.readouterr().out.startswith("the model")
