"""The normalize stage end to end on hand-built extract parts: drop reasons (binary junk and
the per-paper time limit too), exact and near de-dup across chunks, per-chunk units reused
from the work cache, byte-identical outputs."""

import importlib
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from arxiv2lm.io import iter_parquet, read_json
from arxiv2lm.sources.sample_text import Grammar
from arxiv2lm.text import corpus, quality
from arxiv2lm.text.normalize import normalize_text
from arxiv2lm.workcache import iter_parts

ROOT = Path(__file__).resolve().parents[2]


def _paper(seed: int, n: int = 40) -> list[str]:
    g = Grammar(random.Random(seed), "math", macros=False)
    return [g.sentence() for _ in range(n)]


A, B, C, D = (_paper(s) for s in (1, 2, 3, 4))
A_V2 = [_paper(99, 1)[0] if i in (5, 25) else s for i, s in enumerate(A)]  # 2 of 40 rewritten
# 20 kB of random bytes as extract passes them on (latin-1): 46% letters, so without the
# not_text check they pass every threshold and reach the shards
JUNK = random.Random(0).randbytes(20_000).decode("latin-1")


def _stage():
    return importlib.import_module("stages.normalize")


def _part(root: Path, chunk: str, rows: list[tuple[str, str]]) -> None:
    (root / "extract/parts").mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [r[0] for r in rows], "domain": ["math"] * len(rows),
                      "text": [r[1] for r in rows]})  # fmt: skip
    pq.write_table(table, root / f"extract/parts/{chunk}.parquet")


def _set(root: Path, **changes: object) -> None:
    doc = yaml.safe_load((root / "params.yaml").read_text())
    doc["normalize"].update(changes)
    (root / "params.yaml").write_text(yaml.safe_dump(doc))


def _run(root: Path, cache: bool = True) -> dict:
    _stage().main(["extract", "normalize"] + (["--work-cache", "work"] if cache else []))
    return read_json(root / "work/normalize/last_run.json") if cache else {}


def _did(computed: int, reused: int, written: int, linked: int) -> dict[str, int]:
    """A run's record: units computed / reused, parts written / linked from the cache."""
    return {
        "units_computed": computed,
        "units_reused": reused,
        "parts_written": written,
        "parts_reused": linked,
    }


def _bytes(root: Path) -> dict[str, bytes]:
    out = root / "normalize"
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.*"))}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    _set(tmp_path, workers=1)
    monkeypatch.chdir(tmp_path)
    _part(tmp_path, "arXiv_src_2301_001", [
        ("a", " ".join(A)),
        ("b", " ".join(B)),
        ("a-copy", " ".join(A) + " \t\r\n\n\n\u00a0"),  # the same text once normalized
        ("tiny", "too short"),
        ("junk", JUNK),
    ])  # fmt: skip
    _part(tmp_path, "arXiv_src_9912_001", [("c", " ".join(C))])  # 1999: comes first
    _part(tmp_path, "arXiv_src_2302_001", [("a-v2", " ".join(A_V2))])
    return tmp_path


def test_drops_and_order(project):
    run = _run(project)
    assert run == _did(3, 0, 3, 0)
    out = list(iter_parts(project / "normalize"))
    assert [r["id"] for r in out] == ["c", "a", "b"]
    text = normalize_text(" ".join(A))
    assert out[1]["text"] == text and out[1]["bytes"] == len(text.encode())
    assert out[1]["math_fraction"] > 0 and set(out[1]) >= {"domain", "chars", "alpha_ratio"}
    rejected = {r["id"]: r for r in iter_parquet(project / "normalize/rejected.parquet")}
    assert {k: r["reason"] for k, r in rejected.items()} == {
        "a-copy": "exact_duplicate", "tiny": "too_short", "a-v2": "near_duplicate",
        "junk": "not_text",
    }  # fmt: skip
    assert rejected["a-copy"]["detail"] == "a"
    assert rejected["junk"]["detail"].startswith("control chars 2")  # 24% of 20000
    assert rejected["junk"]["bytes"] == len(JUNK.encode())  # its input's bytes
    dup_of, _, jac = rejected["a-v2"]["detail"].split()
    assert dup_of == "a" and 0.8 <= float(jac.rstrip(")")) < 1.0
    stats = read_json(project / "normalize/stats.json")
    assert stats["in"]["papers"] == 7 and stats["kept"]["papers"] == 3
    assert stats["dropped"]["not_text"] == {"papers": 1, "bytes": len(JUNK.encode())}
    assert stats["near_dup"] == {"threshold": 0.8, "enabled": True, "bands": 16, "rows": 8}


