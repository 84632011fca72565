"""DVC stage `shard`: encode the normalised papers into per-chunk train/val token units.

    python stages/shard.py data/normalize data/tokenizer data/shard [--work-cache DIR]
    python stages/shard.py ... --work-cache DIR --unit NAME [--unit ...] | --list-units

Reads data/normalize/parts/<chunk>.parquet (streaming) and data/tokenizer/tokenizer.model;
writes data/shard/units/<chunk>.{train,val}.{bin,index.parquet}, meta.json (format, dtype,
vocab, EOS, tokenizer hash, counts, and the index of units in chunk order) and, through the
ledger, rejected.parquet + stats.json (papers, bytes and tokens kept, tokens per split).
A chunk whose unit is in the work cache (same part, split params, tokenizer and code) is
not encoded again: with a pinned tokenizer a new month encodes only its papers. Params: the
`shard:` section of params.yaml.

`--unit arXiv_src_2301_001` (a chunk, as `--list-units` names it: the normalize part's stem)
encodes only that chunk into the work cache and writes no output folder (no meta, no
ledger), so a driver can run the units on many machines, then this stage once to link them
(README, "All of arXiv"). `--list-units` prints every unit with `cached` or `missing`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir
from arxiv2lm.ledger import Ledger
from arxiv2lm.params import ParamsError, load_params, resolve_workers
from arxiv2lm.tokens.encode import build_shards, compute_units, list_units
from arxiv2lm.units import UnitError, listing, parse_unit_args
from arxiv2lm.workcache import WorkCache, part_files


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("normalize_dir", type=Path)
    ap.add_argument("tokenizer_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    args = parse_unit_args("shard", ap, argv)
    try:
        p = load_params("shard")
    except ParamsError as err:
        sys.exit(f"shard: {err}")
    model = args.tokenizer_dir / "tokenizer.model"
    if not model.exists():
        sys.exit(f"shard: {model} does not exist (run the tokenizer stage first)")
    parts = part_files(args.normalize_dir)
    if not parts:
        sys.exit(f"shard: {args.normalize_dir}/parts has no papers (run normalize first)")
    cache = WorkCache(Path(args.work_cache) / "shard" if args.work_cache else None)
    if args.list_units or args.unit:
        try:
            if args.list_units:
                states = list_units(parts, model, p.val_fraction, p.split_salt, cache)
                sys.stdout.write(listing(states))
                return
            workers = resolve_workers(p.workers)
            run = compute_units(
                parts, model, p.val_fraction, p.split_salt, workers, cache, args.unit
            )
        except (ValueError, UnitError) as err:
            sys.exit(f"shard: {err}")
        print(
            f"shard: {run['units_computed']} units encoded, {run['units_reused']} already "
            f"in {cache.root}"
        )
        return
    ledger = Ledger("shard")
    try:
        with atomic_dir(args.out_dir) as out:
            meta, run = build_shards(
                parts,
                model,
                out,
                p.val_fraction,
                p.split_salt,
                resolve_workers(p.workers),
                cache,
                ledger,
            )
            splits = {
                name: {k: s[k] for k in ("tokens", "docs", "bytes")}
                for name, s in meta["splits"].items()
            }
            ledger.write(out, extra={"splits": splits, "dtype": meta["dtype"]})
    except (ValueError, UnitError) as err:  # a vocab too large for the dtype, a lost worker
        sys.exit(f"shard: {err}")
    cache.record_run(run)
    print(
        "shard: "
        + ", ".join(f"{n} {s['tokens']:,} tokens / {s['docs']} docs" for n, s in splits.items())
        + f" ({meta['dtype']}, {ledger.dropped_papers} dropped; {len(parts)} chunks, "
        f"{run['units_computed']} encoded, {run['units_reused']} reused)"
    )


if __name__ == "__main__":
    main()
