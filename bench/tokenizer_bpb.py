"""Bits per byte of the tiny model trained on the same bytes with each tokenizer.

    python bench/tokenizer_bpb.py [--papers ../shared/realdata/papers] [--vocab 4096]
        [--train-mb 2] [--only project|baseline|exact-baseline] [--set KEY=VALUE] [--out FILE]

Bits per byte favours no tokenizer: a model's summed next-token loss over held-out text,
in bits, over the UTF-8 bytes of the text the scored tokens cover (SentencePiece's piece
offsets; for the project tokenizer that is `train.evaluate.piece_bytes`). The real papers
are split in two halves (bench/tokenizer_study.py's folds 0-1, then 2-3), each held out
once: the project tokenizer, the plain baseline and an exact plain baseline
(`exact_baseline`) train on the bundled sample plus the other half, and so does the tiny
preset's model (`train.model.GPT`, AdamW and `train.schedule.lr_at` with the tiny recipe's
lr, batch and window) for `--train-mb` of text each: the number of steps follows from the
tokenizer's bytes per token. Held-out bits per byte are printed per domain and for math vs
prose spans (a token is math when it starts inside a `math_spans` span). `--set` changes a
param of the project tokenizer (a variant). CPU, one thread: a few minutes per model.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm
import torch

from arxiv2lm.params import ModelOverrides, TokenizerParams
from arxiv2lm.text.mathspan import math_spans
from arxiv2lm.tokens.tokenizer import (
    MAX_SENTENCE_BYTES,
    bounded,
    train_baseline,
    train_tokenizer,
)
from arxiv2lm.train.model import GPT, resolve_model_config
from arxiv2lm.train.recipe import RECIPES
from arxiv2lm.train.schedule import lr_at

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tokenizer_study import (  # noqa: E402
    add_common_args,
    dev_papers,
    folds,
    project_params,
    training_sample,
)


def exact_baseline(texts: list[str], params: TokenizerParams) -> bytes:
    """Plain SentencePiece (lines as sentences, default splits, unigram) with only what
    exact round trips need: identity normalization, no dummy prefix, whitespace kept, byte
    fallback (a newline is the byte piece <0x0A>). Separates the project's design choices
    from the exactness contract, which the plain baseline does not keep."""
    lines = [ln for t in bounded(texts, int(params.sample_mb * 2**20)) for ln in t.split("\n")]
    model = io.BytesIO()
    spm.set_random_generator_seed(params.seed)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([ln for ln in lines if ln]),
        model_writer=model,
        num_threads=1,
        max_sentence_length=MAX_SENTENCE_BYTES,
        minloglevel=2,
        vocab_size=params.vocab_size,
        hard_vocab_limit=False,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        byte_fallback=True,
    )
    return model.getvalue()


# (name, trainer of the model bytes; None = the project tokenizer)
RUNS = [("project", None), ("baseline", train_baseline), ("exact-baseline", exact_baseline)]


def encode_stream(sp: spm.SentencePieceProcessor, texts: list[str], eos: int) -> np.ndarray:
    """All texts' ids, each followed by an end-of-document id."""
    out: list[int] = []
    for text in texts:
        out += sp.encode(text)
        out.append(eos)
    return np.asarray(out, dtype=np.int64)


def math_flags(
    sp: spm.SentencePieceProcessor, text: str
) -> tuple[list[int], list[bool], list[int]]:
    """Ids of `text` and, per id, whether its piece starts inside a math span and how many
    bytes of `text` it covers (SentencePiece's offsets into the original text)."""
    proto = sp.encode(text, return_type="proto")
    spans, flags, j = math_spans(text), [], 0
    # piece offsets are in bytes of the UTF-8 text: map span char offsets to bytes
    starts = np.cumsum([0, *(len(c.encode("utf-8")) for c in text)])
    byte_spans = [(int(starts[a]), int(starts[b])) for a, b in spans]
    for piece in proto.pieces:
        while j < len(byte_spans) and byte_spans[j][1] <= piece.begin:
            j += 1
        flags.append(j < len(byte_spans) and byte_spans[j][0] <= piece.begin)
    return [p.id for p in proto.pieces], flags, [p.end - p.begin for p in proto.pieces]


