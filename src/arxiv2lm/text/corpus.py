"""Normalize a whole corpus: per-chunk units computed or reused, then one global pass.

A unit is, for one extract part, every paper's normalized text, quality signals, exact
digest and MinHash signature, or the reason it was dropped on the way: `not_text` (binary
junk, see `nontext`) or `timeout` (over `timeout_s`, the same per-paper limit as extract's).
Its key is the part's sha256, the params that change it (`minhash_perm`, `shingle_words`,
`timeout_s`) and the code this module imports (`units.code_digest`); a new month computes
one unit, and changing a threshold recomputes none. Papers of all units to compute go
through the unit runner's one supervised pool, and each unit is committed as it finishes.
The global pass reads the units in chunk order and applies the
thresholds, exact de-dup and near-dup (a paper is dropped when it matches an earlier kept
one), writing one `docs.parquet`.

>>> ledger, extra, run = normalize_corpus(extract_dir, params, 2, out, cache)  # doctest: +SKIP
>>> run["units_computed"], run["units_reused"]                              # doctest: +SKIP
(1, 5)
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter, file_sha256, iter_parquet
from arxiv2lm.ledger import Drop, Ledger
from arxiv2lm.params import NormalizeParams
from arxiv2lm.text import nontext
from arxiv2lm.text.minhash import NearDupIndex, signature
from arxiv2lm.text.quality import Signals, check, normalize_doc
from arxiv2lm.units import Unit, code_digest, run_units, unit_key
from arxiv2lm.workcache import WorkCache, part_files

DOCS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("text", pa.string()),
        ("chars", pa.int64()),
        ("words", pa.int64()),
        ("math_fraction", pa.float64()),
        ("command_density", pa.float64()),
        ("alpha_ratio", pa.float64()),
        ("dup_line_fraction", pa.float64()),
        ("bytes", pa.int64()),
    ]
)
UNIT_SCHEMA = pa.schema(
    [
        *DOCS_SCHEMA,
        ("digest", pa.string()),
        ("minhash", pa.binary()),  # (perm,) little-endian uint32
        ("drop", pa.string()),  # "" or the reason the paper was dropped in the unit
        ("drop_detail", pa.string()),
    ]
)
UNIT_FILE = "unit.parquet"
_SIGNAL_FIELDS = [f.name for f in DOCS_SCHEMA][3:9]


def _measure(item: tuple[str, str, str], perm: int, shingle_words: int) -> dict[str, Any]:
    """The unit row of a paper: a `not_text` drop, or its text, signals, digest, MinHash."""
    doc_id, domain, text = item
    drop = nontext.not_text(text)
    if drop is not None:
        return _dropped(item, drop)
    doc = normalize_doc((doc_id, text))
    sig = signature(doc.text, perm, shingle_words).astype("<u4")
    return (
        {"id": doc_id, "domain": domain, "text": doc.text}
        | doc.signals.as_dict()
        | {"bytes": len(doc.text.encode("utf-8")), "digest": doc.digest, "minhash": sig.tobytes()}
        | {"drop": "", "drop_detail": ""}
    )


def _dropped(item: tuple[str, str, str], drop: Drop) -> dict[str, Any]:
    """The unit row of a paper dropped before normalization; bytes are its input's."""
    doc_id, domain, text = item
    return (
        {"id": doc_id, "domain": domain, "text": ""}
        | dict.fromkeys(_SIGNAL_FIELDS, 0)
        | {"bytes": len(text.encode("utf-8")), "digest": "", "minhash": b""}
        | {"drop": drop.reason, "drop_detail": drop.detail}
    )


def measure(
    item: tuple[str, str, str], perm: int, shingle_words: int, timeout_s: float = 0.0
) -> dict[str, Any]:
    """One unit row for an (id, domain, text) triple within the paper's time limit
    (`timeout_s`, 0 = none); picklable for a process pool.

    >>> measure(("p1", "math", "A  b"), 4, 2)["text"]
    'A b'
    >>> measure(("p2", "math", "\\x00" * 9), 4, 2)["drop"]
    'not_text'
    """
    try:
        return pool.call_with_timeout(lambda it: _measure(it, perm, shingle_words), item, timeout_s)
    except pool.ItemTimeout:
        return _dropped(item, Drop("timeout", f"over {timeout_s}s"))


