r"""Held-out figures of a tokenizer: compression, math, LaTeX commands, fallbacks, exactness.

>>> docs = [("math", r"Let $x^2$ be \emph{even}.")]
>>> evaluate(sp, docs, [r"\emph"])["roundtrip_rate"]  # doctest: +SKIP
1.0

Every figure is a ratio, so the project tokenizer and a plain SentencePiece baseline
evaluated on the same papers sit side by side in `stats.json`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import sentencepiece as spm

from arxiv2lm.text.mathspan import math_segments


def _ratio(num: float, den: float) -> float:
    return round(num / den, 6) if den else 0.0


def evaluate(
    sp: spm.SentencePieceProcessor, docs: Iterable[tuple[str, str]], commands: list[str]
) -> dict[str, Any]:
    """Figures of `sp` on (domain, text) pairs; `commands` are the LaTeX commands to check."""
    totals: dict[str, int] = defaultdict(int)
    per_domain: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    byte_ids = {i for i in range(sp.get_piece_size()) if sp.is_byte(i)}
    unk = sp.unk_id()
    for domain, text in docs:
        ids = sp.encode(text)
        words = len(text.split())
        for acc in (totals, per_domain[domain]):
            acc["docs"] += 1
            acc["chars"] += len(text)
            acc["words"] += words
            acc["tokens"] += len(ids)
        totals["byte_tokens"] += sum(1 for i in ids if i in byte_ids)
        totals["unk_tokens"] += sum(1 for i in ids if i == unk)
        totals["exact"] += sp.decode(ids) == text
        segs = math_segments(text)
        totals["math_segments"] += len(segs)
        totals["math_tokens"] += sum(map(len, sp.encode(segs))) if segs else 0
    single = [c for c in commands if len(sp.encode(c)) == 1]
    return {
        "vocab_size": sp.get_piece_size(),
        "docs": totals["docs"],
        "chars": totals["chars"],
        "tokens": totals["tokens"],
        "tokens_per_char": _ratio(totals["tokens"], totals["chars"]),
        "tokens_per_word": _ratio(totals["tokens"], totals["words"]),
        "domains": {
            d: {
                "docs": acc["docs"],
                "tokens_per_char": _ratio(acc["tokens"], acc["chars"]),
                "tokens_per_word": _ratio(acc["tokens"], acc["words"]),
            }
            for d, acc in sorted(per_domain.items())
        },
        "math_segments": totals["math_segments"],
        "tokens_per_math_segment": _ratio(totals["math_tokens"], totals["math_segments"]),
        "commands_checked": len(commands),
        "command_single_token_share": _ratio(len(single), len(commands)),
        "byte_fallback_rate": _ratio(totals["byte_tokens"], totals["tokens"]),
        "unk_rate": _ratio(totals["unk_tokens"], totals["tokens"]),
        "roundtrip_rate": _ratio(totals["exact"], totals["docs"]),
    }


# The figures worth a `dvc metrics diff`: small, flat, comparable across runs.
REPORT_KEYS = (
    "tokens_per_char",
    "tokens_per_word",
    "tokens_per_math_segment",
    "command_single_token_share",
    "byte_fallback_rate",
    "unk_rate",
    "roundtrip_rate",
)


def report_metrics(ours: dict[str, Any], baseline: dict[str, Any] | None) -> dict[str, Any]:
    """Flat `{key: value, "baseline_<key>": value}` for reports/tokenizer.json."""
    out: dict[str, Any] = {"heldout_docs": ours["docs"]}
    out.update({k: ours[k] for k in REPORT_KEYS})
    if baseline is not None:
        out.update({f"baseline_{k}": baseline[k] for k in REPORT_KEYS})
    return out


COMPARE_FIELDS = ["series", "tokens_per_char", "tokens_per_word"]


def comparison_rows(ours: dict[str, Any], baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Plot rows, overall and per domain, ours beside the baseline ("math · baseline"),
    or ours alone when there is no baseline (a pinned tokenizer).

    >>> a = {"tokens_per_char": 0.25, "tokens_per_word": 1.7, "domains": {}}
    >>> [r["series"] for r in comparison_rows(a, a)]
    ['all · project', 'all · baseline']
    """
    rows = []
    for domain in ["all", *sorted(ours["domains"])]:
        for name, res in (("project", ours), ("baseline", baseline)):
            if res is None:
                continue
            src = res if domain == "all" else res["domains"].get(domain)
            if src is None:
                continue
            rows.append(
                {
                    "series": f"{domain} · {name}",
                    "tokens_per_char": src["tokens_per_char"],
                    "tokens_per_word": src["tokens_per_word"],
                }
            )
    return rows
