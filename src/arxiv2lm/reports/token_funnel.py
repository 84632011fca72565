"""The funnel in tokens: tokens in, kept and dropped per reason at every data stage.

One unit across stages, the tokens `shard` writes for a paper's normalized text (ids + EOS,
counted with the trained tokenizer). The tokenizer is trained after extract and normalize,
so no stage before shard can count its own tokens; the report stage counts them all, from the
stages' outputs, working back from shard's exact count:

- shard: kept = its own count; drops counted on their normalized text.
- normalize: in = extract's text counted; drops counted on their extracted text (normalize's
  input); kept = shard's input. What is left, in - kept - dropped, is `trimmed`: text that
  normalization removed from the papers it kept.
- extract: kept = normalize's input; its drops have no text, so each is estimated from its
  TeX bytes with tokens per TeX byte fitted on extract's kept papers (`Estimator`).
- validate and filter: no text; each dropped paper is estimated from its compressed source
  size (chunk member bytes) with tokens per compressed byte fitted on extract's kept papers,
  whose member sizes are read from the chunk headers. A paper with no member (validate's
  `missing_source`, `duplicate_version`; a filter drop from a month not in the mirror) has no
  size and counts 0 tokens, named in `unsized`: an estimate from a mean would charge the funnel
  with text no mirror holds.

In every stage in = kept + dropped (+ trimmed at normalize), and each stage's kept is the
next one's in, so the losses per reason add up to tokens in - tokens out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arxiv2lm.io import iter_parquet
from arxiv2lm.reports.tokens import Estimator, TextCount, count_docs, member_sizes
from arxiv2lm.sources.chunks import strip_version
from arxiv2lm.workcache import iter_parts

STAGES = ("filter", "validate", "extract", "normalize", "shard")
COUNTED = "counted"
EST_TEX = "estimate_tex_bytes"
EST_COMPRESSED = "estimate_compressed_bytes"


@dataclass
class StageTokens:
    """One stage's tokens; `method` says how its drops' tokens were found."""

    stage: str
    tokens_in: int
    tokens_kept: int
    dropped: dict[str, int]  # reason -> tokens
    method: str
    unsized: dict[str, int] = field(default_factory=dict)  # reason -> papers of no size

    @property
    def tokens_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def tokens_trimmed(self) -> int:
        return self.tokens_in - self.tokens_kept - self.tokens_dropped


@dataclass
class TokenFunnel:
    stages: dict[str, StageTokens]  # pipeline order
    compressed: Estimator
    tex: Estimator
    sample_fraction: float
    check: dict[str, Any]  # normalize's text counted here against shard's own count

    def describe(self) -> dict[str, Any]:
        """The estimators and how exact the counts are, for `reports/yield.json`."""
        return {
            "count": "exact" if self.sample_fraction >= 1 else "sampled",
            "sample_fraction": self.sample_fraction,
            "methods": {s: t.method for s, t in self.stages.items()},
            "compressed": self.compressed.describe(),
            "tex": self.tex.describe(),
            "papers_unsized": {
                f"{s}:{r}": n for s, t in self.stages.items() for r, n in t.unsized.items() if n
            },
            "check": self.check,
        }


def _rejected(stage_dir: Path) -> list[tuple[str, str, int]]:
    rows = iter_parquet(stage_dir / "rejected.parquet", ["id", "reason", "bytes"])
    return [(r["id"], r["reason"], r["bytes"]) for r in rows]


def token_funnel(
    dirs: dict[str, Path],
    shard_tokens: int,
    ingest_dir: Path,
    model_path: Path,
    sample_fraction: float = 1.0,
    seed: int = 0,
    workers: int = 1,
) -> TokenFunnel:
    """The funnel in tokens from the data folders of `STAGES` (`dirs`), shard's kept tokens,
    ingest's chunks (member sizes) and the tokenizer; a `sample_fraction` below 1 counts a
    seeded sample of papers (`in_sample`) and scales by bytes.

    >>> tf = token_funnel(dirs, 407820, Path("data/ingest"), model)  # doctest: +SKIP
    >>> tf.stages["shard"].tokens_kept                                # doctest: +SKIP
    407820
    """
    missing = [s for s in STAGES if s not in dirs]
    if missing:
        raise ValueError(f"token funnel needs the data folders of {missing}")
    rejected = {s: _rejected(dirs[s]) for s in STAGES}
    kept_validate = {r["id"] for r in iter_parts(dirs["validate"], ["id"])}
    sizes = member_sizes(ingest_dir, {i for i, _, _ in rejected["filter"]} | kept_validate)

    # normalize's input: extract's kept papers, with the text of normalize's drops
    by_id = {i: r for i, r, _ in rejected["normalize"]}
    extract_text, norm_drops = TextCount(), defaultdict(TextCount)
    pairs_compressed, pairs_tex = [], []
    docs = (
        ((r["id"], r["bytes_in"]), r["text"])
        for r in iter_parts(dirs["extract"], ["id", "text", "bytes_in"])
    )
    for (doc_id, tex_bytes), nbytes, tokens in count_docs(
        docs, model_path, sample_fraction, seed, workers
    ):
        extract_text.add(nbytes, tokens)
        if doc_id in by_id:
            norm_drops[by_id[doc_id]].add(nbytes, tokens)
        if tokens is not None:
            pairs_compressed.append((sizes.get(strip_version(doc_id), 0), tokens))
            pairs_tex.append((tex_bytes, tokens))

    # shard's input: normalize's kept papers, with the text of shard's drops
    by_id = {i: r for i, r, _ in rejected["shard"]}
    normalize_text, shard_drops = TextCount(), defaultdict(TextCount)
    docs = (((r["id"],), r["text"]) for r in iter_parts(dirs["normalize"], ["id", "text"]))
    for (doc_id,), nbytes, tokens in count_docs(docs, model_path, sample_fraction, seed, workers):
        normalize_text.add(nbytes, tokens)
        if doc_id in by_id:
            shard_drops[by_id[doc_id]].add(nbytes, tokens)

    compressed = Estimator.fit(pairs_compressed, "compressed source byte")
    tex = Estimator.fit(pairs_tex, "TeX byte")
    rate_norm = normalize_text.per_byte() or 0.0
    rate_extract = extract_text.per_byte() or 0.0

    out: dict[str, StageTokens] = {}
    dropped = {r: shard_drops[r].tokens(rate_norm) for r in _reasons(rejected["shard"])}
    kept = shard_tokens
    out["shard"] = StageTokens("shard", kept + sum(dropped.values()), kept, dropped, COUNTED)
    dropped = {r: norm_drops[r].tokens(rate_extract) for r in _reasons(rejected["normalize"])}
    out["normalize"] = StageTokens(
        "normalize", extract_text.tokens(), out["shard"].tokens_in, dropped, COUNTED
    )
    out["extract"] = _estimated("extract", rejected["extract"], out["normalize"].tokens_in, tex)
    for stage, after in (("validate", "extract"), ("filter", "validate")):
        # validate's bytes are member bytes; filter drops take theirs from the chunk headers
        rows = rejected[stage]
        if stage == "filter":
            rows = [(i, r, sizes.get(strip_version(i), 0)) for i, r, _ in rows]
        out[stage] = _estimated(stage, rows, out[after].tokens_in, compressed, EST_COMPRESSED)

    counted = normalize_text.tokens(rate_norm)
    check = {
        "normalize_text_tokens": counted,
        "shard_tokens_in": out["shard"].tokens_in,
        "error_pct": round((counted - out["shard"].tokens_in) / max(1, counted) * 100, 3),
    }
    if normalize_text.exact and counted != out["shard"].tokens_in:
        raise ValueError(
            f"tokens counted on normalize's text ({counted:,}) differ from shard's input "
            f"({out['shard'].tokens_in:,}): the report counts a paper as shard writes it "
            "(ids + EOS); has shard's convention or the tokenizer changed?"
        )
    return TokenFunnel(
        {s: out[s] for s in STAGES}, compressed, tex, min(1.0, sample_fraction), check
    )


def _reasons(rows: list[tuple[str, str, int]]) -> list[str]:
    return sorted({r for _, r, _ in rows})


def _estimated(
    stage: str,
    rows: list[tuple[str, str, int]],
    kept: int,
    est: Estimator,
    method: str = EST_TEX,
) -> StageTokens:
    """A stage whose drops have no text: each estimated from its size (0 bytes: unsized)."""
    dropped: Counter[str] = Counter()
    unsized: Counter[str] = Counter()
    for _, reason, nbytes in rows:
        dropped[reason] += est.estimate(nbytes) if nbytes > 0 else 0
        unsized[reason] += nbytes <= 0
    return StageTokens(
        stage, kept + sum(dropped.values()), kept, dict(dropped), method, dict(unsized)
    )
