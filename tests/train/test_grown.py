"""A train split grown by appending units mid-run (next month's chunks) continues the run:
the steps already trained keep their batches, the steps left also read the new documents."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from arxiv2lm.tokens.loader import ShardError, ShardSet
from arxiv2lm.train import checkpoint as ckpt
from arxiv2lm.train.engine import Run, train
from arxiv2lm.train.export import load_export
from arxiv2lm.train.lineage import base_hash, data_lineage, train_units
from arxiv2lm.train.recipe import resolve_recipe

from .conftest import build_shards, tiny_params


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """The same 3-unit corpus before ("old": 2 units) and after ("new") its last unit."""
    old = build_shards(tmp_path_factory.mktemp("old"), units=3, keep=2)
    new = build_shards(tmp_path_factory.mktemp("new"), units=3)
    assert (old[1] / "tokenizer.model").read_bytes() == (new[1] / "tokenizer.model").read_bytes()
    return {"old": old, "new": new}


def replay(params, shard: Path, eras: list[list[int]]) -> Run:
    """A Run that only draws batches (no model): what the engine's `run.batch` reads."""
    train_set = ShardSet.open(shard, "train")
    recipe = resolve_recipe(params, train_set.vocab_size, 1)
    return Run(params, recipe, None, None, False, train_set, None, Path(), "", 0, 1, eras=eras)


def test_a_prefix_of_the_grown_split_is_the_old_split(corpora):
    old = ShardSet.open(corpora["old"][0], "train")
    new = ShardSet.open(corpora["new"][0], "train")
    head = new.prefix(2)
    assert len(new.tokens) > len(old.tokens) == len(head.tokens)
    assert head.index.equals(old.index)
    assert np.array_equal(np.asarray(head.tokens[:]), np.asarray(old.tokens[:]))
    assert new.prefix(3) is new
    with pytest.raises(ShardError, match="prefix of 4 units"):
        new.prefix(4)


def test_eras_keep_old_batches_and_read_new_documents(corpora):
    p = tiny_params()
    before = replay(p, corpora["old"][0], [[0, 2]])
    after = replay(p, corpora["new"][0], [[0, 2], [20, 3]])
    fresh = replay(p, corpora["new"][0], [[0, 3]])
    for step in range(20):
        assert np.array_equal(before.batch(step), after.batch(step)), step
    assert any(not np.array_equal(before.batch(s), fresh.batch(s)) for s in range(20))
    # steps from 20 on read windows of the grown split, the new unit's documents included
    # (a bucket's stream only grew at its end: a window past its old count reads new tokens)
    old_plan, new_plan = before.sampler(1, 0).plan, after.sampler(1, 1).plan
    assert all(new_plan[b].windows > old_plan[b].windows for b in old_plan)
    new_draws = 0
    for s in range(20, 40):
        buckets, windows = after.sampler(1, 1).draws(s)
        pairs = zip(buckets, windows, strict=True)
        new_draws += sum(int(k >= old_plan[b].windows) for b, k in pairs)
    assert new_draws > 0
    assert any(not np.array_equal(before.batch(s), after.batch(s)) for s in range(20, 40))


@pytest.mark.slow
def test_a_run_continues_on_its_grown_split(corpora, tmp_path):
    p = tiny_params()
    dirs = [tmp_path / k for k in ("ckpt", "export", "live")]
    shard_old, tok = corpora["old"]
    first = train(p, shard_old, tok, *dirs, stop_at=20)
    assert first["steps"] == 20
    second = train(p, corpora["new"][0], corpora["new"][1], *dirs)
    assert second["resumed_from"] == 20 and second["run_dir"] == first["run_dir"]
    assert len(second["losses"]) == 20
    _, _, meta = ckpt.latest_complete(second["run_dir"])
    assert meta["data"]["eras"] == [[0, 2], [20, 3]]
    assert [u[0] for u in meta["data"]["units"]] == ["u0", "u1", "u2"]
    _, export_meta = load_export(dirs[1])
    assert export_meta["data_eras"] == [[0, 2], [20, 3]]
    # a rerun on the same grown split resumes at the end: same run, same eras
    again = train(p, corpora["new"][0], corpora["new"][1], *dirs)
    assert again["resumed_from"] == 40 and again["run_dir"] == first["run_dir"]


LAYOUT = [["w", [1]]]  # lineage only hashes the layout: no model is built


@pytest.fixture
def lineage(corpora, tmp_path):
    """Params, recipe, both splits' metas and a way to seal a checkpoint of the old run."""
    p = tiny_params()
    meta = {k: ShardSet.open(corpora[k][0], "train").meta for k in ("old", "new")}
    recipe = resolve_recipe(p, 400, 1)
    old_hash = ckpt.run_hash(p, recipe, meta["old"], LAYOUT)
    base = base_hash(p, recipe, meta["old"], LAYOUT)

    def seal(step: int, units_meta: dict, eras: list[list[int]]) -> Path:
        """A complete checkpoint of the old run at `step`, recording `units_meta`'s units."""
        run = ckpt.run_dir(tmp_path, old_hash)
        (run / ckpt.partial_tag(step)).mkdir(parents=True, exist_ok=True)
        data = {"base_hash": base, "units": train_units(units_meta), "eras": eras}
        return ckpt.finalize(run, step, old_hash, {"data": data})

    return p, recipe, meta, old_hash, base, seal


def test_lineage_choices(lineage, tmp_path):
    """new_run ignores the grown-from run; a split that lost units is a clear error."""
    p, recipe, meta, old_hash, base, seal = lineage
    assert base == base_hash(p, recipe, meta["new"], LAYOUT)
    seal(20, meta["new"], [[0, 3]])
    # the checkpoint holds 3 units: on the 3-unit split the run continues ...
    assert data_lineage(p, recipe, meta["new"], LAYOUT, tmp_path) == (old_hash, [[0, 3]])
    # ... with grown_data: new_run a grown split is a new run
    new_run = dataclasses.replace(p, grown_data="new_run")
    h, eras = data_lineage(new_run, recipe, meta["new"], LAYOUT, tmp_path)
    assert h == ckpt.run_hash(p, recipe, meta["new"], LAYOUT) != old_hash and eras == [[0, 3]]
    # ... and the 2-unit split lost a unit the run was trained on
    with pytest.raises(ValueError, match="no longer"):
        data_lineage(p, recipe, meta["old"], LAYOUT, tmp_path)


def test_a_finished_run_is_not_continued(lineage, tmp_path):
    """No steps are left in a finished run: a split grown after it starts a new run."""
    p, recipe, meta, old_hash, _, seal = lineage
    last = seal(recipe.max_steps, meta["old"], [[0, 2]])
    said: list[str] = []
    h, eras = data_lineage(p, recipe, meta["new"], LAYOUT, tmp_path, said.append)
    assert h == ckpt.run_hash(p, recipe, meta["new"], LAYOUT) != old_hash and eras == [[0, 3]]
    assert "finished; a new run trains on all of them" in said[0]
    # an unfinished one (step 20) is continued, with a new era from step 20
    seal(20, meta["old"], [[0, 2]])
    shutil.rmtree(last)
    assert data_lineage(p, recipe, meta["new"], LAYOUT, tmp_path, said.append) == (
        old_hash,
        [[0, 2], [20, 3]],
    )
