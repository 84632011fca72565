"""Print the token pipeline's speeds against what training consumes.

    python bench/tokens.py [--normalize data/normalize] [--tex-dir DIR] [--mb 3]
                           [--encode-mb 24] [--tiny-tokens-per-s N]

Figures: tokenizer training time (project settings and the plain baseline), held-out
figures of both, encoding throughput in MB/s per core with 1 and 2 workers, and loader
throughput in tokens/s for the tiny preset's windows (batch 16) and the 1.36B preset's
(batch 8 x 2048), next to the tiny model's consumption (reports/pretrain/metrics.json
`tokens_per_s`, or --tiny-tokens-per-s) and ~50k tokens/s for the 1.36B preset on an H100.
Without data/normalize it uses .tex files from --tex-dir and/or generated LaTeX-like text.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sentencepiece as spm

from arxiv2lm.params import load_params
from arxiv2lm.text.mathspan import math_segments
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.loader import ShardSet
from arxiv2lm.tokens.sampler import WindowSampler
from arxiv2lm.tokens.tokenizer import plan_sample, train_baseline, train_tokenizer
from arxiv2lm.workcache import part_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import adopt_orphans, run_cmd  # noqa: E402

_ENCODE = (  # argv: parts folder, model, out folder, workers
    "import sys; from pathlib import Path; from arxiv2lm.tokens.encode import build_shards; "
    "from arxiv2lm.workcache import WorkCache; a = sys.argv; "
    "build_shards(sorted(Path(a[1]).glob('*.parquet')), Path(a[2]), Path(a[3]), 0.08, 'bench', "
    "int(a[4]), WorkCache(None))"
)
BIG_MODEL_TOKENS_PER_S = 50_000  # 1.36B preset, one H100, bf16 (6 * N * tokens/s ~ 400 TFLOPs)
WORDS = [
    "we",
    "show",
    "that",
    "the",
    "energy",
    "of",
    "a",
    "field",
    "is",
    "bounded",
    "by",
    "its",
    "norm",
    "and",
    "proof",
    "follows",
    "from",
    "lemma",
    "theorem",
    "equation",
    "where",
    "for",
    "all",
    "which",
    "implies",
    "holds",
    "under",
    "this",
    "assumption",
    "results",
    "model",
    "data",
    "network",
    "training",
    "loss",
    "gradient",
    "particle",
    "spin",
    "mass",
    "density",
]
COMMANDS = [
    r"\frac{a}{b}",
    r"\alpha",
    r"\beta",
    r"\sum_{i=1}^{n}",
    r"\int_0^1",
    r"\mathbb{R}",
    r"\partial",
    r"\nabla",
    r"\leq",
    r"\mathcal{O}(n)",
    r"\sqrt{2}",
    r"\infty",
]
DOMAINS = ("math", "cs", "physics")


def synthetic_text(rng: random.Random, n_paragraphs: int) -> str:
    """LaTeX-like prose: sentences, inline math, display environments, numbers."""
    paras = []
    for _ in range(n_paragraphs):
        words = []
        for _ in range(rng.randint(20, 80)):
            r = rng.random()
            if r < 0.08:
                words.append("$" + " + ".join(rng.sample(COMMANDS, 2)) + "$")
            elif r < 0.1:
                words.append(str(rng.randint(0, 10**6)))
            else:
                words.append(rng.choice(WORDS))
        paras.append(" ".join(words) + ".")
        if rng.random() < 0.3:
            env = rng.choice(["align", "equation", "itemize"])
            body = " \\\\\n  ".join(" = ".join(rng.sample(COMMANDS, 3)) for _ in range(2))
            paras.append(f"\\begin{{{env}}}\n  {body}\n\\end{{{env}}}")
    return "\n\n".join(paras)


def chunks(text: str, max_chars: int = 16_000) -> list[str]:
    """A long TeX file as several "papers" of whole paragraphs, so a held-out share exists."""
    out, cur = [], ""
    for para in text.split("\n\n"):
        if cur and len(cur) + len(para) > max_chars:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n\n{para}" if cur else para
    return [*out, cur] if cur else out


def corpus(normalize: Path | None, tex_dir: Path | None, mb: float) -> pd.DataFrame:
    """Documents (id, domain, text, math_fraction, bytes): real if given, else generated."""
    if normalize and part_files(normalize):
        return pd.concat([pd.read_parquet(p) for p in part_files(normalize)], ignore_index=True)
    rows, rng, used = [], random.Random(0), 0
    files = sorted(tex_dir.rglob("*.tex")) if tex_dir else []
    texts = [c for p in files for c in chunks(p.read_text(errors="replace"))]
    while used < mb * 2**20:
        text = texts.pop(0) if texts else synthetic_text(rng, rng.randint(20, 60))
        i = len(rows)
        math = sum(map(len, math_segments(text))) / max(len(text), 1)
        rows.append(
            {
                "id": f"{2301 + i % 12}.{i:05d}",
                "domain": DOMAINS[i % 3],
                "text": text,
                "math_fraction": math,
                "bytes": len(text.encode()),
            }
        )
        used += rows[-1]["bytes"]
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--normalize", type=Path, default=Path("data/normalize"))
    ap.add_argument("--tex-dir", type=Path, default=None)
    ap.add_argument("--mb", type=float, default=3.0)
    ap.add_argument("--encode-mb", type=float, default=24.0)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--tiny-tokens-per-s", type=float, default=None)
    args = ap.parse_args()
    docs = corpus(args.normalize, args.tex_dir, args.mb)
    # params.yaml's tokenizer settings (the real-paper study's winners) at this size
    p = dataclasses.replace(
        load_params("tokenizer"), vocab_size=args.vocab_size, sample_mb=args.mb, reuse=""
    )
    print(f"corpus: {len(docs)} docs, {docs['bytes'].sum() / 2**20:.2f} MB")
    work = Path(tempfile.mkdtemp(prefix="bench-tokens-"))
    ids = zip(docs["id"], docs["bytes"], strict=True)
    plan = plan_sample(ids, p, 8 * 2**20, 0.08, "bench")
    train_ids, held_ids = plan.train, plan.heldout
    by_id = docs.set_index("id")
    sample = [by_id.at[i, "text"] for i in train_ids]
    held = [(by_id.at[i, "domain"], by_id.at[i, "text"]) for i in held_ids]

    stats = train_tokenizer(sample, p, work / "tok")
    t0 = time.perf_counter()
    base = train_baseline(sample, p)
    base_s = time.perf_counter() - t0
    print(
        f"train: project {stats['train_s']:.2f}s, baseline {base_s:.2f}s "
        f"on {stats['sample_bytes'] / 2**20:.2f} MB (num_threads=1)"
    )
    sp = spm.SentencePieceProcessor(model_file=str(work / "tok/tokenizer.model"))
    ours = metrics.evaluate(sp, held, stats["top_commands"])
    theirs = metrics.evaluate(
        spm.SentencePieceProcessor(model_proto=base), held, stats["top_commands"]
    )
    print(f"held-out ({ours['docs']} docs)   project   baseline")
    for k in metrics.REPORT_KEYS:
        print(f"  {k:28s} {ours[k]:9.4f} {theirs[k]:9.4f}")

    rows = docs.to_dict("records")
    model = work / "tok/tokenizer.model"
    # Encoding on >= --encode-mb of text (the corpus repeated, as 4 chunks' parts) through
    # the shard stage's own path (units, one supervised pool), so the one-off pool start
    # (~0.5-1 s) is amortised as in a real run.
    reps = max(1, round(args.encode_mb * 2**20 / docs["bytes"].sum()))
    enc_mb = reps * docs["bytes"].sum() / 2**20
    many = [dict(r, id=f"{r['id']}-{k}") for k in range(reps) for r in rows]
    parts = []
    for c in range(4):
        parts.append(work / f"parts/arXiv_src_2301_{c + 1:03d}.parquet")
        parts[-1].parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(many[c::4]), parts[-1])
    # Per core = per CPU-second of the shard run and its pool workers, which live under a
    # forkserver the run never waits for: the run is a child process and this bench adopts
    # and reaps its orphans (bench/e2e.py), so their CPU is counted.
    adopt_orphans()
    for workers in (1, 2):
        out = work / f"shard-{workers}"
        argv = [str(work / "parts"), str(model), str(out), str(workers)]
        log = work / f"shard-{workers}.log"
        code, dt, cpu, _ = run_cmd([sys.executable, "-c", _ENCODE, *argv], work, None, log)
        if code:
            sys.exit(f"bench: shard run failed:\n{log.read_text()[-3000:]}")
        meta = json.loads((out / "meta.json").read_text())
        n = sum(s["tokens"] for s in meta["splits"].values())
        print(
            f"shard (encode + write), {workers} worker(s), {enc_mb:.0f} MB: "
            f"{enc_mb / dt:.2f} MB/s wall, {enc_mb / cpu:.2f} MB/s per core (CPU time), "
            f"{n / dt:,.0f} tokens/s; load average {os.getloadavg()[0]:.1f}"
        )
    train = ShardSet.open(out, "train", meta["tokenizer_sha256"])
    tiny = args.tiny_tokens_per_s
    tiny_json = Path("reports/pretrain/metrics.json")
    if tiny is None and tiny_json.exists():
        tiny = json.loads(tiny_json.read_text()).get("tokens_per_s")
    for name, t, b, need in (("tiny", 128, 16, tiny), ("1.36B", 2048, 8, BIG_MODEL_TOKENS_PER_S)):
        if len(train.tokens) <= t:
            print(f"loader {name}: split too short for seq_len {t}")
            continue
        s = WindowSampler(train, t, b, seed=1, mixture={"low": 0.4, "mid": 0.3, "high": 0.3})
        t0, steps = time.perf_counter(), 0
        while time.perf_counter() - t0 < 1.0:
            s.batch(steps)
            steps += 1
        rate = steps * b * t / (time.perf_counter() - t0)
        vs = f", model consumes {need:,.0f} ({rate / need:,.0f}x headroom)" if need else ""
        print(f"loader {name} (B={b}, T={t}): {rate:,.0f} tokens/s{vs}")


if __name__ == "__main__":
    main()
