"""Encode normalized papers into token shard units, one per chunk, computed or reused.

A unit is one normalize part (a chunk's kept papers) encoded into its train and val files
(`shards.ShardWriter`). Its key is the part's sha256, the split params, the tokenizer's
sha256 and the code this module imports, so with the tokenizer kept (`tokenizer.reuse`) a
new month encodes only its own papers and every other unit is linked from the work cache.
Papers of all units to encode go through the unit runner's one supervised pool
(`arxiv2lm.units`): an OOM-killed worker is a named error, not a hang, and every unit
finished before it is kept for the rerun. `compute_units` puts only named units into the
cache (no meta), `list_units` says which the cache has; both build the units as
`build_shards` does.

>>> model = Path("tokenizer.model")
>>> meta, run = build_shards(parts, model, out, 0.08, "arxiv2lm", 2, cache)  # doctest: +SKIP
>>> run["units_computed"], [u["name"] for u in meta["units"]][:1]          # doctest: +SKIP
(1, ['arXiv_src_9901_001'])
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm

from arxiv2lm.io import file_sha256, iter_parquet
from arxiv2lm.ledger import Ledger
from arxiv2lm.tokens.shards import (
    SPLITS,
    UNITS_DIR,
    ShardWriter,
    dtype_for,
    make_meta,
    math_bucket,
    split_of,
    write_meta,
)
from arxiv2lm.units import Done, Unit, code_digest, only_named, run_units, scratch, unit_key
from arxiv2lm.workcache import WorkCache

COLUMNS = ["id", "domain", "text", "math_fraction", "bytes"]
_SP: dict[str, spm.SentencePieceProcessor] = {}  # per worker process: model path -> model


def encode_text(text: str, model_path: str) -> np.ndarray:
    """Token ids of `text` in the shard dtype (half the bytes of int32 to send back)."""
    sp = _SP.get(model_path)
    if sp is None:
        sp = _SP[model_path] = spm.SentencePieceProcessor(model_file=model_path)
    return np.asarray(sp.encode(text), dtype=dtype_for(sp.get_piece_size()))


class _UnitSink:
    """A unit's train and val files, written as its papers come back in order."""

    def __init__(self, unit: Unit, vocab: int, eos: int, val_fraction: float, salt: str) -> None:
        out = unit.outputs["train.bin"].parent
        self.writers = {s: ShardWriter(out, s, vocab, eos, unit=unit.name) for s in SPLITS}
        self.val_fraction, self.salt = val_fraction, salt
        self.dropped: list[tuple[str, int]] = []

    def add(self, row: dict[str, Any], ids: np.ndarray) -> None:
        if not len(ids):
            self.dropped.append((row["id"], row["bytes"]))
            return
        split = split_of(row["id"], self.val_fraction, self.salt)
        bucket = math_bucket(row["math_fraction"])
        self.writers[split].add(row["id"], row["domain"], bucket, ids, row["bytes"])

    def close(self) -> dict[str, Any]:
        splits = {s: w.close() for s, w in self.writers.items()}
        return {"splits": splits, "dropped": self.dropped}

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def _papers(unit: Unit) -> Iterator[tuple[str, dict[str, Any]]]:
    for row in iter_parquet(unit.source, COLUMNS, batch_rows=64):
        text = row.pop("text")
        yield text, row


@dataclass(frozen=True)
class _Model:
    """What the units need of the tokenizer: its path, vocabulary, EOS and BOS ids, sha256."""

    path: Path
    vocab: int
    eos: int
    bos: int
    sha: str


def _model(model_path: Path) -> _Model:
    """Load the tokenizer and refuse one the shards cannot hold, before any work."""
    model_path = Path(model_path)
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    vocab, eos, bos = sp.get_piece_size(), sp.eos_id(), sp.bos_id()
    if eos < 0:
        raise ValueError(f"{model_path} has no EOS id; documents could not be separated")
    dtype_for(vocab)  # refuses a vocabulary too large before any work
    return _Model(model_path, vocab, eos, bos, file_sha256(model_path))


