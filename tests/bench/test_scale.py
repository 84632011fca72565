"""`bench/scale.py`: a stage's pooled workers are counted, and a two-size run reads right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench.scale import outs

ROOT = Path(__file__).resolve().parents[2]

# A "stage" whose work is all in forkserver pool workers, as in validate/extract/normalize:
# the workers are forked by the forkserver, which the stage never waits for.
BURN = """
import json, multiprocessing as mp, sys, time
from concurrent.futures import ProcessPoolExecutor

def burn(_):
    t = time.process_time()
    while time.process_time() - t < 0.3:
        pass
    return time.process_time() - t

if __name__ == "__main__":
    with ProcessPoolExecutor(2, mp_context=mp.get_context("forkserver")) as pool:
        spent = sum(pool.map(burn, range(4)))
    json.dump({"in": {"papers": 4, "bytes": 2000000}}, open("out/stats.json", "w"))
    print(spent)
"""

# Run in its own process: run_stage reaps every child, so it must not run inside pytest.
MEASURE = """
import dataclasses, json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench.e2e import adopt_orphans
from bench.scale import run_stage
adopt_orphans()
stage = {"cmd": f"{sys.executable} burn.py", "outs": ["out"]}
row = run_stage("burn", stage, Path.cwd(), dict(os.environ))
print(json.dumps(dataclasses.asdict(row)))
"""


def test_outs_reads_plain_and_option_entries():
    assert outs({"outs": ["data/a", {"data/b": {"persist": True}}]}) == ["data/a", "data/b"]
    assert outs({}) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl subreaper is Linux's")
def test_run_stage_counts_the_cpu_of_forkserver_workers(tmp_path):
    (tmp_path / "burn.py").write_text(textwrap.dedent(BURN))
    (tmp_path / "out").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout.splitlines()[-1])
    spent = float((tmp_path / ".scale-burn.log").read_text().split()[-1])
    assert spent >= 4 * 0.3
    assert row["cpu_s"] >= spent  # the workers' CPU, not only the stage process's
    assert row["in_papers"] == 4 and row["in_mb"] == 2.0
    assert row["rss_mb"] > 5


@pytest.mark.slow
def test_two_sizes_of_a_small_sample(tmp_path):
    argv = ["--sizes", "1,2", "--papers", "50", "--workers", "1"]
    argv += ["--set", "tokenizer.vocab_size=512", "--set", "tokenizer.n_mined_symbols=32"]
    env = dict(os.environ, TMPDIR=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "bench/scale.py", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("load average") and lines[-1].startswith("load average")
    filters = [line.split() for line in lines if line.startswith("filter ")]
    assert [row[5] for row in filters[:2]] == ["50", "100"]  # filter reads every paper
    growth = lines[lines.index(next(x for x in lines if x.startswith("cpu s per 1x"))) :]
    assert [row.split()[0] for row in growth[1:-1]] == [
        *("ingest", "filter", "validate", "extract", "normalize", "tokenizer", "shard", "total")
    ]
    assert not list(tmp_path.glob("arxiv2lm-scale-*"))  # the copies are removed