def test_units_reused_and_outputs_byte_identical(project):
    _run(project)
    first = _bytes(project)
    assert _run(project) == _did(0, 3, 0, 3)
    assert _bytes(project) == first
    _run(project, cache=False)  # units computed afresh give the same bytes
    assert _bytes(project) == first

    _part(project, "arXiv_src_2303_001", [("d", " ".join(D))])
    before = _bytes(project)
    assert _run(project) == _did(1, 3, 1, 3)  # a new month writes its part only
    after = _bytes(project)
    assert {k: after[k] for k in before if k.startswith("parts/")} == {
        k: v for k, v in before.items() if k.startswith("parts/")
    }
    assert [r["id"] for r in iter_parts(project / "normalize")][-1] == "d"

    _set(project, min_chars=len(" ".join(B)) + 1)  # a threshold: only the global pass
    run = _run(project)
    # only the global pass, and only the two chunks that lose papers get a new part
    assert (run["units_computed"], run["parts_written"], run["parts_reused"]) == (0, 2, 2)
    reasons = {r["id"]: r["reason"] for r in iter_parquet(project / "normalize/rejected.parquet")}
    assert reasons["b"] == "too_short"

    _set(project, shingle_words=4)  # changes every signature: every unit again
    assert _run(project) == _did(4, 0, 4, 0)


def test_threshold_one_disables_near_dup(project):
    _set(project, near_dup_threshold=1.0)
    _run(project, cache=False)
    ids = [r["id"] for r in iter_parts(project / "normalize")]
    assert ids == ["c", "a", "b", "a-v2"]  # the exact copy is still dropped
    assert read_json(project / "normalize/stats.json")["near_dup"] == {
        "threshold": 1.0, "enabled": False
    }  # fmt: skip


def test_missing_input_is_a_clear_error(project):
    with pytest.raises(SystemExit, match="does not exist"):
        _stage().main(["nope", "out"])


@pytest.mark.parametrize(
    "key,value", [("minhash_perm", 0), ("shingle_words", 0), ("near_dup_threshold", 0.0)]
)
def test_bad_minhash_params_stop_before_work(project, key, value):
    _set(project, **{key: value})
    with pytest.raises(SystemExit, match=key):
        _run(project)
    assert not (project / "normalize").exists()


def test_worker_pool_gives_the_same_bytes(project):
    _run(project, cache=False)
    first = _bytes(project)
    _set(project, workers=2)
    _run(project, cache=False)
    assert _bytes(project) == first


def test_empty_result_is_a_clear_message(tmp_path, monkeypatch):
    params = (ROOT / "params.yaml").read_text().replace("min_chars: 800", "min_chars: 10000000")
    (tmp_path / "params.yaml").write_text(params)
    parts = tmp_path / "extract" / "parts"
    parts.mkdir(parents=True)
    rows = [
        {
            "id": "2301.00001",
            "domain": "math",
            "text": "Short.",
            "main_file": "m.tex",
            "main_rule": "single_candidate",
            "encoding": "utf-8",
            "inputs_resolved": 0,
            "inputs_missing": 0,
            "macros_defined": 0,
            "bytes_in": 6,
            "chars_out": 6,
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), parts / "arXiv_src_2301_001.parquet")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match=r"no paper of 1 passed .*too_short"):
        _stage().main(["extract", "normalize"])
    assert not (tmp_path / "normalize").exists()


def _slow_doc(item):  # stands in for input that makes normalize slow
    if item[0] == "b":
        time.sleep(60)
    return quality.normalize_doc(item)


_MEASURE = corpus.measure


def _measure_slowly(*args, **kwargs):
    """`measure` with `_slow_doc`; imported by name in the worker, so it patches there."""
    corpus.normalize_doc = _slow_doc
    return _MEASURE(*args, **kwargs)


def test_a_paper_over_the_time_limit_is_dropped(project):
    # in a fresh process: its pool workers import `_measure_slowly` from this module by name
    script = (
        "import tests.text.test_stage_normalize as t, arxiv2lm.text.corpus as c\n"
        "c.measure = t._measure_slowly\n"
        "import stages.normalize as s\n"
        "s.main(['extract', 'normalize'])\n"
    )
    _set(project, timeout_s=0.5)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", script], cwd=project, env=env, timeout=120)
    assert run.returncode == 0
    assert time.perf_counter() - start < 20
    rejected = {r["id"]: r for r in iter_parquet(project / "normalize/rejected.parquet")}
    assert (rejected["b"]["reason"], rejected["b"]["detail"]) == ("timeout", "over 0.5s")
    assert rejected["b"]["bytes"] == len(" ".join(B).encode())
    assert [r["id"] for r in iter_parts(project / "normalize")] == ["c", "a"]
    stats = read_json(project / "normalize/stats.json")
    assert stats["dropped"]["timeout"]["papers"] == 1


def test_timeout_is_part_of_the_unit_key(project):
    _run(project)
    assert _run(project) == _did(0, 3, 0, 3)
    _set(project, timeout_s=60)  # a longer limit may keep a paper that timed out
    assert _run(project) == _did(3, 0, 3, 0)


def test_negative_timeout_stops_before_work(project):
    _set(project, timeout_s=-1)
    with pytest.raises(SystemExit, match=r"timeout_s -1.0 must be >= 0"):
        _run(project)
    assert not (project / "normalize").exists()
