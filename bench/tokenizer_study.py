"""Score the project tokenizer against plain SentencePiece on held-out real papers.

    python bench/tokenizer_study.py [--papers ../shared/realdata/papers] [--normalize
        data/normalize] [--vocab 4096 16384 32768] [--folds 4] [--variants]
        [--set KEY=VALUE] [--no-sample] [--out FILE]

The real dev papers (SOURCES.tsv) go through extract and normalize in-process, as
bench/fidelity.py runs them. Each paper's domain is the arXiv group of the first category
in its SOURCES.tsv `field` (`tokens.realpapers.domain_of`). The papers are dealt into
`--folds` folds, stratified by domain in a seeded hash order; each fold is held out once
while both tokenizers train on the bundled sample's normalized text plus the other folds'
papers, so every paper is scored exactly once and never by a tokenizer that saw it. Per vocabulary
size it prints tokens per char / word / math segment, math and prose tokens per char,
byte-fallback rate, the share of the 200 most frequent commands that are one token and
round trips, overall and per domain, for both; `--variants` also scores the design
choices one at a time (`VARIANTS`) at each size. `--out` writes every figure as JSON.
Skipped with a message when the papers folder is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sentencepiece as spm
import yaml

from arxiv2lm.params import TokenizerParams, load_params
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.realpapers import RealPaper, load_real_papers
from arxiv2lm.tokens.symbols import count_latex_symbols, top_symbols
from arxiv2lm.tokens.tokenizer import N_TOP_COMMANDS, train_baseline, train_tokenizer
from arxiv2lm.workcache import iter_parts, part_files

ROOT = Path(__file__).resolve().parents[1]
# One design choice changed from the project's params at a time: what each is worth.
VARIANTS: dict[str, dict[str, Any]] = {
    "split by script (SentencePiece default)": {"split_by_script": True},
    "no mined symbols": {"latex_symbols": "none"},
    "split digits": {"split_digits": True},
    "unigram": {"model_type": "unigram"},
    "character_coverage 1.0": {"character_coverage": 1.0},
    "pieces across spaces (no HF export)": {"split_by_whitespace": False},
}


def dev_papers(root: Path) -> list[RealPaper]:
    """The papers of `root` that extract keeps (`tokens.realpapers`, with this checkout's
    extract params); a dropped one is named on stderr."""
    papers, drops = load_real_papers(root, load_params("extract", ROOT / "params.yaml"))
    for d in drops:
        print(f"study: {d.folder} dropped: {d.reason} {d.detail}", file=sys.stderr)
    return papers


def folds(papers: list[RealPaper], k: int, seed: int) -> list[list[int]]:
    """Indices of `papers` dealt into `k` folds: per domain in a seeded hash order, round
    robin, continuing where the previous domain stopped so fold sizes stay even."""
    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, (_, domain, _) in enumerate(papers):
        by_domain[domain].append(i)
    out: list[list[int]] = [[] for _ in range(k)]
    slot = 0
    for domain in sorted(by_domain):
        key = lambda i: hashlib.sha1(f"study\x00{seed}\x00{papers[i][0]}".encode()).digest()  # noqa: E731
        for i in sorted(by_domain[domain], key=key):
            out[slot % k].append(i)
            slot += 1
    return out


def sample_texts(normalize_dir: Path) -> list[str]:
    if not part_files(normalize_dir):
        return []
    return [r["text"] for r in iter_parts(normalize_dir, ["text"])]


def score(
    params: TokenizerParams,
    sample: list[str],
    papers: list[RealPaper],
    fold_ids: list[list[int]],
    baseline: bool,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """Both tokenizers trained once per fold, each scored on its held-out fold; the counts
    are summed over folds, so every figure covers every real paper once."""
    acc: dict[str, dict[str, dict[str, int]]] = {"ours": {}, "base": {}}
    single: dict[str, list[int]] = {"ours": [0, 0], "base": [0, 0]}
    info = {"train_chars": [], "baseline_pieces": [], "train_s": 0.0}
    for held in fold_ids:
        train = sample + [papers[i][2] for i in range(len(papers)) if i not in held]
        heldout = [(papers[i][1], papers[i][2]) for i in held]
        commands = top_symbols(count_latex_symbols(t for _, t in heldout), N_TOP_COMMANDS)
        info["train_chars"].append(sum(map(len, train)))
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            train_tokenizer(train, params, Path(tmp))
            info["train_s"] += time.perf_counter() - t0
            models = {"ours": spm.SentencePieceProcessor(model_file=f"{tmp}/tokenizer.model")}
        if baseline:
            models["base"] = spm.SentencePieceProcessor(model_proto=train_baseline(train, params))
            info["baseline_pieces"].append(models["base"].get_piece_size())
        for name, sp in models.items():
            byte_ids = {i for i in range(sp.get_piece_size()) if sp.is_byte(i)}
            for domain, text in heldout:
                for key in ("all", domain):
                    slot = acc[name].setdefault(key, defaultdict(int))
                    for k, n in metrics.count_doc(sp, text, byte_ids).items():
                        slot[k] += n
            single[name][0] += sum(metrics.is_one_token(sp, c) for c in commands)
            single[name][1] += len(commands)

    def table(name: str) -> dict[str, Any]:
        out = {key: metrics.figures(a) for key, a in sorted(acc[name].items())}
        out["all"]["command_single_token_share"] = round(single[name][0] / single[name][1], 4)
        return out

    return table("ours"), table("base") if baseline else None, info


def print_table(vocab: int, ours: dict[str, Any], base: dict[str, Any] | None) -> None:
    cols = ["tokens_per_char", "tokens_per_word", "tokens_per_math_segment"]
    cols += ["math_tokens_per_char", "prose_tokens_per_char", "byte_fallback_rate"]
    cols += ["roundtrip_rate"]
    short = ["tok/char", "tok/word", "tok/mathseg", "math t/c", "prose t/c", "bytefb", "exact"]
    head = f"{'vocab':>6} {'domain':8} {'tokenizer':9} {'docs':>4} "
    print(head + " ".join(f"{c:>11}" for c in short))
    for key in ours:
        for name, res in (("project", ours), ("baseline", base)):
            if res is None or key not in res:
                continue
            row = res[key]
            print(
                f"{vocab:>6} {key:8} {name:9} {row['docs']:>4} "
                + " ".join(f"{row[c]:>11.4f}" for c in cols)
            )
    share = [
        f"{n} {r['all']['command_single_token_share']:.3f}"
        for n, r in (("project", ours), ("baseline", base))
        if r
    ]
    print(f"{'':>6} top-{N_TOP_COMMANDS} commands that are one token: " + ", ".join(share))


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The arguments both tokenizer benches take (this one and tokenizer_bpb.py)."""
    ap.add_argument("--papers", type=Path, default=ROOT.parent / "shared/realdata/papers")
    ap.add_argument("--normalize", type=Path, default=ROOT / "data/normalize")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a tokenizer param of the project tokenizer (a variant)",
    )
    ap.add_argument(
        "--no-sample",
        action="store_true",
        help="train on the other real papers only, without the bundled sample's text",
    )


