"""The trained model as a Hugging Face Llama folder that `transformers` loads with no custom code.

>>> save_hf(model, Path("models/hf"), Path("data/tokenizer/tokenizer.model"))   # doctest: +SKIP
>>> AutoModelForCausalLM.from_pretrained("models/hf").config.model_type         # doctest: +SKIP
'llama'

Weights: our fused q/k/v and gate/up are split into Llama's separate projections, and the
q and k rows of each head are reordered for the rotary layout (see `_rope_rows`). The
tokenizer: the SentencePiece model becomes a `tokenizer.json` whose ids equal
SentencePiece's for every text (no BOS/EOS added, no dummy prefix, user symbols atomic,
byte fallback); `tokenizer.model` is kept beside it for SentencePiece readers.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from arxiv2lm.io import atomic_dir
from arxiv2lm.train.card import model_card
from arxiv2lm.train.model import GPT, rotary_table

# GPT.rotary builds its table with rotary_table's default base.
ROPE_THETA: float = inspect.signature(rotary_table).parameters["base"].default
SPACE = "\u2581"  # SentencePiece's whitespace marker
_PIECE = sp_pb2.ModelProto.SentencePiece


def _rope_rows(w: torch.Tensor, n_head: int) -> torch.Tensor:
    """Reorder each head's q/k rows from interleaved pairs to Llama's halves.

    Ours rotates (x0, x1), (x2, x3), ...; HF's `rotate_half` pairs x[i] with x[i + D/2],
    both at frequency i. So HF row i is our row 2i and HF row i + D/2 our row 2i + 1: the
    permutation of Meta's Llama -> HF conversion script. q and k get the same one, so
    q.k is unchanged; v and the output projection are untouched.
    >>> _rope_rows(torch.arange(4.0)[:, None], 1).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    rows, cols = w.shape
    return w.view(n_head, rows // n_head // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """Our weights under Llama's names (contiguous, on CPU, in their own dtype).

    The tied head is not stored: `tie_word_embeddings` makes HF tie `lm_head` itself.
    >>> sorted(hf_state_dict(GPT(cfg)))[:2]                                   # doctest: +SKIP
    ['model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight']
    """
    cfg = model.cfg
    out = {"model.embed_tokens.weight": model.embed.weight, "model.norm.weight": model.norm.weight}
    for i, block in enumerate(model.blocks):
        p = f"model.layers.{i}."
        q, k, v = block.attn.qkv.weight.chunk(3, dim=0)  # (C, C) each, head-major rows
        gate, up = block.mlp.gate_up.weight.chunk(2, dim=0)  # (d_ff, C) each
        out |= {
            p + "input_layernorm.weight": block.attn_norm.weight,
            p + "self_attn.q_proj.weight": _rope_rows(q, cfg.n_head),
            p + "self_attn.k_proj.weight": _rope_rows(k, cfg.n_head),
            p + "self_attn.v_proj.weight": v,
            p + "self_attn.o_proj.weight": block.attn.proj.weight,
            p + "post_attention_layernorm.weight": block.mlp_norm.weight,
            p + "mlp.gate_proj.weight": gate,
            p + "mlp.up_proj.weight": up,
            p + "mlp.down_proj.weight": block.mlp.down.weight,
        }
    return {k: t.detach().cpu().contiguous() for k, t in out.items()}


def hf_config(model: GPT, dtype: torch.dtype, bos_id: int, eos_id: int) -> dict[str, Any]:
    """A Llama `config.json` for `model` (read by transformers 4.x and 5.x alike)."""
    cfg = model.cfg
    dtype_name = str(dtype).removeprefix("torch.")
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.d_ff,
        "num_hidden_layers": cfg.n_layer,
        "num_attention_heads": cfg.n_head,
        "num_key_value_heads": cfg.n_head,
        "head_dim": cfg.d_model // cfg.n_head,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.seq_len,
        "rms_norm_eps": model.norm.eps,
        # transformers 4.x reads rope_theta, 5.x rope_parameters (and moves the former there).
        "rope_theta": ROPE_THETA,
        "rope_parameters": {"rope_type": "default", "rope_theta": ROPE_THETA},
        "tie_word_embeddings": True,
        "attention_bias": False,
        "mlp_bias": False,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": None,
        "use_cache": True,
        "torch_dtype": dtype_name,  # 4.x name
        "dtype": dtype_name,  # 5.x name
    }


def _check_supported(proto: sp_pb2.ModelProto) -> None:
    """Refuse SentencePiece settings that `hf_tokenizer` does not reproduce exactly.

    The project's tokenizer (`tokens.tokenizer.train_tokenizer`) passes. Unigram is refused:
    HF's Unigram lattice also matches the byte and control pieces' text (`<0x41>`), which
    SentencePiece's never does.
    """
    t, n = proto.trainer_spec, proto.normalizer_spec
    refused = {
        f"model_type {sp_pb2.TrainerSpec.ModelType.Name(t.model_type)}": (
            t.model_type != sp_pb2.TrainerSpec.BPE
        ),
        "add_dummy_prefix": n.add_dummy_prefix,
        "remove_extra_whitespaces": n.remove_extra_whitespaces,
        "escape_whitespaces=false": not n.escape_whitespaces,
        "normalization_rule_tsv": bool(n.normalization_rule_tsv),
        "treat_whitespace_as_suffix": t.treat_whitespace_as_suffix,
        "split_by_whitespace=false": not t.split_by_whitespace,
        "pretokenization_delimiter": bool(t.pretokenization_delimiter),
    }
    bad = [name for name, on in refused.items() if on]
    if bad:
        raise ValueError(f"SentencePiece settings the HF export cannot reproduce: {bad}")


def _bpe_merges(proto: sp_pb2.ModelProto) -> list[tuple[str, str]]:
    """Every split of a normal piece into two normal pieces, ranked by the piece's score.

    SentencePiece's BPE merges, at each step, the adjacent pair whose concatenation is the
    highest-scoring piece; HF's BPE the pair of lowest merge rank: the same order.
    """
    normal = {p.piece: i for i, p in enumerate(proto.pieces) if p.type == _PIECE.NORMAL}
    ranked = []
    for piece, i in normal.items():
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            if left in normal and right in normal:
                ranked.append((-proto.pieces[i].score, i, normal[left], left, right))
    return [(left, right) for *_, left, right in sorted(ranked)]


def _read_proto(tokenizer_model: Path) -> sp_pb2.ModelProto:
    proto = sp_pb2.ModelProto()
    proto.ParseFromString(tokenizer_model.read_bytes())
    return proto


def hf_tokenizer(tokenizer_model: Path) -> Tokenizer:
    """A `tokenizers.Tokenizer` whose ids equal the SentencePiece model's for every text.

    Literal "<s>" in a text is BOS here but three pieces for SentencePiece: transformers'
    `split_special_tokens` (set by `save_hf`) closes that gap.
    >>> tok = hf_tokenizer(Path("data/tokenizer/tokenizer.model"))            # doctest: +SKIP
    >>> tok.encode("a  b", add_special_tokens=False).ids == sp.encode("a  b")  # doctest: +SKIP
    True
    """
    proto = _read_proto(tokenizer_model)
    _check_supported(proto)
    t, pieces = proto.trainer_spec, list(proto.pieces)
    unk = next((p.piece for p in pieces if p.type == _PIECE.UNKNOWN), None)
    tok = Tokenizer(
        models.BPE(
            vocab={p.piece: i for i, p in enumerate(pieces)},
            merges=_bpe_merges(proto),
            unk_token=unk,
            fuse_unk=True,  # SentencePiece reports a run of unknown characters as one <unk>
            byte_fallback=t.byte_fallback,
        )
    )
    steps = [normalizers.Replace(" ", SPACE)]
    if proto.normalizer_spec.precompiled_charsmap:  # nmt_nfkc; empty for identity
        steps.insert(0, normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap))
    tok.normalizer = normalizers.Sequence(steps)
    # SentencePiece's words: each starts at a "▁", or at the first "▁" of a run when
    # whitespace-only pieces ("▁▁▁") are allowed, as in the project's tokenizer. HF's usual
    # Metaspace split (one word per "▁") would tokenize runs of spaces differently.
    word = f"{SPACE}+[^{SPACE}]*" if t.allow_whitespace_only_pieces else f"{SPACE}[^{SPACE}]*"
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(f"{word}|[^{SPACE}]+"), behavior="isolated")
    tok.decoder = decoders.Sequence(
        [decoders.Replace(SPACE, " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    # User symbols are cut out of the raw text first, longest match, and never merged with
    # a neighbour: exactly HF's added tokens (not special, not normalized).
    user = [p.piece for p in pieces if p.type == _PIECE.USER_DEFINED]
    tok.add_tokens([AddedToken(s, special=False, normalized=False) for s in user])
    control = [p.piece for p in pieces if p.type in (_PIECE.CONTROL, _PIECE.UNKNOWN)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in control])
    return tok


def _tokenizer_files(proto: sp_pb2.ModelProto, seq_len: int) -> dict[str, dict[str, Any]]:
    """tokenizer_config.json and special_tokens_map.json for the pieces of the model."""
    t = proto.trainer_spec

    def piece(i: int) -> str | None:
        return proto.pieces[i].piece if 0 <= i < len(proto.pieces) else None

    special = {
        "bos_token": piece(t.bos_id),
        "eos_token": piece(t.eos_id),
        "unk_token": piece(t.unk_id),
        "pad_token": piece(t.pad_id),
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **special,
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "legacy": False,
        # SentencePiece reads "<s>" in a text as three characters, never as BOS.
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
        "model_max_length": seq_len,
    }
    return {
        "tokenizer_config.json": config,
        "special_tokens_map.json": {k: v for k, v in special.items() if v is not None},
    }


def save_hf(model: GPT, out_dir: Path, tokenizer_model: Path, card: str | None = None) -> Path:
    """Write `out_dir` (replaced whole, atomically) as a HF Llama model with its tokenizer.

    `card` is the README.md (see `model_card`); None writes one with the architecture only.
    >>> save_hf(model, Path("models/hf"), Path("data/tokenizer/tokenizer.model"))  # doctest: +SKIP
    PosixPath('models/hf')
    """
    d, h = model.cfg.d_model, model.cfg.n_head
    if d % h or (d // h) % 2:
        raise ValueError(f"head size d_model {d} / n_head {h} must be a whole, even number")
    proto = _read_proto(tokenizer_model)
    _check_supported(proto)
    if len(proto.pieces) != model.cfg.vocab_size:
        raise ValueError(
            f"{tokenizer_model} has {len(proto.pieces)} pieces, the model's vocab_size is "
            f"{model.cfg.vocab_size}"
        )
    state = hf_state_dict(model)
    dtype = state["model.embed_tokens.weight"].dtype
    t = proto.trainer_spec
    files = {
        "config.json": hf_config(model, dtype, t.bos_id, t.eos_id),
        "generation_config.json": {"bos_token_id": t.bos_id, "eos_token_id": t.eos_id},
        **_tokenizer_files(proto, model.cfg.seq_len),
    }
    if card is None:
        card = model_card({"model": dataclasses.asdict(model.cfg), "n_params": model.num_params()})
    with atomic_dir(out_dir) as tmp:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        hf_tokenizer(tokenizer_model).save(str(tmp / "tokenizer.json"))
        shutil.copyfile(tokenizer_model, tmp / "tokenizer.model")
        for name, obj in files.items():
            (tmp / name).write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out_dir
