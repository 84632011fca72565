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

from arxiv2lm.text.mathspan import math_spans

# The per-domain figures (and those of "all"): every one a ratio of two counts.
FIGURES = {
    "tokens_per_char": ("tokens", "chars"),
    "tokens_per_word": ("tokens", "words"),
    "tokens_per_math_segment": ("math_tokens", "math_segments"),
    "math_tokens_per_char": ("math_tokens", "math_chars"),
    "prose_tokens_per_char": ("prose_tokens", "prose_chars"),
    "byte_fallback_rate": ("byte_tokens", "tokens"),
    "unk_rate": ("unk_tokens", "tokens"),
    "roundtrip_rate": ("exact", "docs"),
}


def _ratio(num: float, den: float) -> float:
    return round(num / den, 6) if den else 0.0


def figures(acc: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"docs": acc["docs"], "chars": acc["chars"], "tokens": acc["tokens"]}
    out.update({k: _ratio(acc[num], acc[den]) for k, (num, den) in FIGURES.items()})
    return out


def count_doc(sp: spm.SentencePieceProcessor, text: str, byte_ids: set[int]) -> dict[str, int]:
    """The counts behind `FIGURES` for one text. Math is each span `math_spans` finds,
    encoded on its own; prose is the text between spans, each piece encoded on its own."""
    ids = sp.encode(text)
    spans = math_spans(text)
    edges = [0, *(i for span in spans for i in span), len(text)]
    prose = [text[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
    math = [text[a:b] for a, b in spans]
    return {
        "docs": 1,
        "chars": len(text),
        "words": len(text.split()),
        "tokens": len(ids),
        "byte_tokens": sum(1 for i in ids if i in byte_ids),
        "unk_tokens": sum(1 for i in ids if i == sp.unk_id()),
        "exact": int(sp.decode(ids) == text),
        "math_segments": len(math),
        "math_chars": sum(map(len, math)),
        "math_tokens": sum(map(len, sp.encode(math))) if math else 0,
        "prose_chars": sum(map(len, prose)),
        "prose_tokens": sum(map(len, sp.encode(prose))) if prose else 0,
    }


def is_one_token(sp: spm.SentencePieceProcessor, command: str) -> bool:
    """`command` encodes to one piece, not counting a dummy-prefix "▁" (the plain baseline
    adds one before every text, so `\\frac` alone is "▁" + "\\frac" or "▁\\frac")."""
    pieces = sp.encode(command, out_type=str)
    if pieces and pieces[0] == "\u2581" and not command.startswith(" "):
        pieces = pieces[1:]
    return len(pieces) == 1


def evaluate(
    sp: spm.SentencePieceProcessor, docs: Iterable[tuple[str, str]], commands: list[str]
) -> dict[str, Any]:
    """Figures of `sp` on (domain, text) pairs, overall and per domain, math beside prose;
    `commands` are the LaTeX commands whose single-token share is checked."""
    totals: dict[str, int] = defaultdict(int)
    per_domain: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    byte_ids = {i for i in range(sp.get_piece_size()) if sp.is_byte(i)}
    for domain, text in docs:
        for key, n in count_doc(sp, text, byte_ids).items():
            totals[key] += n
            per_domain[domain][key] += n
    single = [c for c in commands if is_one_token(sp, c)]
    return {
        "vocab_size": sp.get_piece_size(),
        **figures(totals),
        "math_segments": totals["math_segments"],
        "commands_checked": len(commands),
        "command_single_token_share": _ratio(len(single), len(commands)),
        "domains": {d: figures(acc) for d, acc in sorted(per_domain.items())},
    }


# The figures worth a `dvc metrics diff`: small, flat, comparable across runs.
REPORT_KEYS = (
    "tokens_per_char",
    "tokens_per_word",
    "tokens_per_math_segment",
    "math_tokens_per_char",
    "prose_tokens_per_char",
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
