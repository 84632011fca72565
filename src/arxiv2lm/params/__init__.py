"""One frozen dataclass per `params.yaml` section, and one strict loader.

>>> p = load_params("tokenizer", "params.yaml")   # doctest: +SKIP
>>> p.vocab_size                                  # doctest: +SKIP
4096

The loader rejects unknown keys, missing keys and wrong types with a message that names
the section, the key and the value, before any stage does work. The sections live in
`params/data.py` (ingest to shard, report) and `params/training.py` (pretrain, evaluate).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from arxiv2lm.params.data import (
    ExtractParams,
    FilterParams,
    IngestParams,
    NormalizeParams,
    ReportParams,
    S3Params,
    ShardParams,
    TokenizerParams,
    ValidateParams,
)
from arxiv2lm.params.errors import ParamsError
from arxiv2lm.params.training import EvaluateParams, ModelOverrides, Phase, PretrainParams

__all__ = [
    "SECTIONS",
    "EvaluateParams",
    "ExtractParams",
    "FilterParams",
    "IngestParams",
    "ModelOverrides",
    "NormalizeParams",
    "ParamsError",
    "Phase",
    "PretrainParams",
    "ReportParams",
    "S3Params",
    "ShardParams",
    "TokenizerParams",
    "ValidateParams",
    "load_params",
    "parse_section",
    "resolve_workers",
]

SECTIONS: dict[str, type] = {
    "ingest": IngestParams,
    "filter": FilterParams,
    "validate": ValidateParams,
    "extract": ExtractParams,
    "normalize": NormalizeParams,
    "tokenizer": TokenizerParams,
    "shard": ShardParams,
    "pretrain": PretrainParams,
    "evaluate": EvaluateParams,
    "report": ReportParams,
}


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the type hint `tp`, returning it converted (lists, dataclasses)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ParamsError as err:
                errors.append(str(err))
        raise ParamsError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is Literal:
        if value not in args:
            raise ParamsError(f"{where}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ParamsError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{where}: expected a mapping, got {value!r}")
        return {
            _convert(k, args[0], f"{where} key"): _convert(v, args[1], f"{where}.{k}")
            for k, v in value.items()
        }
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamsError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamsError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamsError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamsError(f"{where}: expected a string, got {value!r}")
        return value
    raise ParamsError(f"{where}: unsupported type {tp!r}")  # pragma: no cover - schema bug


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(
            f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(sorted(fields))})"
        )
    values = {}
    for name, field in fields.items():
        if name not in raw:
            if field.default is not dataclasses.MISSING:
                continue
            raise ParamsError(f"{where}: missing key {name!r}")
        values[name] = _convert(raw[name], hints[name], f"{where}.{name}")
    return cls(**values)


def parse_section(section: str, raw: Any) -> Any:
    """Build the dataclass of `section` from an already-parsed mapping."""
    if section not in SECTIONS:
        raise ParamsError(f"no params section {section!r} (known: {', '.join(SECTIONS)})")
    if not isinstance(raw, dict):
        raise ParamsError(f"params section {section!r} must be a mapping, got {raw!r}")
    return _build(SECTIONS[section], raw, section)


def load_params(section: str, path: str | os.PathLike[str] = "params.yaml") -> Any:
    """Load and check one section of `params.yaml`."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"params file {path} does not exist")
    with path.open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    if section not in doc:
        raise ParamsError(f"{path}: no section {section!r}")
    return parse_section(section, doc[section])


def resolve_workers(workers: int) -> int:
    """`workers: 0` means every core this process may use."""
    if workers < 0:
        raise ParamsError(f"workers {workers} must be >= 0")
    if workers:
        return workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)
