"""Held-out metrics of an exported model: loss, perplexity, bits per byte, next-token accuracy.

>>> model, config = load_export(Path("models/export"), dtype=torch.float32)  # doctest: +SKIP
>>> val = ShardSet.open(Path("data/shard"), "val", config["tokenizer_sha256"]) # doctest: +SKIP
>>> tracker = MathTracker.from_model_file(tok, val.eos_id)                   # doctest: +SKIP
>>> evaluate(model, val, tracker, 128, 8, 16)["bits_per_byte"]              # doctest: +SKIP
1.93

Bits per byte = nats per token / ln 2 / (UTF-8 bytes per token of the split or domain, from
meta.json): comparable across tokenizers, unlike perplexity. Accuracy is split into tokens
inside math (`$...$` or `$$...$$`, tracked over decoded pieces, reset at EOS) and prose; a
token counts as math when the text before it leaves an open `$`. `\\(...\\)` and `\\[...\\]`
are not tracked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm
import torch
import torch.nn.functional as F

from arxiv2lm.tokens.loader import ShardSet, iter_eval_windows
from arxiv2lm.train.model import GPT


def dollar_parity(piece: str, after_backslash: bool = False) -> int:
    """1 if `piece` opens or closes math an odd number of times (`$$` counts once).

    >>> dollar_parity("$x"), dollar_parity("$$"), dollar_parity(r"\\$"), dollar_parity("a")
    (1, 1, 0, 0)
    """
    parity, i, escaped = 0, 0, after_backslash
    while i < len(piece):
        c = piece[i]
        if c == "$" and not escaped:
            parity ^= 1
            if piece[i + 1 : i + 2] == "$":
                i += 1
        escaped = c == "\\" and not escaped
        i += 1
    return parity


class MathTracker:
    """Marks target tokens inside math for consecutive (B, T+1) windows of one token stream."""

    def __init__(self, pieces: list[str], eos_id: int) -> None:
        self.toggle = np.array([dollar_parity(p) for p in pieces], dtype=np.int8)
        self.eos_id = eos_id
        self.state = False  # inside math before the next window's first token

    @classmethod
    def from_model_file(cls, path: Path, eos_id: int) -> MathTracker:
        sp = spm.SentencePieceProcessor(model_file=str(path))
        return cls([sp.id_to_piece(i) for i in range(sp.get_piece_size())], eos_id)

    def reset(self) -> None:
        self.state = False

    def mask(self, xy: np.ndarray) -> np.ndarray:
        """Bool (B, T): target token t of row b starts inside math. Rows must be consecutive."""
        out = np.zeros((xy.shape[0], xy.shape[1] - 1), dtype=bool)
        for b, row in enumerate(xy):
            state = self.state  # before row[0]
            for t, tok in enumerate(row[:-1]):
                state = False if tok == self.eos_id else state ^ bool(self.toggle[tok])
                out[b, t] = state  # before row[t + 1], the t-th target
            # the next window starts at this row's last token: its state is the carry
            self.state = bool(out[b, -1])
        return out


@torch.no_grad()
def _score(
    model: GPT, batches: Iterable[np.ndarray], tracker: MathTracker | None
) -> dict[str, float]:
    """Sums of nats, tokens and correct predictions, overall and inside/outside math."""
    device = next(model.parameters()).device
    s = dict(nats=0.0, tokens=0, correct=0, math_tokens=0, math_correct=0)
    if tracker is not None:
        tracker.reset()
    for xy in batches:
        t = torch.as_tensor(xy, device=device)
        logits = model(t[:, :-1]).float()
        y = t[:, 1:]
        nll = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none")
        hit = (logits.argmax(-1) == y).cpu().numpy()
        s["nats"] += float(nll.sum())
        s["tokens"] += y.numel()
        s["correct"] += int(hit.sum())
        if tracker is not None:
            in_math = tracker.mask(xy)
            s["math_tokens"] += int(in_math.sum())
            s["math_correct"] += int(hit[in_math].sum())
    return s


def _metrics(s: dict[str, float], bytes_per_token: float, math_known: bool) -> dict[str, float]:
    if not s["tokens"]:
        return {"tokens": 0}
    loss = s["nats"] / s["tokens"]
    out = {
        "tokens": int(s["tokens"]),
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "bits_per_byte": loss / math.log(2) / bytes_per_token,
        "accuracy": s["correct"] / s["tokens"],
    }
    if math_known:
        prose = s["tokens"] - s["math_tokens"]
        out["math_token_fraction"] = s["math_tokens"] / s["tokens"]
        out["accuracy_math"] = (
            s["math_correct"] / s["math_tokens"] if s["math_tokens"] else float("nan")
        )
        out["accuracy_prose"] = (
            (s["correct"] - s["math_correct"]) / prose if prose else float("nan")
        )
    return out


def evaluate(
    model: GPT,
    shards: ShardSet,
    tracker: MathTracker | None,
    seq_len: int,
    batch_size: int,
    batches: int,
) -> dict[str, Any]:
    """Metrics over the first `batches` x `batch_size` windows of the split and of each domain."""
    if seq_len > model.cfg.seq_len:
        raise ValueError(f"evaluate seq_len {seq_len} exceeds the model's {model.cfg.seq_len}")
    model.eval()
    known = tracker is not None
    s = _score(model, iter_eval_windows(shards, seq_len, batch_size, batches), tracker)
    out: dict[str, Any] = _metrics(s, shards.bytes_per_token(), known)
    out["domains"] = {}
    split_meta = shards.meta["splits"][shards.split]
    for domain in sorted(split_meta.get("domains", {})):
        if not split_meta["domains"][domain]["tokens"]:
            continue
        windows = iter_eval_windows(shards, seq_len, batch_size, batches, domain=domain)
        s = _score(model, windows, tracker)
        out["domains"][domain] = _metrics(s, shards.bytes_per_token(domain), known)
    return out
