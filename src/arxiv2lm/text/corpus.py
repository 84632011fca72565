"""Normalize a whole corpus: per-chunk units computed or reused, then one global pass.

A unit is, for one extract part, every paper's normalized text, quality signals, exact
digest and MinHash signature, or the reason it was dropped on the way: `not_text` (binary
junk, see `nontext`) or `timeout` (over `timeout_s`, the same per-paper limit as extract's).
Its key is the extract part's sha256 (`WorkCache.digest`), the params that change it
(`minhash_perm`, `shingle_words`, `timeout_s`) and the code this module imports
(`units.code_digest`); a new month computes one unit, and changing a threshold recomputes
none. Papers of all units to compute go through the unit runner's one supervised pool, and
each unit is committed as it finishes.
The global pass reads the units in chunk order, without their text, and applies the
thresholds, exact de-dup and near-dup (a paper is dropped when it matches an earlier kept
one). It then writes one docs part per chunk, `<out>/parts/<chunk>.parquet`, which is a
unit too (keyed by the chunk's unit and the rows kept): a new month writes its own part and
links the others unchanged, so the shard stage re-encodes only the new month.
`compute_units` puts only named per-chunk units into the cache (no global pass, no part),
`list_units` says which the cache has; both build the units as `normalize_corpus` does.

>>> ledger, extra, run = normalize_corpus(extract_dir, params, 2, out, cache)  # doctest: +SKIP
>>> run["units_computed"], run["units_reused"]                              # doctest: +SKIP
(1, 5)
"""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from arxiv2lm import pool
from arxiv2lm.io import ParquetBatchWriter, iter_parquet
from arxiv2lm.ledger import Drop, Ledger
from arxiv2lm.params import NormalizeParams
from arxiv2lm.text import nontext
from arxiv2lm.text.minhash import NearDupIndex, signature
from arxiv2lm.text.quality import Signals, check, normalize_doc
from arxiv2lm.units import Done, Unit, code_digest, only_named, run_units, scratch, unit_key
from arxiv2lm.workcache import PARTS, WorkCache, part_files

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
PART_FILE = "part.parquet"
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
    extract_dir: Path,
    params: NormalizeParams,
    dst: Path,
    cache: WorkCache,
    only: Collection[str] | None = None,
) -> tuple[list[Unit], str]:
    """One unit per extract part (named by its chunk), writing `dst/<chunk>.parquet`, only
    the parts named in `only` when given; and the code digest the units are keyed with."""
    code = code_digest(__name__)
    unit_params = {
        "minhash_perm": params.minhash_perm,
        "shingle_words": params.shingle_words,
        "timeout_s": params.timeout_s,
    }
    parts = part_files(extract_dir)
    units = [
        Unit(
            part.stem,
            unit_key("normalize", cache.digest(part), unit_params, code),
            {UNIT_FILE: dst / f"{part.stem}.parquet"},
            part,
        )
        for part in only_named(parts, [p.stem for p in parts], only)
    ]
    return units, code


def _run(units: list[Unit], params: NormalizeParams, workers: int, cache: WorkCache) -> list[Done]:
    """Every unit in order, linked from the cache or computed."""
    fn = functools.partial(
        measure,
        perm=params.minhash_perm,
        shingle_words=params.shingle_words,
        timeout_s=params.timeout_s,
    )
    return run_units(
        units,
        fn,
        _papers,
        lambda u: _UnitSink(u.outputs[UNIT_FILE]),
        cache,
        workers,
        "normalize",
        "papers",
    )


def list_units(
    extract_dir: Path, params: NormalizeParams, cache: WorkCache
) -> list[tuple[str, bool]]:
    """Each per-chunk unit's name and whether the work cache has it, in chunk order."""
    units, _ = _units(extract_dir, params, Path(), cache)
    return [(u.name, cache.has(u.key)) for u in units]


def compute_units(
    extract_dir: Path,
    params: NormalizeParams,
    workers: int,
    cache: WorkCache,
    only: Collection[str],
) -> dict[str, int]:
    """Put the per-chunk units named in `only` into the work cache (those it has are
    skipped); no global pass, no part written. Returns units computed/reused."""
    with scratch(cache) as tmp:
        units, _ = _units(extract_dir, params, tmp, cache, only)
        todo = [u for u in units if not cache.has(u.key)]
        _run(todo, params, workers, cache)
    return {"units_computed": len(todo), "units_reused": len(units) - len(todo)}


