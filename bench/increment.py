"""What a new month costs: a one-chunk month through shard, beside that chunk's share of a
full run.

    python bench/increment.py                         # 4x the sample, 400 papers per chunk
    python bench/increment.py --papers 2560 --per-chunk 600

Generates the sample (`ingest.n_papers = --papers`, `papers_per_chunk = --per-chunk`) as a
local mirror. FULL: ingest to shard on the whole mirror from an empty work cache. INCREMENT:
in another copy, the mirror without its latest chunk (in time order) (and that chunk's papers in the
metadata) is run, the tokenizer is pinned (`tokenizer.reuse`) and run once more, then the
last chunk arrives and ingest to shard run again: that last run is the increment. CPU s are
counted as bench/e2e.py counts them (each stage and every process it leaves behind). The
chunk's share of the full run is the full run's CPU times the chunk's share of the mirror's
stored bytes (and, printed beside it, of its members); the target is increment <= 1.5x the
share. What each stage computed and reused comes from its `last_run.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import adopt_orphans, load_average  # noqa: E402
from scale import STAGES, Row, run_stage, set_params, snapshot  # noqa: E402

from arxiv2lm.sources.chunks import member_id  # noqa: E402
from arxiv2lm.sources.manifest import MANIFEST, read_manifest, write_manifest  # noqa: E402
from arxiv2lm.sources.sample import SNAPSHOT, generate_sample  # noqa: E402
from arxiv2lm.workcache import chunk_order  # noqa: E402

TARGET = 1.5  # the increment may cost this many times the chunk's share of a full run
UNIT_STAGES = ("validate", "extract", "normalize", "shard")


def mirror(full: Path, out: Path, without_last: bool) -> None:
    """The generated mirror, or the mirror as it was before its latest chunk arrived."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(full, out)
    if without_last:
        entries = read_manifest(full / MANIFEST)
        last = latest(entries)
        with tarfile.open(full / last.filename) as tar:
            gone = {member_id(m.name) for m in tar.getmembers()} - {None}
        (out / last.filename).unlink()
        write_manifest([e for e in entries if e is not last], out / MANIFEST)
        lines = (full / SNAPSHOT).read_text(encoding="utf-8").splitlines(keepends=True)
        kept = "".join(ln for ln in lines if json.loads(ln)["id"] not in gone)
        (out / SNAPSHOT).write_text(kept, encoding="utf-8")


def latest(entries: list) -> object:
    """The newest chunk in time order (the manifest lists 9901 after 2301)."""
    return max(entries, key=lambda e: chunk_order(Path(e.filename).stem))


def run_all(proj: Path, stages: dict) -> dict[str, Row]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(proj / "src"), os.getenv("PYTHONPATH")])),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    return {name: run_stage(name, stages[name], proj, env) for name in STAGES}


def did(proj: Path) -> str:
    """What the unit stages computed / reused in their last run."""
    out = []
    for name in UNIT_STAGES:
        run = json.loads((proj / ".arxiv2lm/work" / name / "last_run.json").read_text())
        out.append(f"{name} {run['units_computed']}/{run['units_reused']}")
    return ", ".join(out) + " (computed/reused)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--papers", type=int, default=1280, help="papers in the metadata")
    ap.add_argument("--per-chunk", type=int, default=400, help="members per chunk")
    ap.add_argument("--workers", type=int, default=0)
    args = ap.parse_args(argv)
    adopt_orphans()
    print(f"load average (1/5/15 min) at start: {load_average()}; {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="arxiv2lm-increment-"))
    try:
        snapshot(tmp / "snapshot")
        stages = yaml.safe_load((tmp / "snapshot/dvc.yaml").read_text())["stages"]
        full = tmp / "generated"
        generate_sample(full, 20260101, args.papers, args.per_chunk)
        entries = read_manifest(full / MANIFEST)
        last = latest(entries)
        byte_share = last.size / sum(e.size for e in entries)
        member_share = last.num_items / sum(e.num_items for e in entries)

        def project(name: str, without_last: bool) -> Path:
            proj = tmp / name
            shutil.copytree(tmp / "snapshot", proj)
            mirror(full, tmp / f"mirror-{name}", without_last)
            src = tmp / f"mirror-{name}"
            workers = {(s, "workers"): args.workers for s in UNIT_STAGES}
            set_params(proj, workers | {
                ("ingest", "source"): "local",
                ("ingest", "local_dir"): str(src),
                ("ingest", "snapshot"): str(src / SNAPSHOT),
            })  # fmt: skip
            return proj

        proj = project("full", without_last=False)
        whole = run_all(proj, stages)
        full_cpu = sum(r.cpu_s for r in whole.values())
        print(f"full run: {len(entries)} chunks, {full_cpu:.1f} CPU s; {did(proj)}")

        proj = project("increment", without_last=True)
        run_all(proj, stages)
        pinned = tmp / "pinned.model"
        shutil.copy(proj / "data/tokenizer/tokenizer.model", pinned)
        set_params(proj, {("tokenizer", "reuse"): str(pinned)})
        run_all(proj, stages)
        mirror(full, tmp / "mirror-increment", without_last=False)  # the month arrives
        inc = run_all(proj, stages)
        inc_cpu = sum(r.cpu_s for r in inc.values())
        print(
            f"increment: chunk {Path(last.filename).name} ({last.num_items} members, "
            f"{byte_share:.1%} of the bytes, {member_share:.1%} of the members); {did(proj)}"
        )
        print(f"{'stage':<10} {'full cpu s':>10} {'share cpu s':>11} {'increment':>10}")
        for name in STAGES:
            f, i = whole[name].cpu_s, inc[name].cpu_s
            print(f"{name:<10} {f:10.2f} {f * byte_share:11.2f} {i:10.2f}")
        share = full_cpu * byte_share
        ratio = inc_cpu / share
        verdict = "meets" if ratio <= TARGET else "MISSES"
        print(
            f"{'total':<10} {full_cpu:10.2f} {share:11.2f} {inc_cpu:10.2f}  -> "
            f"{ratio:.2f}x the chunk's share ({verdict} the {TARGET}x target; by members "
            f"{inc_cpu / (full_cpu * member_share):.2f}x)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"load average (1/5/15 min) at end: {load_average()}")


if __name__ == "__main__":
    main()
