"""Follow one paper through the stage outputs: kept (with what each stage recorded) or
dropped (with the stage, reason and detail of its ledger row).

>>> t = trace_paper(Path("data"), parse_id("2301.00042"))  # doctest: +SKIP
>>> t.verdict["stage"], t.verdict["status"]  # doctest: +SKIP
('shard', 'kept')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arxiv2lm.io import read_json
from arxiv2lm.sources.chunks import strip_version
from arxiv2lm.sources.manifest import id_from_member, is_yymm, member_name
from arxiv2lm.tokens.shards import FORMAT_VERSION, SPLITS, UNITS_DIR
from arxiv2lm.trace.lookup import TraceError, find_in_parts, find_member, find_rows

STAGES = ("filter", "validate", "extract", "normalize", "shard")
REJECTED = "rejected.parquet"
_LEDGER = ["reason", "bytes", "detail"]
_PREFIX = re.compile(r"^arxiv:", re.IGNORECASE)
_VERSION = re.compile(r"v([0-9]+)$")
_FIVE_DIGITS_FROM = "1501"  # new-style ids have a 5-digit number from January 2015 on
ABSTRACT_CHARS = 300  # of the abstract shown: enough to recognise the paper


@dataclass(frozen=True)
class PaperId:
    """An id as typed (`query`), its versionless canonical form, version and month."""

    query: str
    base: str
    version: int | None
    yymm: str


def parse_id(text: str) -> PaperId:
    """Check an arXiv id: new style `2301.01234`, old style `math/0601001` (a subject class,
    `math.AG/0601001`, is not part of the id), either with a version `v2` or `arXiv:` prefix.

    >>> parse_id("arXiv:math.AG/0601001v2")
    PaperId(query='arXiv:math.AG/0601001v2', base='math/0601001', version=2, yymm='0601')
    """
    raw = _PREFIX.sub("", text.strip())
    hint = "expected e.g. 2301.01234, math/0601001 or hep-th/9901001v2"
    try:
        base = id_from_member(member_name(raw))
    except ValueError:
        raise TraceError(f"{text!r} is not an arXiv id ({hint})") from None
    number = base.rsplit("/", 1)[-1]
    yymm = number[:4]
    if not is_yymm(yymm):
        raise TraceError(f"{text!r}: {yymm} is not a month (YYMM)")
    if "/" not in base and (len(number) == 10) != (yymm >= _FIVE_DIGITS_FROM):
        digits = 5 if yymm >= _FIVE_DIGITS_FROM else 4
        raise TraceError(f"{text!r}: ids of {yymm} have a {digits}-digit number ({hint})")
    version = _VERSION.search(raw)
    return PaperId(text, base, int(version.group(1)) if version else None, yymm)


@dataclass
class StageTrace:
    """What one stage did with the paper: `status` is kept | dropped | missing (kept before,
    in neither this stage's output nor its ledger: stale artifacts) | not_run | not_reached."""

    stage: str
    status: str
    reason: str = ""
    detail: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    paper: PaperId
    id: str  # as the metadata has it (what every stage's rows carry)
    stages: list[StageTrace]
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> dict[str, str]:
        """The stage that dropped the paper, or the last stage that kept it."""
        last = self.stages[0]
        for s in self.stages:
            if s.status in ("dropped", "missing"):
                return {"stage": s.stage, "status": s.status, "reason": s.reason}
            if s.status == "kept":
                last = s
        return {"stage": last.stage, "status": last.status, "reason": ""}


def trace_paper(data: Path, paper: PaperId) -> Trace | None:
    """The trace of `paper` through the stage folders under `data` (`<data>/<stage>/`), or
    None when the metadata (the filter's kept papers and ledger) does not know it."""
    papers = data / "filter" / "papers.parquet"
    if not papers.exists():
        raise TraceError(f"{papers} does not exist (run the pipeline up to filter first)")
    found = _filter(data / "filter", paper)
    if found is None:
        return None
    meta_id, first, notes = found
    trace = Trace(paper, meta_id, [first], notes)
    chunk = None
    for stage in STAGES[1:]:
        prev = trace.stages[-1].status
        if prev != "kept":  # a stage after one not run has not run either
            trace.stages.append(
                StageTrace(stage, "not_run" if prev == "not_run" else "not_reached")
            )
            continue
        stage_dir = data / stage
        if not (stage_dir / "stats.json").exists():
            trace.stages.append(StageTrace(stage, "not_run"))
            continue
        if stage == "validate":
            step = _validate(data, meta_id, paper)
            chunk = step.facts.get("chunk")
        elif stage == "shard":
            step = _shard(stage_dir, meta_id, chunk)
        else:
            step = _per_chunk(stage, stage_dir, meta_id, chunk)
        trace.stages.append(step)
    return trace


def _ledger(stage_dir: Path, paper_id: str) -> dict[str, Any] | None:
    rows = find_rows(stage_dir / REJECTED, paper_id, _LEDGER)
    return rows[0] if rows else None


def _dropped(stage: str, row: dict[str, Any], facts: dict[str, Any] | None = None) -> StageTrace:
    facts = {"bytes": row["bytes"], **(facts or {})}
    return StageTrace(stage, "dropped", row["reason"], row["detail"] or "", facts)


def _missing(stage: str, paper_id: str) -> StageTrace:
    note = f"{paper_id} is in neither the output nor {REJECTED} (artifacts out of date?)"
    return StageTrace(stage, "missing", detail=note)


def _filter(stage_dir: Path, paper: PaperId) -> tuple[str, StageTrace, list[str]] | None:
    """The metadata's id of `paper` (it may carry a version) and the filter's decision."""
    hi = paper.base + "w"  # every `<base>v<n>` sorts between `<base>` and this

    def same(value: str) -> bool:
        return strip_version(value) == paper.base

    cols = ["domain", "categories", "primary_category", "created", "license", "title", "abstract"]
    kept = find_rows(stage_dir / "papers.parquet", paper.base, cols, hi, same)
    dropped = find_rows(stage_dir / REJECTED, paper.base, _LEDGER, hi, same)
    ids = sorted({r["id"] for r in kept + dropped})
    if not ids:
        return None
    wanted = f"{paper.base}v{paper.version}"
    meta_id = wanted if wanted in ids else paper.base if paper.base in ids else ids[0]
    notes = [f"the metadata also has {other}" for other in ids if other != meta_id]
    row = next((r for r in kept if r["id"] == meta_id), None)
    if row is None:
        return meta_id, _dropped("filter", next(r for r in dropped if r["id"] == meta_id)), notes
    if any(r["id"] == meta_id for r in dropped):  # a later line with the same id
        notes.append("a later metadata line with the same id was dropped as duplicate_id")
    facts = {k: v for k, v in row.items() if k != "id"}
    if facts.get("abstract") and len(facts["abstract"]) > ABSTRACT_CHARS:
        facts["abstract"] = facts["abstract"][:ABSTRACT_CHARS].rstrip() + " ..."
    return meta_id, StageTrace("filter", "kept", facts=facts), notes


def _validate(data: Path, paper_id: str, paper: PaperId) -> StageTrace:
    cols = ["domain", "yymm", "kind", "paths", "bytes", "nested_archives"]
    hit = find_in_parts(data / "validate", paper_id, paper.yymm, cols)
    if hit is not None:
        chunk, row = hit
        member = find_member(data / "ingest", paper.base, paper.yymm, chunk)
        facts = {"chunk": chunk, **_member(member), "class": row["kind"]}
        facts["tex_bytes"] = row["bytes"]  # the TeX-relevant files kept (figures do not count)
        facts |= {"files": row["paths"], "nested_archives": row["nested_archives"]}
        return StageTrace("validate", "kept", facts=facts)
    row = _ledger(data / "validate", paper_id)
    if row is None:
        return _missing("validate", paper_id)
    member = (
        {}
        if row["reason"] == "missing_source"
        else find_member(data / "ingest", paper.base, paper.yymm)
    )
    return _dropped("validate", row, _member(member))


def _member(found: dict[str, Any]) -> dict[str, Any]:
    if "note" in found:
        return {"member": f"unknown ({found['note']})"}
    return found


_PART_COLUMNS = {
    "extract": [
        "main_file",
        "main_rule",
        "encoding",
        "inputs_resolved",
        "inputs_missing",
        "macros_defined",
        "bytes_in",
        "chars_out",
    ],
    "normalize": [
        "chars",
        "words",
        "math_fraction",
        "command_density",
        "alpha_ratio",
        "dup_line_fraction",
        "bytes",
    ],
}


def _per_chunk(stage: str, stage_dir: Path, paper_id: str, chunk: str | None) -> StageTrace:
    """extract or normalize: the paper's row in its chunk's part, or its ledger row."""
    if chunk is not None:
        rows = find_rows(stage_dir / "parts" / f"{chunk}.parquet", paper_id, _PART_COLUMNS[stage])
        if rows:
            facts = {k: rows[0][k] for k in _PART_COLUMNS[stage]}
            return StageTrace(stage, "kept", facts=facts)
    row = _ledger(stage_dir, paper_id)
    return _missing(stage, paper_id) if row is None else _dropped(stage, row)


def _shard(shard_dir: Path, paper_id: str, chunk: str | None) -> StageTrace:
    """Split, unit, offsets (in the unit and in the split's whole stream) and tokens."""
    try:
        meta = read_json(shard_dir / "meta.json")
    except (OSError, ValueError):  # absent, or not JSON: reported as the version check's
        meta = {}
    if meta.get("format_version") != FORMAT_VERSION:
        got = meta.get("format_version")
        note = f"meta.json format_version {got!r}, this tracer reads {FORMAT_VERSION}"
        return StageTrace("shard", "missing", detail=note)
    for split in SPLITS if chunk is not None else ():
        index = shard_dir / UNITS_DIR / f"{chunk}.{split}.index.parquet"
        rows = find_rows(index, paper_id, ["domain", "bucket", "offset", "length", "bytes"])
        if not rows:
            continue
        row = rows[0]
        names = [unit["name"] for unit in meta["units"]]
        if chunk not in names:
            return StageTrace("shard", "missing", detail=f"unit {chunk} is not in meta.json")
        # the split's stream is its units concatenated in meta.json order
        before = sum(u[split]["tokens"] for u in meta["units"][: names.index(chunk)])
        facts = {
            "split": split,
            "unit": chunk,
            "offset_in_unit": row["offset"],
            "offset_in_split": before + row["offset"],
            "tokens": row["length"],
            "bucket": row["bucket"],
            "bytes": row["bytes"],
        }
        return StageTrace("shard", "kept", facts=facts)
    row = _ledger(shard_dir, paper_id)
    return _missing("shard", paper_id) if row is None else _dropped("shard", row)
