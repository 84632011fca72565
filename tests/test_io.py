import pyarrow as pa
import pytest

from arxiv2lm.io import ParquetBatchWriter, atomic_dir, atomic_path, iter_parquet


def test_atomic_path_leaves_old_file_on_failure(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_dir_replaces_whole_or_nothing(tmp_path) -> None:
    out = tmp_path / "data"
    with atomic_dir(out) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(out) as tmp:
        (tmp / "b").write_text("2")
        raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == ["a"]
    with atomic_dir(out) as tmp:
        (tmp / "c").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_parquet_batches_round_trip(tmp_path) -> None:
    schema = pa.schema([("id", pa.string()), ("n", pa.int64())])
    rows = [{"id": f"0704.{i:04d}", "n": i} for i in range(1000)]
    with ParquetBatchWriter(tmp_path / "x.parquet", schema, batch_rows=64) as w:
        for r in rows:
            w.write(r)
    assert list(iter_parquet(tmp_path / "x.parquet", batch_rows=100)) == rows


def test_parquet_writer_aborts_on_error(tmp_path) -> None:
    schema = pa.schema([("id", pa.string())])
    with pytest.raises(RuntimeError), ParquetBatchWriter(tmp_path / "x.parquet", schema) as w:
        w.write({"id": "a"})
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_missing_input_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="previous stage"):
        list(iter_parquet(tmp_path / "nope.parquet"))