def _units(
    parts: Sequence[Path],
    model: _Model,
    units_dir: Path,
    val_fraction: float,
    salt: str,
    cache: WorkCache,
    only: Collection[str] | None = None,
) -> list[Unit]:
    """One unit per normalize part (named by its chunk, the part's stem), writing its four
    files under `units_dir`; only the parts named in `only` when given."""
    names = [Path(p).stem for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"two parts share a chunk name: {sorted(names)[:5]}")
    key_params = {"val_fraction": val_fraction, "split_salt": salt, "tokenizer": model.sha}
    code = code_digest(__name__)
    return [
        Unit(
            name,
            unit_key("shard", cache.digest(Path(part)), key_params, code),
            {
                f"{s}.{kind}": units_dir / f"{name}.{s}.{kind}"
                for s in SPLITS
                for kind in ("bin", "index.parquet")
            },
            Path(part),
        )
        for name, part in only_named(list(zip(names, parts, strict=True)), names, only)
    ]


def _run(
    units: list[Unit],
    model: _Model,
    val_fraction: float,
    salt: str,
    workers: int,
    cache: WorkCache,
) -> list[Done]:
    return run_units(
        units,
        functools.partial(encode_text, model_path=str(model.path.resolve())),
        _papers,
        lambda u: _UnitSink(u, model.vocab, model.eos, val_fraction, salt),
        cache,
        workers,
        "shard",
        "papers",
    )


def list_units(
    parts: Sequence[Path], model_path: Path, val_fraction: float, salt: str, cache: WorkCache
) -> list[tuple[str, bool]]:
    """Each unit's name and whether the work cache has it, in the given (chunk) order."""
    units = _units(parts, _model(model_path), Path(), val_fraction, salt, cache)
    return [(u.name, cache.has(u.key)) for u in units]


def compute_units(
    parts: Sequence[Path],
    model_path: Path,
    val_fraction: float,
    salt: str,
    workers: int,
    cache: WorkCache,
    only: Collection[str],
) -> dict[str, int]:
    """Put the units named in `only` into the work cache (those it has are skipped); no
    meta, no ledger. Returns units computed/reused."""
    model = _model(model_path)
    with scratch(cache) as tmp:
        units = _units(parts, model, tmp, val_fraction, salt, cache, only)
        todo = [u for u in units if not cache.has(u.key)]
        _run(todo, model, val_fraction, salt, workers, cache)
    return {"units_computed": len(todo), "units_reused": len(units) - len(todo)}


def build_shards(
    parts: Sequence[Path],
    model_path: Path,
    out_dir: Path,
    val_fraction: float,
    salt: str,
    workers: int,
    cache: WorkCache,
    ledger: Ledger | None = None,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Encode each normalize part (in the given, chunk order) into a unit under
    `out_dir/units`; write `meta.json`; return the meta and what this run did (units
    computed/reused, which depends on the cache and so stays out of the output).

    Each document is followed by the model's EOS id; a document that encodes to no token
    is dropped as `empty_after_tokenize`.
    """
    model = _model(model_path)
    units_dir = Path(out_dir) / UNITS_DIR
    units = _units(parts, model, units_dir, val_fraction, salt, cache)
    units_dir.mkdir(parents=True, exist_ok=True)
    done = _run(units, model, val_fraction, salt, workers, cache)
    for d in done:
        if ledger is not None:
            _account(d.unit, d.result, ledger)
    meta = make_meta(
        model.vocab,
        model.eos,
        model.bos,
        model.sha,
        [{"name": d.unit.name, "splits": d.result["splits"]} for d in done],
    )
    write_meta(out_dir, meta)
    computed = sum(d.computed for d in done)
    return meta, {"units_computed": computed, "units_reused": len(done) - computed}


def _account(unit: Unit, result: dict[str, Any], ledger: Ledger) -> None:
    """Kept documents (from the unit's index files) and drops (from its result)."""
    for s in SPLITS:
        for row in iter_parquet(unit.outputs[f"{s}.index.parquet"], ["id", "bytes", "length"]):
            ledger.keep(row["id"], row["bytes"], row["length"])
    for doc_id, nbytes in result["dropped"]:
        ledger.drop(doc_id, "empty_after_tokenize", nbytes)
