import os
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from arxiv2lm import io as io_module
from arxiv2lm.io import (
    HOST,
    ParquetBatchWriter,
    atomic_dir,
    atomic_path,
    iter_parquet,
    write_json,
)


def _dead_pid() -> int:
    """The pid of a process that has exited (reaped, so `kill(pid, 0)` fails)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(proc.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


def _leftovers(folder, pid: int) -> None:
    """What a SIGKILLed stage leaves: its temp folder, its aside folder, a temp file."""
    (folder / f".filter.tmp-{pid}").mkdir(parents=True)
    (folder / f".filter.tmp-{pid}" / "papers.parquet").write_text("half")
    (folder / f".extract.old-{pid}").mkdir()
    (folder / f".stats.json.tmp-{pid}").write_text("half")


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


def _write_dir(target) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("1")


def _write_parquet(target) -> None:
    with ParquetBatchWriter(target, pa.schema([("a", pa.int64())])) as w:
        w.write({"a": 1})


WRITERS = {
    "atomic_dir": _write_dir,
    "atomic_path": lambda target: write_json({}, target),
    "parquet_writer": _write_parquet,
}


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_stale_temps_of_dead_pids_are_removed_live_ones_kept(tmp_path, writer: str) -> None:
    data = tmp_path / "data"
    dead, live = _dead_pid(), os.getpid()
    _leftovers(data, dead)
    _leftovers(data, live)
    (data / ".keep").write_text("")
    (data / ".notes.tmp-abc").write_text("")  # not a pid: not ours
    WRITERS[writer](data / "out")
    kept = {f".extract.old-{live}", f".filter.tmp-{live}", f".stats.json.tmp-{live}"}
    assert {p.name for p in data.iterdir()} == kept | {".keep", ".notes.tmp-abc", "out"}
    assert (data / f".filter.tmp-{live}" / "papers.parquet").read_text() == "half"


def test_live_pid_that_started_after_the_temp_is_a_reuse(tmp_path, monkeypatch) -> None:
    old = tmp_path / f".validate.tmp-{os.getpid()}"
    old.mkdir()
    # as if this pid were now a process started after the temp was made (a pid reuse)
    monkeypatch.setattr(io_module, "_start_time", lambda pid: time.time() + 60)
    with atomic_dir(tmp_path / "filter") as tmp:
        (tmp / "a").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["filter"]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="start times come from /proc")
def test_process_start_time_from_proc() -> None:
    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        start = io_module._start_time(child.pid)
    finally:
        child.kill()
        child.wait()
    assert start is not None and before - 1.5 <= start <= time.time() + 0.5
    assert io_module._start_time(os.getpid()) < before


def test_rerun_after_sigkill_leaves_no_temp(tmp_path) -> None:
    killed = (
        "import os, signal, sys\n"
        "from arxiv2lm.io import atomic_dir, write_json\n"
        "with atomic_dir(sys.argv[1]) as tmp:\n"
        "    write_json({}, tmp / 'stats.json')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", killed, str(tmp_path / "filter")])
    assert proc.wait() == -9
    assert [p.name for p in tmp_path.iterdir()] == [f".filter.tmp-{proc.pid}@{HOST}"]
    with atomic_dir(tmp_path / "filter") as tmp:
        (tmp / "stats.json").write_text("{}")
    assert [p.name for p in tmp_path.iterdir()] == ["filter"]


def test_another_hosts_temporaries_are_left_alone(tmp_path) -> None:
    """In a folder shared by several hosts (a work cache on NFS) a pid means nothing to the
    other hosts: only this host's stale temporaries go."""
    dead = 2**22 + 12345  # above pid_max's default: no such process here
    mine, theirs = f".unit.tmp-{dead}@{HOST}", f".unit.tmp-{dead}@other-node.cluster"
    for name in (mine, theirs):
        (tmp_path / name).mkdir()
    assert io_module.clean_stale_temps(tmp_path) == [mine]
    assert [p.name for p in tmp_path.iterdir()] == [theirs]
