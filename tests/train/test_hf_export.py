"""The Hugging Face export: transformers' Llama gives our logits, greedy text and token ids;
the model card shows what it is given; lineage reads git and dvc.lock.

Everything is built in tmp_path (a tokenizer trained with the project's settings, a random
tiny GPT) and loaded with `local_files_only=True`: no hub, no network.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
from pathlib import Path

import pytest
import sentencepiece as spm
import torch
import yaml
from safetensors.torch import load_file
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from arxiv2lm.tokens.tokenizer import train_tokenizer
from arxiv2lm.train import hf_export
from arxiv2lm.train.card import lineage, model_card
from arxiv2lm.train.hf_export import save_hf
from arxiv2lm.train.model import GPT, ModelConfig
from arxiv2lm.train.sample import generate
from tests.helpers import project_params

SYMBOLS = [r"\frac", r"\alpha", r"\begin{equation}", r"\end{equation}", r"\in"]
WORDS = ["we", "show", "that", "the", "energy", "is", "bounded", "proof", "lemma", "norm"]
MATH = [r"$\frac{a}{b}$", r"$\alpha + \beta$", r"$x \in A$", r"$\sqrt{y} \leq 2$"]
TRICKY = [
    "",
    "a",
    " ",
    "   three leading spaces",
    "trailing spaces   ",
    "two  spaces   three    four",
    "\n",
    "line one\nline two\n\n\nafter blank lines\n",
    "\ttab\t\tand\t",
    "  \\begin{equation}\n    x = \\frac{a}{b}\n  \\end{equation}",
    r"\alpha\beta\frac12 \fracx",
    r"$\infty \in \mathbb{R}$",  # \in is a symbol, \infty is not: "\in" + "fty"
    "3141592653589793 and 2.718",
    "Poincaré Erdős Ñ 東京",
    "emoji 🤖🎉 needs byte fallback",
    "mixed \r\n endings \x00 \u00a0",
    "<s> literal </s> <unk> <0x41>",  # text, never BOS/EOS/UNK/a byte piece
]


def corpus(n: int = 600, seed: int = 0) -> list[str]:
    """LaTeX-like documents with indentation, so whitespace-only pieces are learnt."""
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        line = " ".join(rng.choice(WORDS + MATH) for _ in range(rng.randint(4, 14)))
        if i % 4 == 0:
            line = f"\\begin{{equation}}\n    {line}\n\\end{{equation}}"
        if i % 9 == 0:
            line += f"  {rng.randint(0, 10**6)}  Poincaré"
        lines.append(line)
    return ["\n".join(lines[i : i + 10]) for i in range(0, n, 10)]


@pytest.fixture(scope="module")
def sp_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-piece BPE trained by the project's own `train_tokenizer`."""
    params = project_params(
        "tokenizer", vocab_size=400, latex_symbols="list", symbol_list=SYMBOLS,
        n_mined_symbols=0, character_coverage=1.0, sample_mb=1.0, heldout_fraction=0.0,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(corpus(), params, out)
    return out / "tokenizer.model"


@pytest.fixture(scope="module")
def sp(sp_model: Path) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_file=str(sp_model))


@pytest.fixture(scope="module")
def gpt(sp: spm.SentencePieceProcessor) -> GPT:
    torch.manual_seed(0)
    cfg = ModelConfig(sp.get_piece_size(), n_layer=2, n_head=2, d_model=64, d_ff=128, seq_len=64)
    model = GPT(cfg).eval()
    # The init's all-ones norms would hide swapped input/post-attention norms, and its
    # near-uniform logits make greedy decoding a coin toss: randomise both.
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:  # RMSNorm weights
                p.copy_(1 + 0.5 * torch.randn_like(p))
            else:
                p.mul_(5)
    return model


def load(folder: Path, **kw: object) -> PreTrainedModel:
    return AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, **kw).eval()


