"""Held-out metrics of an exported model: loss, bits per byte, perplexity, next-token accuracy.

>>> model, config = load_export(Path("models/export"), dtype=torch.float32)  # doctest: +SKIP
>>> val = ShardSet.open(Path("data/shard"), "val", config["tokenizer_sha256"]) # doctest: +SKIP
>>> table = PieceTable.from_model_file(Path("models/export/tokenizer.model"))  # doctest: +SKIP
>>> evaluate(model, val, table, seq_len=None, batch_size=8)["bits_per_byte"]  # doctest: +SKIP
1.93

The scored documents (all of the split, or a seeded sample spread across it) form one
token stream, in split order, after one EOS of context (every document but the first in a
shard already follows an EOS). The stream is cut into non-overlapping windows of `seq_len`
targets, the last one padded, so every token of every scored document, its EOS included,
is a target exactly once. Bits per byte = summed nats / ln 2 / the UTF-8 bytes of exactly
those target tokens, from a per-id byte table (nanochat's `evaluate_bpb`); over a whole
document that is its `bytes` in the index, except that an `<unk>` counts 0 bytes (the
project tokenizer has byte fallback, so text never encodes to it) and a literal U+2581 in
the text counts 1 byte, not 3 (SentencePiece decodes it as a space). Both gaps show as
`bytes` < `doc_bytes`. A target is math when the pieces before it, since the last EOS,
hold an odd number of math delimiters (`arxiv2lm.text.mathspan.toggle_parity`: the rule of
`math_spans`, per piece).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

from arxiv2lm.text.mathspan import toggle_parity
from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.train.model import GPT

SPACE = "\u2581"  # SentencePiece's whitespace marker; decodes to " "
# Accumulated per (domain, math) cell: nats, tokens, bytes, correct predictions.
NATS, TOKENS, BYTES, CORRECT = range(4)


def piece_bytes(sp: spm.SentencePieceProcessor) -> np.ndarray:
    """UTF-8 bytes each token id decodes to (int64, one per id).

    Byte-fallback `<0xNN>` = 1; control and unknown pieces (bos, eos, unk) and unused ones
    = 0; normal and user-defined pieces = their text with '▁' decoded as a space (the
    tokenizer has identity normalization and no dummy prefix, so nothing else changes).
    >>> ids = [sp.eos_id(), sp.piece_to_id("<0x0A>"), sp.piece_to_id("▁a")]  # doctest: +SKIP
    >>> piece_bytes(sp)[ids]                                                  # doctest: +SKIP
    array([0, 1, 2])
    """
    out = np.zeros(sp.get_piece_size(), dtype=np.int64)
    for i in range(len(out)):
        if sp.is_byte(i):
            out[i] = 1
        elif not (sp.is_control(i) or sp.is_unknown(i) or sp.is_unused(i)):
            out[i] = len(sp.id_to_piece(i).replace(SPACE, " ").encode("utf-8"))
    return out


def in_math(tokens: np.ndarray, toggle: np.ndarray, eos_id: int) -> np.ndarray:
    """Bool per token: math is open before it. Starts closed; EOS closes it.

    >>> in_math(np.array([5, 4, 5, 2, 5]), np.array([0, 0, 0, 0, 1, 0]), eos_id=2)
    array([False, False,  True,  True, False])
    """
    count = np.cumsum(toggle[tokens], dtype=np.int64)  # toggles up to and incl. each token
    # the count at the last EOS at or before each token (counts never decrease)
    at_eos = np.maximum.accumulate(np.where(tokens == eos_id, count, 0))
    after = (count - at_eos) % 2 == 1
    return np.concatenate([[False], after[:-1]]) if len(tokens) else after


@dataclass(frozen=True)
class PieceTable:
    """Per-id facts the scorer needs: UTF-8 bytes, math-delimiter parity, the unk id (-1: none)."""

    nbytes: np.ndarray  # (V,) int64
    toggle: np.ndarray  # (V,) int8
    unk_id: int

    @classmethod
    def from_model_file(cls, path: Path) -> PieceTable:
        sp = spm.SentencePieceProcessor(model_file=str(path))
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        toggle = np.array([toggle_parity(p) for p in pieces], dtype=np.int8)
        return cls(piece_bytes(sp), toggle, sp.unk_id())


def resolve_seq_len(seq_len: int | None, model_seq_len: int) -> int:
    """The window length to score at: `None` is the model's context length.

    >>> resolve_seq_len(None, 2048), resolve_seq_len(512, 2048)
    (2048, 512)
    """
    if seq_len is None:
        return model_seq_len
    if not 1 <= seq_len <= model_seq_len:
        raise ValueError(
            f"evaluate seq_len {seq_len} must be in [1, the model's seq_len {model_seq_len}]"
        )
    return seq_len


def sample_docs(n_docs: int, max_docs: int, seed: int) -> np.ndarray:
    """Row numbers of the documents to score, ascending: all, or one per equal stratum.

    With `max_docs` = k < n the split is cut into k consecutive strata of n/k documents
    and one is drawn uniformly from each, so the sample spans the split evenly (on arXiv,
    the oldest papers to the newest) and is a pure function of `seed`.
    >>> sample_docs(10, 0, 0).tolist(), len(sample_docs(100, 4, 0))
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4)
    """
    if max_docs <= 0 or max_docs >= n_docs:
        return np.arange(n_docs, dtype=np.int64)
    edges = np.arange(max_docs + 1, dtype=np.int64) * n_docs // max_docs
    rng = np.random.default_rng(seed)
    return rng.integers(edges[:-1], edges[1:])  # high is exclusive: one per stratum


class Batch(NamedTuple):
    """Windows of one stream: the first `n` targets (row-major) are real, the rest padding."""

    xy: np.ndarray  # (R, T + 1) int64; x = xy[:, :-1], y = xy[:, 1:]
    domain: np.ndarray  # (R, T) int64 code of each target's document
    math: np.ndarray  # (R, T) bool: math is open before the target
    n: int


def _cut(tok: np.ndarray, dom: np.ndarray, mth: np.ndarray, seq_len: int, n: int) -> Batch:
    """One Batch from a stream piece of rows * seq_len + 1 tokens (tok[0] is context)."""
    rows = (len(tok) - 1) // seq_len
    xy = np.lib.stride_tricks.sliding_window_view(tok, seq_len + 1)[::seq_len][:rows]
    shape = (rows, seq_len)
    return Batch(xy.copy(), dom[1:].reshape(shape), mth[1:].reshape(shape), n)


def iter_batches(
    shards: ShardSet,
    rows: np.ndarray,
    codes: np.ndarray,
    toggle: np.ndarray,
    seq_len: int,
    batch_size: int,
) -> Iterator[Batch]:
    """Batches of `batch_size` windows over the stream of documents `rows` (index rows).

    Reads one document at a time from the memmap and holds at most one batch plus one
    document of tokens. `codes[i]` is the domain code of document `rows[i]`.
    """
    eos, need = shards.eos_id, seq_len * batch_size
    tok, dom, mth = [np.array([eos], np.int64)], [np.zeros(1, np.int64)], [np.zeros(1, bool)]
    have = 0  # targets buffered after the context token
    offsets = shards.index["offset"].to_numpy(np.int64)[rows]
    lengths = shards.index["length"].to_numpy(np.int64)[rows]
    for off, length, code in zip(offsets, lengths, codes, strict=True):
        doc = np.asarray(shards.tokens[off : off + length], dtype=np.int64)
        tok.append(doc)
        dom.append(np.full(length, code, np.int64))
        mth.append(in_math(doc, toggle, eos))  # the token before a document is an EOS
        have += int(length)
        if have < need:
            continue
        t, d, m = np.concatenate(tok), np.concatenate(dom), np.concatenate(mth)
        full = have // need
        for b in range(full):
            s = slice(b * need, (b + 1) * need + 1)
            yield _cut(t[s], d[s], m[s], seq_len, need)
        # the rest starts with the last target, the next window's context; copies, so the
        # concatenation is freed
        rest = slice(full * need, None)
        tok, dom, mth = [t[rest].copy()], [d[rest].copy()], [m[rest].copy()]
        have -= full * need
    if have:
        pad = -have % seq_len  # padding after the last target: causal, so it changes nothing
        t = np.concatenate([*tok, np.zeros(pad, np.int64)])
        d = np.concatenate([*dom, np.zeros(pad, np.int64)])
        m = np.concatenate([*mth, np.zeros(pad, bool)])
        yield _cut(t, d, m, seq_len, have)


@torch.no_grad()
def _score(model: GPT, batch: Batch, table: PieceTable, sums: np.ndarray) -> None:
    """Add the batch's nats, tokens, bytes and hits to `sums` (n_domains, 2, 4) in place."""
    device = next(model.parameters()).device
    xy = torch.as_tensor(batch.xy, device=device)
    logits = model(xy[:, :-1]).float()  # (R, T, V)
    y = xy[:, 1:]
    nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
    hit = (logits.argmax(-1) == y).flatten()
    n = batch.n
    nll_np = nll[:n].double().cpu().numpy()
    hit_np = hit[:n].cpu().numpy()
    targets = batch.xy[:, 1:].reshape(-1)[:n]
    cell = batch.domain.reshape(-1)[:n] * 2 + batch.math.reshape(-1)[:n]
    flat = sums.reshape(-1, 4)  # a view: cell = domain * 2 + math
    k = len(flat)
    flat[:, NATS] += np.bincount(cell, weights=nll_np, minlength=k)
    flat[:, TOKENS] += np.bincount(cell, minlength=k)
    flat[:, BYTES] += np.bincount(cell, weights=table.nbytes[targets], minlength=k)
    flat[:, CORRECT] += np.bincount(cell, weights=hit_np, minlength=k)


