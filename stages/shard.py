"""DVC stage `shard`: encode the normalised papers into train/val token shards.

    python stages/shard.py data/normalize data/tokenizer data/shard

Reads data/normalize/docs.parquet (streaming) and data/tokenizer/tokenizer.model; writes
data/shard/{train,val}.bin, {train,val}.index.parquet, meta.json (format, dtype, vocab, EOS,
tokenizer hash, counts) and, through the ledger, rejected.parquet + stats.json (papers,
bytes and tokens kept, tokens per split). Params: the `shard:` section of params.yaml.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arxiv2lm.io import atomic_dir, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.tokens.shards import WorkerDied, build_shards

COLUMNS = ["id", "domain", "text", "math_fraction", "bytes"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("normalize_dir", type=Path)
    ap.add_argument("tokenizer_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = ap.parse_args(argv)
    try:
        p = load_params("shard")
    except ParamsError as err:
        sys.exit(f"shard: {err}")
    model = args.tokenizer_dir / "tokenizer.model"
    docs = args.normalize_dir / "docs.parquet"
    for need in (model, docs):
        if not need.exists():
            sys.exit(f"shard: {need} does not exist (run the previous stages first)")
    ledger = Ledger("shard")
    try:
        with atomic_dir(args.out_dir) as out:
            meta = build_shards(
                iter_parquet(docs, COLUMNS),
                model,
                out,
                p.val_fraction,
                p.split_salt,
                resolve_workers(p.workers),
                ledger,
            )
            splits = {
                name: {k: s[k] for k in ("tokens", "docs", "bytes")}
                for name, s in meta["splits"].items()
            }
            ledger.write(out, extra={"splits": splits, "dtype": meta["dtype"]})
    except (ValueError, WorkerDied) as err:  # a vocab too large for the dtype, an empty split
        sys.exit(f"shard: {err}")
    print(
        "shard: "
        + ", ".join(f"{n} {s['tokens']:,} tokens / {s['docs']} docs" for n, s in splits.items())
        + f" ({meta['dtype']}, {ledger.dropped_papers} dropped)"
    )


if __name__ == "__main__":
    main()