_DECIDE_COLUMNS = ["id", "bytes", "drop", "drop_detail", "digest", "minhash", *_SIGNAL_FIELDS]


class _Decider:
    """The global pass: thresholds, exact and near de-dup, in chunk order. Reads no text."""

    def __init__(self, params: NormalizeParams) -> None:
        self.params = params
        self.enabled = params.near_dup_threshold < 1.0
        self.near = NearDupIndex(params.minhash_perm, params.near_dup_threshold)
        self.first_of: dict[str, str] = {}  # exact digest -> id of the kept paper that has it
        self.ledger = Ledger("normalize")

    def kept_rows(self, unit_file: Path) -> list[int]:
        """Row numbers of `unit_file` that are kept; every other row goes to the ledger."""
        kept = []
        for i, row in enumerate(iter_parquet(unit_file, _DECIDE_COLUMNS)):
            drop = self._drop(row)
            if drop is None:
                kept.append(i)
                self.ledger.keep(row["id"], row["bytes"])
            else:
                self.ledger.drop(row["id"], drop.reason, row["bytes"], drop.detail)
        return kept

    def _drop(self, row: dict[str, Any]) -> Drop | None:
        if row["drop"]:
            return Drop(row["drop"], row["drop_detail"])
        drop = check(Signals(**{k: row[k] for k in _SIGNAL_FIELDS}), self.params)
        if drop is not None:
            return drop
        if row["digest"] in self.first_of:
            return Drop("exact_duplicate", self.first_of[row["digest"]])
        sig = np.frombuffer(row["minhash"], dtype="<u4")
        match = self.near.find(sig) if self.enabled else None
        if match is not None:
            return Drop("near_duplicate", f"{match[0]} (jaccard {match[1]:.3f})")
        self.first_of[row["digest"]] = row["id"]
        if self.enabled:
            self.near.add(row["id"], sig)
        return None


def _write_part(unit_file: Path, kept: list[int], dst: Path) -> int:
    """The kept rows of a unit file as a docs part; returns how many."""
    wanted = set(kept)
    with ParquetBatchWriter(dst, DOCS_SCHEMA) as writer:
        for i, row in enumerate(iter_parquet(unit_file, DOCS_SCHEMA.names, batch_rows=64)):
            if i in wanted:
                writer.write(row)
    return len(kept)


def normalize_corpus(
    extract_dir: Path, params: NormalizeParams, workers: int, out: Path, cache: WorkCache
) -> tuple[Ledger, dict[str, Any], dict[str, int]]:
    """Write `<out>/parts/<chunk>.parquet` (the kept papers of each chunk); return the
    ledger, corpus facts for stats.json and what this run did (units computed/reused,
    parts written/reused), which depends on the cache and stays out of the output.

    A part is itself a unit: its key is the chunk's unit key and the rows the global pass
    kept, so a new month writes only its own part and every other part is linked as it was
    (its bytes, and so the shard stage's key for it, unchanged)."""
    parts = part_files(extract_dir)
    if not parts:
        raise FileNotFoundError(f"{extract_dir}/parts has no *.parquet (run extract first)")
    decider = _Decider(params)
    (out / PARTS).mkdir(parents=True)
    written = 0
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        units, code = _units(extract_dir, params, Path(tmp), cache)
        done = _run(units, params, workers, cache)
        for d in done:
            unit_file = d.unit.outputs[UNIT_FILE]
            kept = decider.kept_rows(unit_file)
            key = unit_key("normalize-part", d.unit.key, kept, code)
            dst = out / PARTS / f"{d.unit.name}.parquet"
            if cache.has(key):
                cache.link(key, {PART_FILE: dst})
                continue
            _write_part(unit_file, kept, dst)
            cache.put(key, {PART_FILE: dst}, {"docs": len(kept)})
            written += 1
    near = decider.near
    extra = {
        "parts": len(parts),
        "near_dup": {"threshold": params.near_dup_threshold, "enabled": decider.enabled}
        | ({"bands": near.bands, "rows": near.rows} if decider.enabled else {}),
    }
    computed = sum(d.computed for d in done)
    run = {
        "units_computed": computed,
        "units_reused": len(parts) - computed,
        "parts_written": written,
        "parts_reused": len(parts) - written,
    }
    return decider.ledger, extra, run
