"""The DVC behaviour the project promises, on a small sample, in a temporary git copy.

One module-scoped project runs `dvc repro` once; the tests then check what reruns
after each kind of change. Every process runs as after a runtime-only install (conftest's
`runtime_only`: test extras unimportable), so a stage importing one fails here. This is
the slowest test module (over a minute).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from tests.conftest import RuntimeOnly

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DATA_STAGES = ["ingest", "filter", "validate", "extract", "normalize", "tokenizer", "shard"]
ALL_STAGES = [*DATA_STAGES, "pretrain", "evaluate", "report", "study"]
# Smaller than the shipped sample so the suite stays within its time budget. Training runs
# three times here (repro and two experiments); 20 steps still show a falling val loss (two
# evals), and the golden loss curve is tests/train's.
SMALL = {
    ("ingest", "n_papers"): 140,
    ("tokenizer", "vocab_size"): 1024,
    ("tokenizer", "n_mined_symbols"): 64,
    ("pretrain", "max_steps"): 20,
    ("pretrain", "eval_every"): 10,
    ("pretrain", "checkpoint_every"): 20,
    ("pretrain", "log_every"): 5,
    ("evaluate", "max_docs"): 8,
}

pytestmark = pytest.mark.slow


def run(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    env.pop("DVC_EXP_BASELINE_REV", None)
    proc = subprocess.run(args, cwd=cwd, env=env, text=True, capture_output=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([\w-]+)'", output))


def lock_outs(project: Path) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {
        out["path"]: out["md5"]
        for name in DATA_STAGES
        for out in lock["stages"][name].get("outs", [])
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, runtime_only: RuntimeOnly) -> Iterator[Path]:
    dest = tmp_path_factory.mktemp("pipeline") / "proj"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.split()
    for rel in files:
        if not (ROOT / rel).is_file() or rel.startswith(("data/", "models/")):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for (section, key), value in SMALL.items():
        params[section][key] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(dest, "git", "init", "-q")
    run(dest, "git", "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    run(dest, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    mp = pytest.MonkeyPatch()  # for this module's subprocesses: only the runtime install
    for key, value in runtime_only.env.items():
        mp.setenv(key, value)
    try:
        first = run(dest, "dvc", "repro")
        assert ran_stages(first.stdout) == set(ALL_STAGES)
        started = runtime_only.log.read_text().split()  # argv[:2] of each interpreter
        for name in ALL_STAGES:  # the blocker was in force in each stage's interpreter
            assert any(arg.endswith(f"stages/{name}.py") for arg in started), name
        run(dest, "git", "add", "-A")
        run(dest, "git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "repro")
        yield dest
    finally:
        mp.undo()


def test_repro_produces_reports_and_a_falling_loss(project: Path) -> None:
    for name in ["funnel.png", "loss.png", "funnel.csv", "drops.csv", "yield.json"]:
        assert (project / "reports" / name).stat().st_size > 0, name
    assert (project / "reports" / "funnel.png").read_bytes()[:4] == b"\x89PNG"
    ev = json.loads((project / "reports" / "evaluate.json").read_text())
    val_docs = json.loads((project / "data/shard/meta.json").read_text())["splits"]["val"]["docs"]
    assert ev["docs"] == min(8, val_docs) and ev["math"]["tokens"] > 0
    assert 0 < ev["bits_per_byte"] < 8  # the trained model beats spelling out raw bytes
    hf = project / "models" / "hf"
    assert json.loads((hf / "config.json").read_text())["model_type"] == "llama"
    card = (hf / "README.md").read_text()
    head = run(project, "git", "rev-parse", "HEAD~1").stdout.strip()  # the repro ran there
    assert head in card and "bits_per_byte" in card and "papers in" in card
    val = (project / "reports/pretrain/plots/metrics/val/loss.tsv").read_text().splitlines()[1:]
    losses = [float(line.split("\t")[-1]) for line in val]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    # timings are logged, but beside the DVC outputs and git-ignored: a rerun leaves git clean
    assert (project / "reports/pretrain/timing.tsv").stat().st_size > 0
    assert not run(project, "git", "ls-files", "reports/pretrain/timing.tsv").stdout
    assert "tokens_per_s" not in (project / "reports/pretrain/metrics.json").read_text()


def test_funnel_accounts_for_every_paper(project: Path) -> None:
    for stage in ["filter", "validate", "extract", "normalize"]:
        stats = json.loads((project / "data" / stage / "stats.json").read_text())
        dropped = sum(c["papers"] for c in stats["dropped"].values())
        assert stats["in"]["papers"] == stats["kept"]["papers"] + dropped, stage
    prev = None
    for stage in ["filter", "validate", "extract", "normalize"]:
        stats = json.loads((project / "data" / stage / "stats.json").read_text())
        if prev is not None:
            assert stats["in"]["papers"] == prev, f"{stage} lost papers without a reason"
        prev = stats["kept"]["papers"]


def test_second_repro_changes_nothing(project: Path) -> None:
    out = run(project, "dvc", "repro")
    assert ran_stages(out.stdout) == set()
    status = run(project, "dvc", "status")
    assert "up to date" in status.stdout


def test_data_stages_are_deterministic(project: Path) -> None:
    before = lock_outs(project)
    out = run(project, "dvc", "repro", "--force", "shard")
    assert ran_stages(out.stdout) == set(DATA_STAGES)
    assert lock_outs(project) == before
    run(project, "git", "checkout", "dvc.lock")


def test_pretrain_param_reruns_only_training_and_plots_diff(project: Path) -> None:
    # max_steps too, to train for less: still only `pretrain` params change
    lower = ["-S", "pretrain.lr=0.002", "-S", "pretrain.max_steps=10"]
    out = run(project, "dvc", "exp", "run", "-n", "lr-low", *lower)
    assert ran_stages(out.stdout) == {"pretrain", "evaluate", "report", "study"}
    diff = run(project, "dvc", "plots", "diff", "HEAD", "lr-low", "--json", "--split")
    data = json.loads(diff.stdout)
    rendered = json.dumps(data)
    assert "lr-low" in rendered and "HEAD" in rendered
    assert {"funnel_tokens", "loss_bits_per_byte", "yield_vs_bits_per_byte"} <= set(data["data"])
    # reports/study.csv labels each run with the params it changed from its baseline
    assert "pretrain.lr=0.002 pretrain.max_steps=10" in rendered and "defaults" in rendered


def test_normalize_param_reruns_normalize_and_after(project: Path) -> None:
    # --temp: from HEAD, not from the workspace that the lr-low experiment left its params in
    out = run(
        project, "dvc", "exp", "run", "--temp", "-n", "short-min", "-S", "normalize.min_chars=6000"
    )
    assert ran_stages(out.stdout) == {
        "normalize",
        "tokenizer",
        "shard",
        "pretrain",
        "evaluate",
        "report",
        "study",
    }


def test_misspelt_param_stops_before_work(project: Path) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["normalize"]["min_charz"] = 1
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        out = run(project, "dvc", "repro", "normalize", check=False)
        assert out.returncode != 0
        assert "normalize: unknown key 'min_charz'" in out.stdout + out.stderr
        assert "Traceback" not in out.stdout + out.stderr
    finally:
        run(project, "git", "checkout", "params.yaml")
