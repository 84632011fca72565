"""Sample text from an exported model (no DeepSpeed): a smoke test for a human reader.

    python -m arxiv2lm.train.sample models/export --prompt "We prove that" --tokens 80

>>> ids = generate(model, [5, 9], max_new_tokens=4, temperature=0.0, eos_id=2)  # doctest: +SKIP
>>> len(ids) <= 6                                               # doctest: +SKIP
True
"""

from __future__ import annotations

import argparse
from pathlib import Path

import sentencepiece as spm
import torch

from arxiv2lm.train.export import load_export
from arxiv2lm.train.model import GPT


@torch.no_grad()
def generate(
    model: GPT,
    prompt: list[int],
    max_new_tokens: int,
    temperature: float = 0.8,
    top_k: int = 50,
    eos_id: int | None = None,
    seed: int = 0,
) -> list[int]:
    """Prompt ids plus up to `max_new_tokens` sampled ids (greedy at temperature 0)."""
    gen = torch.Generator().manual_seed(seed)
    ids = list(prompt) or ([eos_id] if eos_id is not None else [0])
    for _ in range(max_new_tokens):
        window = torch.tensor([ids[-model.cfg.seq_len :]])
        logits = model(window)[0, -1].float()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if 0 < top_k < logits.numel():
                logits[logits < torch.topk(logits, top_k).values[-1]] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
        if nxt == eos_id:
            break
        ids.append(nxt)
    return ids


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export_dir", type=Path)
    ap.add_argument("--prompt", default="")
    ap.add_argument("--tokens", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    model, config = load_export(args.export_dir, dtype=torch.float32)
    sp = spm.SentencePieceProcessor(model_file=str(args.export_dir / "tokenizer.model"))
    ids = generate(
        model,
        sp.encode(args.prompt),
        args.tokens,
        args.temperature,
        args.top_k,
        config["eos_id"],
        args.seed,
    )
    print(sp.decode(ids))


if __name__ == "__main__":
    main()