@pytest.fixture(scope="module")
def hf_dir(gpt: GPT, sp_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_hf(gpt, tmp_path_factory.mktemp("out") / "hf", sp_model, card="# card\n")


@pytest.fixture(scope="module")
def hf_tok(hf_dir: Path) -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(hf_dir, local_files_only=True)


def max_logit_diff(ours: GPT, folder: Path) -> float:
    ids = torch.randint(
        0, ours.cfg.vocab_size, (2, ours.cfg.seq_len), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        return (ours(ids) - load(folder)(ids).logits).abs().max().item()


def test_fp32_logits_match_ours(gpt: GPT, hf_dir: Path) -> None:
    # Measured 3.3e-6 (max abs; logits up to 5.0): fp32 summation order, nothing more.
    assert max_logit_diff(gpt, hf_dir) < 1e-4


def test_logits_break_without_the_rope_permutation(
    gpt: GPT, sp_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the test above this proves the permutation is needed and in the right direction
    # (head size 32: the inverse permutation differs and would fail the parity test).
    monkeypatch.setattr(hf_export, "_rope_rows", lambda w, n_head: w)
    assert max_logit_diff(gpt, save_hf(gpt, tmp_path / "hf", sp_model)) > 1e-2


def test_greedy_generation_matches_ours(
    gpt: GPT, hf_dir: Path, hf_tok: PreTrainedTokenizerBase
) -> None:
    prompt = hf_tok(r"we show that $\frac{a}{b}$ is")["input_ids"]
    assert len(prompt) >= 5
    ours = generate(gpt, prompt, max_new_tokens=20, temperature=0.0, eos_id=2)
    out = load(hf_dir).generate(
        torch.tensor([prompt]), max_new_tokens=20, do_sample=False, eos_token_id=2, pad_token_id=2
    )
    theirs = out[0].tolist()
    theirs = theirs[:-1] if theirs[-1] == 2 else theirs  # ours stops before EOS, HF keeps it
    assert theirs == ours
    assert len(set(ours[len(prompt) :])) > 2  # a real continuation, not one token repeated


def test_config_and_weight_names(gpt: GPT, hf_dir: Path) -> None:
    config = json.loads((hf_dir / "config.json").read_text())
    expected = {
        "model_type": "llama",
        "tie_word_embeddings": True,
        "rms_norm_eps": gpt.norm.eps,
        "rope_theta": 10000.0,
        "max_position_embeddings": 64,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "vocab_size": gpt.cfg.vocab_size,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "torch_dtype": "float32",
    }
    assert {k: config[k] for k in expected} == expected
    names = set(load_file(str(hf_dir / "model.safetensors")))
    layer = {
        f"model.layers.1.{n}.weight"
        for n in (
            "input_layernorm",
            "post_attention_layernorm",
            *(f"self_attn.{p}_proj" for p in "qkvo"),
            *(f"mlp.{p}_proj" for p in ("gate", "up", "down")),
        )
    }
    assert layer <= names
    assert {"model.embed_tokens.weight", "model.norm.weight"} <= names
    assert len(names) == 2 + 2 * len(layer)  # no lm_head: tied
    assert (hf_dir / "README.md").read_text() == "# card\n"


def test_bf16_weights_stay_bf16(gpt: GPT, sp_model: Path, tmp_path: Path) -> None:
    half = copy.deepcopy(gpt).to(torch.bfloat16)
    out = save_hf(half, tmp_path / "hf", sp_model)
    assert json.loads((out / "config.json").read_text())["torch_dtype"] == "bfloat16"
    hf = load(out, dtype="auto")
    assert hf.model.embed_tokens.weight.dtype == torch.bfloat16
    assert torch.equal(hf.model.embed_tokens.weight, half.embed.weight)
    assert torch.equal(hf.model.layers[0].mlp.down_proj.weight, half.blocks[0].mlp.down.weight)
    assert "| layers | 2 |" in (out / "README.md").read_text()  # card=None: dimensions only


@pytest.mark.parametrize("text", TRICKY)
def test_token_ids_equal_sentencepiece(
    text: str, sp: spm.SentencePieceProcessor, hf_tok: PreTrainedTokenizerBase
) -> None:
    ids = sp.encode(text)
    assert hf_tok(text)["input_ids"] == ids
    assert hf_tok.decode(ids) == sp.decode(ids) == text


def test_the_tokenizer_covers_the_tricky_cases(sp: spm.SentencePieceProcessor) -> None:
    """The tricky texts exercise what they claim (or the parity above proves less)."""
    pieces = [sp.id_to_piece(i) for t in TRICKY for i in sp.encode(t)]
    assert {"\n", *SYMBOLS} <= set(pieces)  # user symbols, one piece each
    assert "<0xF0>" in pieces  # the emoji's first byte: byte fallback
    # Runs of spaces become whitespace-only pieces; HF's usual Metaspace split (a word at
    # every "▁") would cut them apart.
    assert any(len(p) > 1 and set(p) == {"\u2581"} for p in pieces)


def test_tokenizer_adds_nothing_and_reads_specials_as_text(
    hf_dir: Path, hf_tok: PreTrainedTokenizerBase
) -> None:
    config = json.loads((hf_dir / "tokenizer_config.json").read_text())
    assert config["add_bos_token"] is False and config["add_eos_token"] is False
    assert config["add_prefix_space"] is False and config["legacy"] is False
    assert (hf_tok.bos_token_id, hf_tok.eos_token_id, hf_tok.unk_token_id) == (1, 2, 0)
    assert 1 not in hf_tok("<s>x")["input_ids"]


def test_refuses_a_vocab_mismatch(gpt: GPT, sp_model: Path, tmp_path: Path) -> None:
    bigger = GPT(ModelConfig(gpt.cfg.vocab_size + 1, 1, 2, 64, 128, 64))
    with pytest.raises(ValueError, match="400 pieces, the model.s vocab_size is 401"):
        save_hf(bigger, tmp_path / "hf", sp_model)


def test_refuses_sentencepiece_settings_it_cannot_reproduce(gpt: GPT, tmp_path: Path) -> None:
    # SentencePiece's defaults: unigram, a dummy prefix, squeezed whitespace.
    model = tmp_path / "default.model"
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(200)),
        model_prefix=str(tmp_path / "default"),
        vocab_size=gpt.cfg.vocab_size,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    with pytest.raises(ValueError) as err:
        save_hf(gpt, tmp_path / "hf", model)
    for setting in ("UNIGRAM", "add_dummy_prefix", "remove_extra_whitespaces"):
        assert setting in str(err.value)
    assert not (tmp_path / "hf").exists()


def test_a_failed_export_leaves_the_previous_folder(
    gpt: GPT, sp_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "hf"
    out.mkdir()
    (out / "stale.txt").write_text("old")

    def boom(path: Path) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(hf_export, "hf_tokenizer", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        save_hf(gpt, out, sp_model)
    assert [p.name for p in tmp_path.iterdir()] == ["hf"]  # no temp folder left behind
    assert (out / "stale.txt").read_text() == "old"
    monkeypatch.undo()
    save_hf(gpt, out, sp_model)
    assert not (out / "stale.txt").exists()  # replaced whole
    assert (out / "tokenizer.model").read_bytes() == sp_model.read_bytes()


INFO = {
    "name": "arxiv2lm-tiny",
    "license": "apache-2.0",
    "model": {
        "n_layer": 4,
        "d_model": 128,
        "n_head": 4,
        "d_ff": 352,
        "seq_len": 128,
        "vocab_size": 4096,
    },
    "n_params": 1328256,
    "steps": 300,
    "train_tokens": 552960,
    "lineage": {
        "git_rev": "b4314be" + "0" * 33,
        "git_dirty": True,
        "shard_md5": "8d1e5f.dir",
        "tokenizer_md5": "77aa01.dir",
    },
    "pretrain_params": {"preset": "tiny", "lr": 0.003, "max_steps": 300},
    "yield": {
        "papers_in": 320,
        "papers_out": 257,
        "tokens_out": 407812,
        "overall_yield": 0.8031,
        "yield": {"filter": 0.9406, "validate": 0.8704},
    },
    "evaluation": {
        "loss": 1.1392,
        "bits_per_byte": 0.42257,
        "domains": {
            "cs": {"loss": 0.9574, "bits_per_byte": 0.3420},
            "math": {
                "loss": 1.2380,
                "bits_per_byte": 0.4763,
                "prose": {"bits_per_byte": 0.31},
                "math": {"bits_per_byte": 0.52},
            },
        },
    },
}


def test_card_shows_the_figures_it_is_given() -> None:
    card = model_card(INFO)
    front = yaml.safe_load(card.split("---")[1])
    assert front["library_name"] == "transformers" and front["license"] == "apache-2.0"
    assert "arxiv2lm" in front["tags"]
    for row in [
        "| layers | 4 |",
        "| d_model | 128 |",
        "| attention heads | 4 |",
        "| d_ff (SwiGLU) | 352 |",
        "| context (tokens) | 128 |",
        "| vocabulary | 4,096 |",
        "| parameters (embedding tied) | 1,328,256 |",
        "| tokens seen | 552,960 |",
        "| optimizer steps | 300 |",
        "| git revision | b4314be" + "0" * 33 + " |",
        "| uncommitted changes | yes |",
        "| `data/shard` md5 (dvc.lock) | 8d1e5f.dir |",
        "| `data/tokenizer` md5 (dvc.lock) | 77aa01.dir |",
        "| papers in | 320 |",
        "| papers out | 257 |",
        "| tokens out | 407,812 |",
        "| filter | 0.9406 |",
        "| | loss | bits_per_byte |",  # overall and the domains share one table
        "| overall | 1.139 | 0.4226 |",
        "| domains / cs | 0.9574 | 0.342 |",
        "| domains / math / prose | 0.31 |",
        "lr: 0.003",
        'AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
    ]:
        assert row in card, row
    assert "not recorded" not in card


def test_card_with_nothing_recorded_says_so() -> None:
    card = model_card({})
    assert card.count("not recorded") == 6  # every section but "how to load"
    odd = model_card({"evaluation": [1, 2], "yield": "n/a", "model": None, "lineage": 3})
    assert "`[1, 2]`" in odd


def git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(cmd, cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


DVC_LOCK = {
    "schema": "2.0",
    "stages": {
        "tokenizer": {
            "cmd": "x",
            "outs": [
                {"path": "data/tokenizer", "hash": "md5", "md5": "aa11.dir", "size": 9, "nfiles": 2}
            ],
        },
        "shard": {
            "cmd": "y",
            "deps": [{"path": "data/tokenizer", "md5": "dep-not-out"}],
            "outs": [
                {"path": "data/shard", "hash": "md5", "md5": "bb22.dir", "size": 5, "nfiles": 4}
            ],
        },
    },
}


def test_lineage_in_a_git_repo_with_a_dvc_lock(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(DVC_LOCK))
    git(tmp_path, "add", "dvc.lock")
    git(tmp_path, "commit", "-q", "-m", "lock")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert lineage(tmp_path) == {
        "git_rev": head,
        "git_dirty": False,
        "shard_md5": "bb22.dir",
        "tokenizer_md5": "aa11.dir",
    }
    (tmp_path / "new.py").write_text("x = 1\n")
    assert lineage(tmp_path)["git_dirty"] is True


def test_lineage_outside_git_and_without_dvc_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a parent repo
    plain = tmp_path / "plain"
    plain.mkdir()
    nothing = {"git_rev": None, "git_dirty": None, "shard_md5": None, "tokenizer_md5": None}
    assert lineage(plain) == nothing
    assert lineage(tmp_path / "missing") == nothing
    only_shard = {"stages": {"shard": DVC_LOCK["stages"]["shard"]}}
    (plain / "dvc.lock").write_text(yaml.safe_dump(only_shard))
    assert lineage(plain) == {**nothing, "shard_md5": "bb22.dir"}
