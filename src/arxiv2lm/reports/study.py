"""One row per run for comparing experiments: what changed, what came out, what it cost.

`dvc plots diff` across experiments stacks each revision's row, so `reports/study.csv` draws
yield against validation bits per byte with one labelled point per experiment, and
`reports/study.json` is the short list of metrics `dvc exp show` tracks.

A run cannot know its experiment's name, so its label is the params that differ from a
reference `params.yaml` (the stage entry passes the committed one at HEAD: in `dvc exp run`
that is the experiment's baseline, so the label is exactly its `-S` changes).

>>> changed_params({"pretrain": {"lr": None, "seed": 1}}, {"pretrain": {"lr": 0.002, "seed": 1}})
{'pretrain.lr': 0.002}
>>> params_label({"pretrain.lr": 0.002, "tokenizer.latex_symbols": "none"})
'pretrain.lr=0.002 tokenizer.latex_symbols=none'
"""

from __future__ import annotations

import json
import math
from typing import Any

STUDY_FIELDS = [
    "label",
    "tokens_out",
    "yield",
    "val_bits_per_byte",
    "val_bits_per_byte_prose",
    "val_bits_per_byte_math",
    "tokens_per_char",
    "tokens_per_math_segment",
    "command_single_token_share",
    "pretrain_wall_s",
]
# The metrics `dvc exp show` tracks: outcomes, not timings (a rerun must not dirty git).
METRIC_FIELDS = [f for f in STUDY_FIELDS if f not in ("label", "pretrain_wall_s")]

TOKENIZER_FIELDS = ["order", "measure", "tokenizer", "value"]
# tokenizer.json key -> the measure's name on the page, with its unit; the page's panels
# follow this order (the `order` column).
TOKENIZER_MEASURES = {
    "tokens_per_char": "tokens per character",
    "tokens_per_math_segment": "tokens per math segment ($...$)",
    "command_single_token_share": "share of common LaTeX commands that are one token",
}
LABEL_VALUE_CHARS = 24  # a value longer than this (a curriculum, a list) is cut with "…"
NO_CHANGE = "defaults"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay whole values.

    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}})
    {'a.b': 1, 'a.c': [1, 2]}
    """
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def changed_params(reference: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The dotted params whose value in `current` differs from `reference` (None when removed)."""
    ref, cur = flatten(reference), flatten(current)
    keys = sorted(set(ref) | set(cur))
    return {k: cur.get(k) for k in keys if ref.get(k) != cur.get(k)}


def params_label(changed: dict[str, Any]) -> str:
    """A compact `key=value` list, or 'defaults' when nothing changed.

    >>> params_label({})
    'defaults'
    >>> params_label({"pretrain.phases": [{"name": "warm", "fraction": 0.2}] * 3})
    'pretrain.phases=[{"name":"warm","fracti…'
    """
    if not changed:
        return NO_CHANGE
    parts = []
    for key, value in changed.items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        if len(text) > LABEL_VALUE_CHARS:
            text = text[: LABEL_VALUE_CHARS - 1] + "…"
        parts.append(f"{key}={text}")
    return " ".join(parts)


def _number(tree: dict[str, Any], *path: str) -> float | None:
    node: Any = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float) or not math.isfinite(node):
        return None
    return round(node, 6) if isinstance(node, float) else node


def study_row(
    label: str,
    yield_metrics: dict[str, Any],
    evaluation: dict[str, Any],
    tokenizer: dict[str, Any],
    wall_s: float | None,
) -> dict[str, Any]:
    """The run's row from the report, evaluate and tokenizer outputs; a missing figure is empty.

    >>> row = study_row("defaults", {"tokens_out": 9, "overall_yield": 0.8},
    ...                 {"bits_per_byte": 0.5, "math": {"bits_per_byte": 1.0}}, {}, None)
    >>> row["yield"], row["val_bits_per_byte_math"], row["val_bits_per_byte_prose"]
    (0.8, 1.0, None)
    """
    return {
        "label": label,
        "tokens_out": _number(yield_metrics, "tokens_out"),
        "yield": _number(yield_metrics, "overall_yield"),
        "val_bits_per_byte": _number(evaluation, "bits_per_byte"),
        "val_bits_per_byte_prose": _number(evaluation, "prose", "bits_per_byte"),
        "val_bits_per_byte_math": _number(evaluation, "math", "bits_per_byte"),
        "tokens_per_char": _number(tokenizer, "tokens_per_char"),
        "tokens_per_math_segment": _number(tokenizer, "tokens_per_math_segment"),
        "command_single_token_share": _number(tokenizer, "command_single_token_share"),
        "pretrain_wall_s": None if wall_s is None else round(wall_s, 1),
    }


def study_metrics(row: dict[str, Any]) -> dict[str, Any]:
    """The tracked metrics of a row (`reports/study.json`): no label, no timing, no gaps."""
    return {k: row[k] for k in METRIC_FIELDS if row[k] is not None}


def tokenizer_rows(tokenizer: dict[str, Any]) -> list[dict[str, Any]]:
    """Long-form rows (order, measure, tokenizer, value) of the project tokenizer and the
    baseline.

    >>> tokenizer_rows({"tokens_per_char": 0.25, "baseline_tokens_per_char": 0.34})
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'order': 1, 'measure': 'tokens per character', 'tokenizer': 'project', 'value': 0.25},
     {'order': 1, 'measure': 'tokens per character', 'tokenizer': 'baseline', 'value': 0.34}]
    """
    rows = []
    for order, (key, measure) in enumerate(TOKENIZER_MEASURES.items(), start=1):
        for name, prefix in (("project", ""), ("baseline", "baseline_")):
            value = _number(tokenizer, prefix + key)
            if value is not None:
                rows.append({"order": order, "measure": measure, "tokenizer": name, "value": value})
    return rows


def pretrain_wall_s(timing_rows: list[dict[str, str]]) -> float | None:
    """The training loop's wall time: `wall_s` of the last row of the timing log, if any.

    >>> pretrain_wall_s([{"step": "10", "wall_s": "3.5"}, {"step": "20", "wall_s": "7.25"}])
    7.25
    >>> pretrain_wall_s([]) is None
    True
    """
    if not timing_rows:
        return None
    try:
        value = float(timing_rows[-1]["wall_s"])
    except (KeyError, ValueError):
        return None
    return value if math.isfinite(value) else None