def train_model(
    sp: spm.SentencePieceProcessor, texts: list[str], train_bytes: int, seed: int
) -> tuple[GPT, dict[str, Any]]:
    pre = RECIPES["tiny"]
    cfg = resolve_model_config("tiny", ModelOverrides(), sp.get_piece_size())
    stream = encode_stream(sp, texts, sp.eos_id())
    bytes_per_token = sum(len(t.encode("utf-8")) for t in texts) / len(stream)
    T, B = cfg.seq_len, pre.micro_batch
    steps = max(1, round(train_bytes / (bytes_per_token * B * T)))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = GPT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=pre.lr, weight_decay=0.1, betas=(0.9, 0.95))
    t0 = time.perf_counter()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, pre.lr, pre.min_lr, pre.warmup_steps, steps)
        starts = rng.integers(0, len(stream) - T - 1, B)
        x = torch.from_numpy(np.stack([stream[s : s + T] for s in starts]))
        y = torch.from_numpy(np.stack([stream[s + 1 : s + T + 1] for s in starts]))
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    info = {"steps": steps, "bytes_per_token": round(bytes_per_token, 3)}
    info |= {"final_loss": round(loss.item(), 4), "train_s": round(time.perf_counter() - t0, 1)}
    return model, info


@torch.no_grad()
def bits_and_bytes(
    model: GPT, sp: spm.SentencePieceProcessor, docs: list[tuple[str, str]]
) -> dict[str, list[float]]:
    """Held-out [bits, bytes] per domain, per kind of span ("span:math", "span:prose") and
    "all". Each document is scored in windows of seq_len tokens (its first token, predicted
    from nothing, is left out)."""
    model.eval()
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    T = model.cfg.seq_len
    for domain, text in docs:
        ids, flags, nbytes = math_flags(sp, text)
        for s in range(0, len(ids) - 1, T):
            x = torch.tensor([ids[s : s + T]])
            y = torch.tensor(ids[s + 1 : s + T + 1])
            logp = torch.log_softmax(model(x[:, : len(y)])[0].float(), dim=-1)
            bits = (-logp[torch.arange(len(y)), y] / np.log(2)).tolist()
            for k in range(len(y)):
                span = "span:math" if flags[s + 1 + k] else "span:prose"
                for key in ("all", domain, span):
                    sums[key][0] += bits[k]
                    sums[key][1] += nbytes[s + 1 + k]
    return sums


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--train-mb", type=float, default=2.0)
    ap.add_argument("--only", choices=[n for n, _ in RUNS], help="train one model only")
    ap.add_argument(
        "--disjoint",
        action="store_true",
        help="tokenizers train on every other training document, the model on the rest",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not (args.papers / "SOURCES.tsv").is_file():
        print(f"bpb: skipped, {args.papers}/SOURCES.tsv is absent")
        return
    torch.set_num_threads(1)
    params = project_params(args, vocab_size=args.vocab)
    papers = dev_papers(args.papers)
    fold_ids = folds(papers, 4, params.seed)
    sample = training_sample(args)
    results: dict[str, Any] = {}
    # Two halves (folds 0-1, then 2-3) each held out once: every paper is scored once.
    for half in ([0, 1], [2, 3]):
        held = {i for f in half for i in fold_ids[f]}
        train = sample + [p[2] for i, p in enumerate(papers) if i not in held]
        docs = [(papers[i][1], papers[i][2]) for i in sorted(held)]
        # Production trains the tokenizer on a small sample (`sample_mb`) of a corpus the
        # model then reads almost entirely unseen; --disjoint mimics that.
        tok_train, lm_train = (train[0::2], train[1::2]) if args.disjoint else (train, train)
        print(f"held out folds {half}: {len(docs)} papers; train {sum(map(len, train))} chars")
        with tempfile.TemporaryDirectory() as tmp:
            train_tokenizer(tok_train, params, Path(tmp))
            ours = spm.SentencePieceProcessor(model_file=f"{tmp}/tokenizer.model")
        for name, make in RUNS:
            if args.only not in (None, name):
                continue
            sp = (
                ours
                if make is None
                else spm.SentencePieceProcessor(model_proto=make(tok_train, params))
            )
            model, info = train_model(sp, lm_train, int(args.train_mb * 2**20), params.seed)
            res = results.setdefault(name, {"runs": [], "sums": defaultdict(lambda: [0.0, 0])})
            res["runs"].append(info)
            for key, (bits, nbytes) in bits_and_bytes(model, sp, docs).items():
                res["sums"][key][0] += bits
                res["sums"][key][1] += nbytes
            print(name, json.dumps(info), flush=True)
    for name, res in results.items():
        res["bpb"] = {k: round(b / n, 4) for k, (b, n) in sorted(res["sums"].items())}
        print(name, "bits per byte", json.dumps(res["bpb"]))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
