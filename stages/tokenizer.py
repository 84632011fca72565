"""DVC stage `tokenizer`: train the SentencePiece model and compare it with a plain one.

    python stages/tokenizer.py data/normalize data/tokenizer reports/tokenizer.json \\
        reports/tokenizer.csv

Reads data/normalize/docs.parquet (twice, streaming: ids and sizes, then the chosen texts),
writes data/tokenizer/{tokenizer.model, tokenizer.vocab, stats.json} and the small metrics
file reports/tokenizer.json. Params: the `tokenizer:` section of params.yaml, and the
`shard:` section's `val_fraction` and `split_salt`: the tokenizer trains on the shard
stage's train split only and is scored on papers of its val split.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import sentencepiece as spm

from arxiv2lm.io import atomic_dir, iter_parquet, write_csv, write_json
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.tokenizer import plan_sample, train_baseline, train_tokenizer

MAX_EVAL_BYTES = 8 * 2**20  # held-out text scored per tokenizer: enough for 4 decimals


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("normalize_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("metrics_json", type=Path)
    ap.add_argument("plot_csv", type=Path, help="tokens per char/word, ours vs the baseline")
    args = ap.parse_args(argv)
    try:
        p = load_params("tokenizer")
        shard = load_params("shard")
    except ParamsError as err:
        sys.exit(f"tokenizer: {err}")
    docs = args.normalize_dir / "docs.parquet"
    if not docs.exists():
        sys.exit(f"tokenizer: {docs} not found (run the normalize stage first)")

    ids = ((r["id"], r["bytes"]) for r in iter_parquet(docs, ["id", "bytes"]))
    try:
        plan = plan_sample(ids, p, MAX_EVAL_BYTES, shard.val_fraction, shard.split_salt)
    except ValueError as err:  # a val_fraction or heldout_fraction out of range
        sys.exit(f"tokenizer: {err}")
    train_ids, held_ids = plan.train, plan.heldout
    wanted = set(train_ids) | set(held_ids)
    texts: dict[str, tuple[str, str]] = {
        r["id"]: (r["domain"], r["text"])
        for r in iter_parquet(docs, ["id", "domain", "text"])
        if r["id"] in wanted
    }
    sample = [texts[i][1] for i in train_ids]
    heldout = [texts[i] for i in held_ids]

    try:
        with atomic_dir(args.out_dir) as out:
            stats = train_tokenizer(sample, p, out)
            baseline = train_baseline(sample, p)
            ours = metrics.evaluate(
                spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model")),
                heldout,
                stats["top50_commands"],
            )
            base = metrics.evaluate(
                spm.SentencePieceProcessor(model_proto=baseline),
                heldout,
                stats["top50_commands"],
            )
            train_s = stats.pop("train_s")  # timings stay out of outputs: same inputs, same hash
            stats.update(
                params=dataclasses.asdict(p),
                split={"val_fraction": shard.val_fraction, "split_salt": shard.split_salt},
                heldout_split=plan.heldout_split,
                heldout=ours,
                baseline=base,
            )
            write_json(stats, out / "stats.json")
    except ValueError as err:
        sys.exit(f"tokenizer: {err}")
    write_json(metrics.report_metrics(ours, base), args.metrics_json)
    write_csv(metrics.comparison_rows(ours, base), metrics.COMPARE_FIELDS, args.plot_csv)
    print(
        f"tokenizer: {p.model_type} vocab {p.vocab_size} on {stats['sample_bytes']} bytes "
        f"in {train_s:.1f}s; {len(held_ids)} held-out {plan.heldout_split} papers: "
        f"tokens/char {ours['tokens_per_char']} "
        f"(baseline {base['tokens_per_char']}), round trip {ours['roundtrip_rate']}"
    )


if __name__ == "__main__":
    main()
