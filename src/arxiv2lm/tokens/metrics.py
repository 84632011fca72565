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
from arxiv2lm.tokens.symbols import count_latex_symbols, top_symbols

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


def evaluate_real(
    ours: spm.SentencePieceProcessor,
    baseline: spm.SentencePieceProcessor | None,
    papers: list[tuple[str, str, str]],
    drops: list[tuple[str, str, str]],
    n_commands: int,
) -> dict[str, Any]:
    """`evaluate` of both tokenizers on real papers, (folder, domain, text) triples, whose
    own `n_commands` most frequent commands are checked; `drops` are (folder, reason,
    detail) of the papers not scored. `ours` is None when no paper is left."""
    docs = [(domain, text) for _, domain, text in papers]
    commands = top_symbols(count_latex_symbols(t for _, t in docs), n_commands)
    scored = {"ours": None, "baseline": None}
    if docs:
        scored["ours"] = evaluate(ours, docs, commands)
        if baseline is not None:
            scored["baseline"] = evaluate(baseline, docs, commands)
    domains: dict[str, int] = defaultdict(int)
    for _, domain, _ in papers:
        domains[domain] += 1
    return {
        **scored,
        "docs": [folder for folder, _, _ in papers],
        "domains": dict(sorted(domains.items())),
        "drops": [{"folder": f, "reason": r, "detail": d} for f, r, d in drops],
    }


def report_metrics(
    ours: dict[str, Any], baseline: dict[str, Any] | None, real: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Flat `{key: value, "baseline_<key>": value}` for reports/tokenizer.json, and the
    same with a `real_` prefix for the real papers (`evaluate_real`) when any was scored.

    >>> a = dict.fromkeys(REPORT_KEYS, 0.5) | {"docs": 3}
    >>> r = report_metrics(a, None, {"ours": a, "baseline": a})
    >>> r["real_docs"], r["real_tokens_per_char"], r["real_baseline_tokens_per_char"]
    (3, 0.5, 0.5)
    """
    out: dict[str, Any] = {"heldout_docs": ours["docs"]}
    out.update(_flat(ours, baseline, ""))
    if real is not None and real["ours"] is not None:
        out["real_docs"] = real["ours"]["docs"]
        out.update(_flat(real["ours"], real["baseline"], "real_"))
    return out


def _flat(ours: dict[str, Any], baseline: dict[str, Any] | None, prefix: str) -> dict[str, Any]:
    out = {f"{prefix}{k}": ours[k] for k in REPORT_KEYS}
    if baseline is not None:
        out.update({f"{prefix}baseline_{k}": baseline[k] for k in REPORT_KEYS})
    return out


# `set`: "sample" (the held-out papers of the corpus) or "real" (the real papers folder).
COMPARE_FIELDS = ["set", "series", "tokens_per_char", "tokens_per_word"]


def comparison_rows(
    ours: dict[str, Any], baseline: dict[str, Any] | None, real: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Plot rows, overall and per domain, ours beside the baseline ("math · baseline"),
    or ours alone when there is no baseline (a pinned tokenizer); then the same for the
    real papers (`evaluate_real`), their series prefixed "real · ".

    >>> a = {"tokens_per_char": 0.25, "tokens_per_word": 1.7, "domains": {}}
    >>> [r["series"] for r in comparison_rows(a, a, {"ours": a, "baseline": None})]
    ['all · project', 'all · baseline', 'real · all · project']
    """
    rows = _rows("sample", "", ours, baseline)
    if real is not None and real["ours"] is not None:
        rows += _rows("real", "real · ", real["ours"], real["baseline"])
    return rows


def _rows(
    name: str, prefix: str, ours: dict[str, Any], baseline: dict[str, Any] | None
) -> list[dict[str, Any]]:
    rows = []
    for domain in ["all", *sorted(ours["domains"])]:
        for tokenizer, res in (("project", ours), ("baseline", baseline)):
            if res is None:
                continue
            src = res if domain == "all" else res["domains"].get(domain)
            if src is None:
                continue
            rows.append(
                {
                    "set": name,
                    "series": f"{prefix}{domain} · {tokenizer}",
                    "tokens_per_char": src["tokens_per_char"],
                    "tokens_per_word": src["tokens_per_word"],
                }
            )
    return rows
