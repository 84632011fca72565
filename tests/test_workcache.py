import json

from arxiv2lm.params import ShardParams
from arxiv2lm.workcache import WorkCache, unit_key

P = ShardParams(val_fraction=0.1, split_salt="s", workers=0)


def test_key_depends_on_every_component() -> None:
    base = unit_key("validate", "md5a", P, "code1")
    assert base == unit_key("validate", "md5a", P, "code1")
    assert base != unit_key("extract", "md5a", P, "code1")
    assert base != unit_key("validate", "md5b", P, "code1")
    assert base != unit_key("validate", "md5a", ShardParams(0.2, "s", 0), "code1")
    assert base != unit_key("validate", "md5a", P, "code2")


def test_put_has_and_incomplete_units(tmp_path) -> None:
    cache = WorkCache(tmp_path / "work")
    src = tmp_path / "part.json"
    src.write_text(json.dumps({"a": 1}))
    assert not cache.has("k1")
    cache.put("k1", {"part.json": src}, result={"n": 2})
    assert cache.has("k1")
    dst = tmp_path / "out" / "part.json"
    assert cache.link("k1", {"part.json": dst}) == {"n": 2}
    assert json.loads(dst.read_text()) == {"a": 1}
    half = tmp_path / "work" / "k2"[:2] / "k2"
    half.mkdir(parents=True)
    (half / "result.json").write_text("{")  # a run killed before COMPLETE
    assert not cache.has("k2")


def test_disabled_cache_never_has() -> None:
    cache = WorkCache(None)
    assert not cache.enabled and not cache.has("k")
    cache.put("k", {})
