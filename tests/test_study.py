"""Experiments that stay apart: a grid in DVC's queue and the README's `--temp` sequence.

DVC runs each queued or `--temp` experiment in its own git clone under `.dvc/tmp/exps/`,
sharing only the DVC cache: its own `.arxiv2lm/work` (gitignored, so absent there), its own
`models/pretrain` (checked out as committed at HEAD) and `data/ingest` from the cache. These
tests run that on the small sample of `tests/test_pipeline.py` (its `project` fixture: one
`dvc repro`, committed) and check that each experiment got its own params and results, that
each model trained from step 0, that a failed experiment is reported while the others run,
that the main workspace is left as it was, and that an experiment runs its own commit's code.
Slow: 5.5 min on the 2-core machine at load 3.5 (the copy's repro 45 s, the grid 2.3 min, the
README's three experiments 2.3 min).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.test_pipeline import ROOT, project, ran_stages, run  # noqa: F401 (project: the fixture)

pytestmark = pytest.mark.slow

# A 2 x 1 grid in DVC's syntax (each -S a comma list; the queue holds their product). Both
# thresholds drop papers on the sample (its shortest normalized paper has ~2,700 chars) and
# different ones; vocab 768 is not the copy's 1024, so the tokenizer and the model change too.
GRID = ["-S", "normalize.min_chars=4000,6000", "-S", "tokenizer.vocab_size=768"]
GRID_POINTS = [{"normalize.min_chars": 4000}, {"normalize.min_chars": 6000}]
# Rejected by the params loader before normalize reads a paper: the experiment fails.
BAD = ["-n", "bad-density", "-S", "normalize.max_command_density=2"]
QUEUE_TIMEOUT_S = 900


def flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists are values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def at(repo: Path, rev: str, path: str) -> str:
    """A git-tracked file (params.yaml, cache: false reports) as committed at `rev`."""
    return run(repo, "git", "show", f"{rev}:{path}").stdout


def changed_params(repo: Path, rev: str) -> dict[str, Any]:
    head = flat(yaml.safe_load(at(repo, "HEAD", "params.yaml")))
    exp = flat(yaml.safe_load(at(repo, rev, "params.yaml")))
    return {k: exp.get(k) for k in sorted(head.keys() | exp.keys()) if head.get(k) != exp.get(k)}


def experiments(repo: Path) -> dict[str, str]:
    """Experiment name -> its commit, for the experiments of HEAD."""
    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    out = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                out[rev["name"]] = rev["rev"]
    return out


def queue_states(repo: Path) -> dict[str, str]:
    """Name -> Queued/Running/Success/Failed, from `dvc queue status`."""
    out = run(repo, "dvc", "queue", "status").stdout
    rows = (line.split() for line in out.splitlines())
    return {r[1]: r[-1] for r in rows if len(r) >= 4 and re.fullmatch(r"[0-9a-f]{7}", r[0])}


def wait_for_queue(repo: Path) -> dict[str, str]:
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while True:
        states = queue_states(repo)
        if not {"Queued", "Running"} & set(states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"queue still busy after {QUEUE_TIMEOUT_S} s: {states}")
        time.sleep(3)


def steps_logged(repo: Path, rev: str) -> list[int]:
    tsv = at(repo, rev, "reports/pretrain/plots/metrics/train/loss.tsv").splitlines()
    col = tsv[0].split("\t").index("step")
    return [int(float(line.split("\t")[col])) for line in tsv[1:] if line]


def work_units(repo: Path) -> set[str]:
    work = repo / ".arxiv2lm" / "work"
    return {p.relative_to(work).as_posix() for p in work.rglob("*")}


def readme_experiments() -> list[list[str]]:
    """The `dvc exp run` lines of the README's "Everyday use" commands, as argv lists."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Everyday use", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
    return [shlex.split(line) for line in lines if line.startswith("dvc exp run ")]


