import json
from pathlib import Path

import pyarrow as pa

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


def test_digest_is_remembered_by_file_identity(tmp_path: Path, monkeypatch) -> None:
    """A part linked from the cache keeps its inode and mtime: its sha256 is not read again
    on the next run; a rewritten file is hashed afresh."""
    from arxiv2lm import workcache

    part = tmp_path / "a.parquet"
    part.write_bytes(b"one")
    cache = WorkCache(tmp_path / "work")
    first = cache.digest(part)
    cache.record_run({})
    reads = []
    monkeypatch.setattr(workcache, "file_sha256", lambda p: reads.append(p) or "fresh")
    again = WorkCache(tmp_path / "work")
    assert again.digest(part) == first and reads == []
    part.write_bytes(b"two!")  # another size and mtime: hashed again
    assert again.digest(part) == "fresh" and reads == [part]
    assert WorkCache(None).digest(part) == "fresh"  # no cache, nothing remembered


def test_parts_where_reads_only_the_wanted_rows(tmp_path: Path) -> None:
    from arxiv2lm.io import ParquetBatchWriter
    from arxiv2lm.workcache import iter_parts_where

    schema = pa.schema([("id", pa.string()), ("text", pa.string())])
    (tmp_path / "parts").mkdir()
    for chunk, ids in (("arXiv_src_2301_001", "abc"), ("arXiv_src_9901_001", "xyz")):
        with ParquetBatchWriter(tmp_path / f"parts/{chunk}.parquet", schema, batch_rows=1) as w:
            for i in ids:
                w.write({"id": i, "text": f"text {i}"})
    rows = list(iter_parts_where(tmp_path, {"b", "y", "q"}, ["text"]))
    assert rows == [{"text": "text y"}, {"text": "text b"}]  # chunk (time) order: 9901 first
