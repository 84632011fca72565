"""A run's data lineage: a train split grown by appended units (next month's chunks)
continues the unfinished run it grew from, in data eras.

Each checkpoint records `data: {base_hash, units, eras}`: the run hash without the data's
size, the train units it has seen ([[name, docs, tokens], ...]) and its eras, [[first step,
units], ...]. A run on a split whose units extend a recorded run's continues that run, with
a new era from the step it resumes at; the steps before it keep their batches (the engine's
`Run.batch` draws each era's steps from the split's first `units` units).

>>> data_lineage(params, recipe, meta, layout, Path("models/pretrain"))  # doctest: +SKIP
('3f2c...', [[0, 5], [2000, 6]])
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from arxiv2lm.params import PretrainParams
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.recipe import Recipe

if TYPE_CHECKING:
    from arxiv2lm.train.engine import Run


def train_units(data_meta: dict[str, Any]) -> list[list[Any]]:
    """The train split's identity unit by unit: [[name, docs, tokens], ...] in stream order
    (shard meta.json's `units`). A corpus grown by appending units keeps the old list as its
    prefix."""
    return [
        [u["name"], int(u["train"]["docs"]), int(u["train"]["tokens"])]
        for u in data_meta.get("units", [])
    ]


def base_hash(params: Any, recipe: Any, data_meta: dict[str, Any], layout: Any) -> str:
    """`run_hash` without the data's size: what a run keeps when its corpus grows."""
    tokenizer_only = {"tokenizer_sha256": data_meta.get("tokenizer_sha256")}
    return ckpt.run_hash(params, recipe, tokenizer_only, layout)


def lineage_of(
    ckpt_dir: Path, base: str, units: list[list[Any]]
) -> tuple[int, Path, dict[str, Any]] | None:
    """The checkpoint a run on `units` continues: the newest complete one, in any run folder
    under `ckpt_dir`, of a run with the same `base` hash whose train units are a prefix of
    `units` (the same corpus, or an older one this corpus grew from by appending units).
    The longest such prefix wins, then the highest step."""
    best: tuple[tuple[int, int], tuple[int, Path, dict[str, Any]]] | None = None
    if not ckpt_dir.is_dir():
        return None
    for run in sorted(ckpt_dir.iterdir()):
        if not (run.is_dir() and ckpt.RUN_DIR.match(run.name)):
            continue
        for step, path, meta in ckpt.list_complete(run):
            data = meta.get("data") or {}
            seen = data.get("units")
            if data.get("base_hash") != base or not isinstance(seen, list):
                continue
            if seen == units[: len(seen)] and (best is None or (len(seen), step) > best[0]):
                best = ((len(seen), step), (step, path, meta))
    return best[1] if best else None


def grown_eras(eras: list[list[int]], step: int, n_units: int, max_steps: int) -> list[list[int]]:
    """A run's data eras, [[first step, units], ...], after resuming at `step` on a split of
    `n_units` units: a new era starts at `step` when the split grew and steps are left.

    >>> grown_eras([[0, 5]], 200, 6, 1000)
    [[0, 5], [200, 6]]
    >>> grown_eras([[0, 5]], 1000, 6, 1000)  # finished: nothing left to draw
    [[0, 5]]
    """
    last = eras[-1][1]
    if n_units < last:
        raise ValueError(f"the train split has {n_units} units, fewer than the run's {last}")
    if n_units == last or step >= max_steps:
        return [list(e) for e in eras]
    return [*(list(e) for e in eras if e[0] < step), [step, n_units]]


def data_record(run: Run) -> dict[str, Any]:
    """What a checkpoint records of the data: the base hash, the train units, the eras."""
    units = train_units(run.train_set.meta)
    return {"base_hash": run.base_hash, "units": units, "eras": run.eras}


def data_lineage(
    params: PretrainParams,
    recipe: Recipe,
    meta: dict[str, Any],
    layout: Any,
    ckpt_dir: Path,
    say: Any = print,
) -> tuple[str, list[list[int]]]:
    """(run hash, data eras) of the run on this split. A new corpus starts a new run; one
    grown by appending units (`grown_data: continue`) continues the unfinished run it grew
    from, with a new era from the step it resumes at (`lineage_of`, `grown_eras`);
    a finished one has no steps left, so the grown split starts a new run."""
    units = train_units(meta)
    run_hash, eras = ckpt.run_hash(params, recipe, meta, layout), [[0, len(units)]]
    own = ckpt.latest_complete(ckpt.run_dir(ckpt_dir, run_hash), run_hash)
    found = own
    if own is None and params.grown_data == "continue":
        found = lineage_of(ckpt_dir, base_hash(params, recipe, meta, layout), units)
    data = (found[2].get("data") or {}) if found else {}
    if found is None or "eras" not in data:
        return run_hash, eras  # a new run, or a checkpoint older than data eras
    seen = data["units"]
    if seen != units[: len(seen)]:
        raise ValueError(
            f"{found[1]} was trained on {len(seen)} train units that data/shard no longer "
            "starts with (units removed or changed): delete that run folder or restore the data"
        )
    step, grown = found[0], grown_eras(data["eras"], found[0], len(units), recipe.max_steps)
    if len(grown) > len(data["eras"]):
        say(
            f"pretrain: the train split grew from {len(seen)} to {len(units)} units; run "
            f"{found[2]['run_hash'][:16]} continues at step {step} over all of them (steps "
            "before it keep their batches)"
        )
    elif len(seen) < len(units):  # the run had finished: nothing left to continue
        say(
            f"pretrain: the train split grew to {len(units)} units after run "
            f"{found[2]['run_hash'][:16]} finished; a new run trains on all of them "
            f"(resume_from: {found[1]} starts it from that run's weights)"
        )
        return run_hash, eras
    return found[2]["run_hash"], grown