class _UnitSink:
    """The unit file of one extract part, written as its papers come back."""

    def __init__(self, dst: Path) -> None:
        self.writer = ParquetBatchWriter(dst, UNIT_SCHEMA, batch_rows=64)

    def add(self, note: None, row: dict[str, Any]) -> None:
        if row["drop"] == "timeout":
            print(f"normalize: {row['id']} dropped: {row['drop_detail']}", file=sys.stderr)
        self.writer.write(row)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.abort()


def _papers(unit: Unit) -> Iterator[tuple[tuple[str, str, str], None]]:
    for r in iter_parquet(unit.source, ["id", "domain", "text"]):
        yield (r["id"], r["domain"], r["text"]), None


def _units(
    extract_dir: Path, params: NormalizeParams, workers: int, scratch: Path, cache: WorkCache
) -> tuple[list[Path], int]:
    """The unit file of every part in chunk order, and how many were computed now."""
    code = code_digest(__name__)
    unit_params = {
        "minhash_perm": params.minhash_perm,
        "shingle_words": params.shingle_words,
        "timeout_s": params.timeout_s,
    }
    units = [
        Unit(
            part.stem,
            unit_key("normalize", file_sha256(part), unit_params, code),
            {UNIT_FILE: scratch / f"{part.stem}.parquet"},
            part,
        )
        for part in part_files(extract_dir)
    ]
    fn = functools.partial(
        measure,
        perm=params.minhash_perm,
        shingle_words=params.shingle_words,
        timeout_s=params.timeout_s,
    )
    done = run_units(units, fn, _papers, lambda u: _UnitSink(u.outputs[UNIT_FILE]), cache, workers)
    return [d.unit.outputs[UNIT_FILE] for d in done], sum(d.computed for d in done)


def normalize_corpus(
    extract_dir: Path, params: NormalizeParams, workers: int, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Write `<out>/docs.parquet`; return the ledger, corpus facts for stats.json and what
    this run did (units computed/reused), which depends on the cache and stays out of it."""
    parts = part_files(extract_dir)
    if not parts:
        raise FileNotFoundError(f"{extract_dir}/parts has no *.parquet (run extract first)")
    near = NearDupIndex(params.minhash_perm, params.near_dup_threshold)
    enabled = params.near_dup_threshold < 1.0
    ledger = Ledger("normalize")
    first_of: dict[str, str] = {}  # exact digest -> id of the kept paper that has it
    with tempfile.TemporaryDirectory(dir=out) as scratch:
        units, computed = _units(extract_dir, params, workers, Path(scratch), cache)
        with ParquetBatchWriter(out / "docs.parquet", DOCS_SCHEMA) as writer:
            for unit in units:
                for row in iter_parquet(unit, batch_rows=64):
                    doc_id, nbytes = row["id"], row["bytes"]
                    if row["drop"]:
                        ledger.drop(doc_id, row["drop"], nbytes, row["drop_detail"])
                        continue
                    drop = check(Signals(**{k: row[k] for k in _SIGNAL_FIELDS}), params)
                    if drop is not None:
                        ledger.drop(doc_id, drop.reason, nbytes, drop.detail)
                        continue
                    if row["digest"] in first_of:
                        ledger.drop(doc_id, "exact_duplicate", nbytes, first_of[row["digest"]])
                        continue
                    sig = np.frombuffer(row["minhash"], dtype="<u4")
                    match = near.find(sig) if enabled else None
                    if match is not None:
                        ledger.drop(
                            doc_id, "near_duplicate", nbytes, f"{match[0]} (jaccard {match[1]:.3f})"
                        )
                        continue
                    first_of[row["digest"]] = doc_id
                    if enabled:
                        near.add(doc_id, sig)
                    ledger.keep(doc_id, nbytes)
                    writer.write({k: row[k] for k in DOCS_SCHEMA.names})
    extra = {
        "parts": len(parts),
        "near_dup": {"threshold": params.near_dup_threshold, "enabled": enabled}
        | ({"bands": near.bands, "rows": near.rows} if enabled else {}),
    }
    return ledger, extra, {"units_computed": computed, "units_reused": len(parts) - computed}