def project_params(args: argparse.Namespace, **fixed: Any) -> TokenizerParams:
    """params.yaml's tokenizer section with `fixed` and the `--set` changes applied."""
    changes = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    return dataclasses.replace(load_params("tokenizer", ROOT / "params.yaml"), **fixed, **changes)


def training_sample(args: argparse.Namespace) -> list[str]:
    """The bundled sample's normalized texts, or none with `--no-sample`."""
    return [] if args.no_sample else sample_texts(args.normalize)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(ap)
    ap.add_argument("--vocab", type=int, nargs="+", default=[4096, 16384, 32768])
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--variants", action="store_true", help="also one design choice at a time")
    ap.add_argument("--out", type=Path, help="write every figure here as JSON")
    args = ap.parse_args()
    if not (args.papers / "SOURCES.tsv").is_file():
        print(f"study: skipped, {args.papers}/SOURCES.tsv is absent")
        return
    base_params = project_params(args)
    papers = dev_papers(args.papers)
    fold_ids = folds(papers, args.folds, base_params.seed)
    sample = training_sample(args)
    domains = defaultdict(int)
    for _, d, _ in papers:
        domains[d] += 1
    print(
        f"{len(papers)} real papers ({dict(sorted(domains.items()))}, "
        f"{sum(len(t) for *_, t in papers)} chars) in {args.folds} folds "
        f"{[len(f) for f in fold_ids]}; sample {len(sample)} docs, {sum(map(len, sample))} chars"
    )
    results: dict[str, Any] = {}
    for vocab in args.vocab:
        params = dataclasses.replace(base_params, vocab_size=vocab)
        ours, base, info = score(params, sample, papers, fold_ids, baseline=True)
        chars = info["train_chars"]
        print(
            f"\nvocab {vocab}: training text {min(chars)}-{max(chars)} chars per fold; "
            f"baseline reached {min(info['baseline_pieces'])}-{max(info['baseline_pieces'])} "
            f"pieces; project trained in {info['train_s']:.1f}s over the folds"
        )
        print_table(vocab, ours, base)
        results[str(vocab)] = {"project": ours, "baseline": base, **info}
        if args.variants:
            for name, change in VARIANTS.items():
                var = dataclasses.replace(params, **change)
                try:
                    v, _, _ = score(var, sample, papers, fold_ids, baseline=False)
                except ValueError as err:  # unigram cannot reach a large vocab on this text
                    print(f"{'':>6} variant {name:40} cannot train: {str(err)[:90]}")
                    continue
                a = v["all"]
                print(
                    f"{'':>6} variant {name:40} tok/char {a['tokens_per_char']:.4f} "
                    f"tok/mathseg {a['tokens_per_math_segment']:.2f} "
                    f"bytefb {a['byte_fallback_rate']:.4f} exact {a['roundtrip_rate']:.3f}"
                )
                results[str(vocab)].setdefault("variants", {})[name] = v
    print(f"\nload average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