def test_queued_grid_runs_each_variant_in_its_own_workspace(project: Path) -> None:  # noqa: F811
    head_yield = json.loads((project / "reports/yield.json").read_text())
    head_runs = sorted(p.name for p in (project / "models/pretrain").iterdir())
    units = work_units(project)
    queued = run(project, "dvc", "exp", "run", "--queue", *GRID)
    names = re.findall(r"Queued experiment '([\w-]+)'", queued.stdout)
    assert len(names) == len(GRID_POINTS), queued.stdout
    run(project, "dvc", "exp", "run", "--queue", *BAD)
    try:
        run(project, "dvc", "queue", "start", "-j", "1")
        states = wait_for_queue(project)
    finally:
        run(project, "dvc", "queue", "stop", check=False)

    # the failed experiment is reported, with the loader's message, and did not stop the others
    assert states == {**dict.fromkeys(names, "Success"), "bad-density": "Failed"}, states
    log = run(project, "dvc", "queue", "logs", "bad-density").stdout
    assert "max_command_density 2.0 must be in [0, 1]" in log
    revs = experiments(project)

    kept = {}
    for name in names:
        rev = revs[name]
        changed = changed_params(project, rev)
        assert changed.pop("tokenizer.vocab_size") == 768
        assert changed in GRID_POINTS, (name, changed)
        kept[changed["normalize.min_chars"]] = json.loads(at(project, rev, "reports/yield.json"))
        # a fresh model: its own run from step 0 (log_every 5), not HEAD's resumed at 20
        assert steps_logged(project, rev) == [5, 10, 15, 20], name
        assert "resuming from" not in run(project, "dvc", "queue", "logs", name).stdout
    # distinct results, in the expected order: a higher threshold keeps fewer papers
    assert head_yield["papers_out"] > kept[4000]["papers_out"] > kept[6000]["papers_out"]

    # the main workspace saw none of it: params, work cache, checkpoints
    assert run(project, "git", "status", "--porcelain").stdout == ""
    assert work_units(project) == units
    assert sorted(p.name for p in (project / "models/pretrain").iterdir()) == head_runs


def test_readme_experiments_differ_from_head_in_one_param_each(project: Path) -> None:  # noqa: F811
    commands = readme_experiments()
    assert len(commands) >= 3, commands
    expected = {}
    for argv in commands:
        assert "--temp" in argv or "--queue" in argv, f"runs in the workspace: {argv}"
        name = argv[argv.index("-n") + 1]
        (assignment,) = [argv[i + 1] for i, a in enumerate(argv) if a == "-S"]
        key, value = assignment.split("=", 1)
        expected[name] = {key: yaml.safe_load(value)}
        run(project, *argv)
    revs = experiments(project)
    for name, change in expected.items():
        assert changed_params(project, revs[name]) == change, name
    assert run(project, "git", "status", "--porcelain").stdout == ""  # params.yaml untouched
    head = json.loads((project / "reports/yield.json").read_text())["papers_out"]
    for name, change in expected.items():  # a normalize example must drop papers on the sample
        if any(key.startswith("normalize.") for key in change):
            assert json.loads(at(project, revs[name], "reports/yield.json"))["papers_out"] < head


def test_an_experiment_runs_the_code_of_its_own_commit(project: Path) -> None:  # noqa: F811
    # An edit DVC puts into the experiment (evaluate's card.py: only evaluate and what follows
    # rerun). Its stages must import the clone's src/, not the src/ an editable install points
    # at (the main workspace's, which may have moved on while the queue runs).
    card = project / "src/arxiv2lm/train/card.py"
    original = card.read_text()
    card.write_text(f'{original}\nprint("evaluate: card.py of this experiment")\n')
    try:
        out = run(project, "dvc", "exp", "run", "--temp", "-n", "own-code").stdout
    finally:
        card.write_text(original)
    assert ran_stages(out) >= {"evaluate"} and "pretrain" not in ran_stages(out)
    assert "evaluate: card.py of this experiment" in out
