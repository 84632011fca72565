"""DVC stage `tokenizer`: train the SentencePiece model and compare it with a plain one.

    python stages/tokenizer.py data/normalize data/tokenizer reports/tokenizer.json \\
        reports/tokenizer.csv

Reads the normalized papers, data/normalize/parts/*.parquet (twice, streaming: ids and
sizes, then the chosen texts), writes data/tokenizer/{tokenizer.model, tokenizer.vocab,
stats.json} and the small metrics file reports/tokenizer.json. With `tokenizer.reuse:
<tokenizer.model>` that model is kept (pinned) instead of trained, and scored on this run's
held-out papers: every token id stays, so the shard stage re-encodes only new papers.
With `tokenizer.real_papers: <folder>` (relative to the repo root; skipped with a message
when absent) the model, and the baseline when one is trained, are also scored on those real
paper sources run through extract and normalize in-process (`tokens.realpapers`): `real` in
stats.json, `real_*` keys in the metrics file. The folder is not a DVC dependency.
Params: the `tokenizer:` section of params.yaml, and the `shard:` section's `val_fraction`
and `split_salt`: the tokenizer trains on the shard stage's train split only and is scored
on papers of its val split.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import sentencepiece as spm

# This checkout's src/ before the editable install's: `dvc exp run --queue/--temp` runs
# in a clone under .dvc/tmp/exps whose code can differ from the main workspace's.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from arxiv2lm.io import atomic_dir, write_csv, write_json
from arxiv2lm.params import ParamsError, load_params
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.realpapers import RealDrop, RealPaper, load_real_papers
from arxiv2lm.tokens.tokenizer import (
    N_TOP_COMMANDS,
    pin_tokenizer,
    plan_sample,
    train_baseline,
    train_tokenizer,
)
from arxiv2lm.workcache import iter_parts, iter_parts_where, part_files

MAX_EVAL_BYTES = 8 * 2**20  # held-out text scored per tokenizer: enough for 4 decimals


def read_real(folder: str) -> tuple[list[RealPaper], list[RealDrop]] | None:
    """The papers of `tokenizer.real_papers` (drops named on stderr), or None when the
    param is "" or the folder is absent."""
    if not folder:
        return None
    if not Path(folder).is_dir():
        print(f"tokenizer: real papers: {folder} absent, skipped")
        return None
    try:
        papers, drops = load_real_papers(Path(folder), load_params("extract"))
    except (ParamsError, ValueError) as err:  # a broken SOURCES.tsv stops the stage
        sys.exit(f"tokenizer: real papers: {err}")
    for d in drops:
        print(f"tokenizer: real paper {d.folder} dropped: {d.reason} {d.detail}", file=sys.stderr)
    return papers, drops


def real_line(real: dict, folder: str) -> str:
    """The one printed line of real-paper figures, the baseline's in brackets."""
    ours, base = real["ours"], real["baseline"]
    head = f"tokenizer: real papers: {len(real['docs'])} from {folder} {real['domains']}"
    if ours is None:
        return f"{head}, none left to score ({len(real['drops'])} dropped)"

    def fig(key: str) -> str:
        return f"{ours[key]}" + (f" (baseline {base[key]})" if base else "")

    return (
        f"{head}: tokens/char {fig('tokens_per_char')}, tokens/math segment "
        f"{fig('tokens_per_math_segment')}, byte fallback {fig('byte_fallback_rate')}, "
        f"round trip {fig('roundtrip_rate')}, {len(real['drops'])} dropped"
    )


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
    if not part_files(args.normalize_dir):
        sys.exit(f"tokenizer: {args.normalize_dir}/parts has no papers (run normalize first)")
    if p.reuse and not Path(p.reuse).is_file():
        sys.exit(f"tokenizer: tokenizer.reuse {p.reuse!r} is not a file")

    ids = ((r["id"], r["bytes"]) for r in iter_parts(args.normalize_dir, ["id", "bytes"]))
    try:
        plan = plan_sample(ids, p, MAX_EVAL_BYTES, shard.val_fraction, shard.split_salt)
    except ValueError as err:  # a val_fraction or heldout_fraction out of range
        sys.exit(f"tokenizer: {err}")
    train_ids, held_ids = plan.train, plan.heldout
    # A pinned model needs no training sample: only the held-out papers are read (their
    # commands stand in for the sample's), so a monthly run does not read every text.
    wanted = set(held_ids) if p.reuse else set(train_ids) | set(held_ids)
    cols = ["id", "domain", "text"]
    rows = iter_parts_where(args.normalize_dir, wanted, cols)
    texts = {r["id"]: (r["domain"], r["text"]) for r in rows}
    heldout = [texts[i] for i in held_ids]
    sample = [t for _, t in heldout] if p.reuse else [texts[i][1] for i in train_ids]
    real_docs = read_real(p.real_papers)

    try:
        with atomic_dir(args.out_dir) as out:
            if p.reuse:
                stats = pin_tokenizer(Path(p.reuse), sample, p, out)
            else:
                stats = train_tokenizer(sample, p, out)
            ours_sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
            ours = metrics.evaluate(ours_sp, heldout, stats["top_commands"])
            # A pinned model was compared with the baseline when it was trained; training
            # one now would cost what pinning saves, so a pinned run scores only the model.
            base_sp, base = None, None
            if not p.reuse:
                base_sp = spm.SentencePieceProcessor(model_proto=train_baseline(sample, p))
                base = metrics.evaluate(base_sp, heldout, stats["top_commands"])
            real = None
            if real_docs is not None:
                real = metrics.evaluate_real(ours_sp, base_sp, *real_docs, N_TOP_COMMANDS)
            train_s = stats.pop("train_s")  # timings stay out of outputs: same inputs, same hash
            stats.update(
                params=dataclasses.asdict(p),
                split={"val_fraction": shard.val_fraction, "split_salt": shard.split_salt},
                heldout_split=plan.heldout_split,
                heldout=ours,
                baseline=base,
                real=real,
            )
            write_json(stats, out / "stats.json")
    except ValueError as err:
        sys.exit(f"tokenizer: {err}")
    write_json(metrics.report_metrics(ours, base, real), args.metrics_json)
    write_csv(metrics.comparison_rows(ours, base, real), metrics.COMPARE_FIELDS, args.plot_csv)
    how = f"pinned {p.reuse}" if p.reuse else f"trained in {train_s:.1f}s"
    print(
        f"tokenizer: {stats['model_type']} vocab {stats['vocab_size']} on "
        f"{stats['sample_bytes']} bytes, {how}; {len(held_ids)} held-out "
        f"{plan.heldout_split} papers: "
        f"tokens/char {ours['tokens_per_char']} "
        + (f"(baseline {base['tokens_per_char']}), " if base else "")
        + f"round trip {ours['roundtrip_rate']}"
    )
    if real is not None:
        print(real_line(real, p.real_papers))


if __name__ == "__main__":
    main()