def metrics(s: np.ndarray) -> dict[str, Any]:
    """Loss (nats/token), bits per byte, perplexity and accuracy from [nats, tokens, bytes, hits].

    >>> metrics(np.array([2 * math.log(2), 2, 4, 1]))["bits_per_byte"]
    0.5
    """
    nats, tokens, nbytes, correct = float(s[NATS]), int(s[TOKENS]), int(s[BYTES]), int(s[CORRECT])
    if not tokens:
        return {"tokens": 0, "bytes": nbytes}
    loss = nats / tokens
    out: dict[str, Any] = {
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),  # e^50 is already meaningless; no overflow
        "accuracy": correct / tokens,
        "tokens": tokens,
        "bytes": nbytes,
    }
    if nbytes:  # a group of EOS targets alone has no bytes
        out["bits_per_byte"] = nats / math.log(2) / nbytes
    return out


def _with_math_split(cells: np.ndarray) -> dict[str, Any]:
    """Metrics of (2, 4) [prose, math] sums, with each half under "prose" and "math"."""
    return {**metrics(cells.sum(0)), "prose": metrics(cells[0]), "math": metrics(cells[1])}


def evaluate(
    model: GPT,
    shards: ShardSet,
    table: PieceTable,
    seq_len: int | None,
    batch_size: int,
    max_docs: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics over every document of `shards` (or a seeded sample of `max_docs`), one pass.

    Overall, inside math vs prose, and per domain (each also split into math and prose).
    """
    seq_len = resolve_seq_len(seq_len, model.cfg.seq_len)
    if batch_size < 1:
        raise ValueError(f"evaluate batch_size {batch_size} must be >= 1")
    if len(table.nbytes) != shards.vocab_size:
        raise ValueError(
            f"tokenizer has {len(table.nbytes)} pieces, shards say vocab_size {shards.vocab_size}"
        )
    if model.cfg.vocab_size < shards.vocab_size:
        raise ValueError(f"model vocab_size {model.cfg.vocab_size} < shards' {shards.vocab_size}")
    rows = sample_docs(len(shards.index), max_docs, seed)
    domain_of = shards.index["domain"].to_numpy()[rows]
    names, codes = np.unique(domain_of, return_inverse=True)
    sums = np.zeros((len(names), 2, 4), dtype=np.float64)
    model.eval()
    unk = 0
    for batch in iter_batches(shards, rows, codes, table.toggle, seq_len, batch_size):
        _score(model, batch, table, sums)
        unk += int((batch.xy[:, 1:].reshape(-1)[: batch.n] == table.unk_id).sum())
    out = _with_math_split(sums.sum(0))
    out["domains"] = {str(name): _with_math_split(sums[i]) for i, name in enumerate(names)}
    out["docs"] = len(rows)
    out["doc_bytes"] = int(shards.index["bytes"].to_numpy(np.int64)[rows].sum())
    out["unk_tokens"] = unk
    out["seq_len"] = seq_len
    return out
