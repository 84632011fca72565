"""How the data stages grow with the corpus: the bundled sample at 1x, 4x and 16x its size.

    python bench/scale.py                      # sizes 1,4,16 of params.yaml's ingest.n_papers
    python bench/scale.py --sizes 1,2 --workers 2 --set tokenizer.vocab_size=1024

Each size runs ingest to shard in its own copy of one snapshot of the project (the files git
lists but data/ and models/, taken once, so every size runs the same code), with
`ingest.n_papers` times the size. Each stage runs as its dvc.yaml `cmd`, through the shell,
in the copy's root with PYTHONPATH=src (the copy's code); the relative work cache the
commands name starts empty. Per stage:

- CPU s: user + sys of the stage and all its descendants. The bench is a child subreaper
  (Linux prctl), so it also reaps the forkserver the stage never waits for, and through it
  the pool workers (RUSAGE_CHILDREN alone misses every pooled stage's work);
- wall s; peak RSS of the largest single process (a pool of N may hold N times it);
- in papers / in MB from the stage's `stats.json` (`in`), out MB of its dvc.yaml outs.

Growth is CPU s per 1x of sample between sizes (the marginal cost: start-up cancels): linear
when the last step's rate is within 25% of the first's, SUPER(linear) above, sub below, flat
under 0.05 s per 1x. Peak RSS is bounded when the largest
size's is within 50% of the smallest's. On a shared machine compare ratios, not seconds: the
load average is printed at start and end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import adopt_orphans, copy_project, load_average, run_cmd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["ingest", "filter", "validate", "extract", "normalize", "tokenizer", "shard"]
LINEAR_TOL = 0.25  # linear: the last growth rate within 25% of the first
FLAT_S = 0.05  # CPU s per 1x under which a stage does not grow at all
RSS_TOL = 0.5  # bounded: peak RSS at the largest size within 50% of the smallest's
MB = 1e6


@dataclass(frozen=True)
class Row:
    wall_s: float
    cpu_s: float
    rss_mb: float  # peak of the largest single process
    in_papers: int | None
    in_mb: float | None
    out_mb: float


def snapshot(dest: Path) -> None:
    """Copy the project (the files git lists but data/ and models/) once, as bench/e2e.py
    does: every size then runs the same code, even while the working tree is being edited."""
    copy_project(dest)


def set_params(dest: Path, overrides: dict[tuple[str, str], object]) -> None:
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for (section, key), value in overrides.items():
        if key not in params.get(section, {}):
            sys.exit(f"scale: params.yaml has no {section}.{key}")
        params[section][key] = value
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def outs(stage: dict) -> list[str]:
    """The paths of a dvc.yaml stage's outs (plain strings or `{path: options}`).

    >>> outs({"outs": ["data/x", {"data/y": {"persist": True}}]})
    ['data/x', 'data/y']
    """
    return [o if isinstance(o, str) else next(iter(o)) for o in stage.get("outs", [])]


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / MB


def run_stage(name: str, stage: dict, proj: Path, env: dict[str, str]) -> Row:
    """Run one stage's cmd and reap it and every orphan it leaves: its CPU and peak RSS."""
    log = proj / f".scale-{name}.log"
    code, wall_s, cpu_s, rss_kib = run_cmd(stage["cmd"], proj, env, log)
    if code:
        sys.exit(f"scale: stage {name} failed ({code}):\n{log.read_text()[-3000:]}")
    found = [proj / o / "stats.json" for o in outs(stage)]
    stats = next((json.loads(s.read_text()) for s in found if s.is_file()), {})
    inp = stats.get("in", {})
    return Row(
        wall_s=wall_s,
        cpu_s=cpu_s,
        rss_mb=rss_kib * 1024 / MB,
        in_papers=inp.get("papers"),
        in_mb=inp["bytes"] / MB if "bytes" in inp else None,
        out_mb=sum(size_mb(proj / o) for o in outs(stage) if (proj / o).exists()),
    )


def run_size(size: int, proj: Path, stages: dict) -> dict[str, Row]:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(proj / "src"), os.getenv("PYTHONPATH")])),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    rows = {}
    for name in STAGES:
        rows[name] = run_stage(name, stages[name], proj, env)
        print(f"  {size}x {name}: {rows[name].cpu_s:.1f} cpu s", file=sys.stderr, flush=True)
    return rows


def table(size: int, papers: int, rows: dict[str, Row]) -> list[str]:
    """One size's rows: stage, wall, CPU, CPU/wall, peak RSS, input and output."""
    out = [
        f"{size}x ({papers} papers)",
        f"{'stage':<10} {'wall s':>7} {'cpu s':>7} {'cpu/wall':>8} {'rss MB':>7} "
        f"{'in papers':>9} {'in MB':>7} {'out MB':>7}",
    ]
    for name, r in [*rows.items(), ("total", total(rows))]:
        papers_in = "-" if r.in_papers is None else str(r.in_papers)
        mb_in = "-" if r.in_mb is None else f"{r.in_mb:.1f}"
        ratio = r.cpu_s / r.wall_s if r.wall_s else 0.0
        out.append(
            f"{name:<10} {r.wall_s:7.1f} {r.cpu_s:7.1f} {ratio:8.2f} {r.rss_mb:7.0f} "
            f"{papers_in:>9} {mb_in:>7} {r.out_mb:7.1f}"
        )
    return out


def total(rows: dict[str, Row]) -> Row:
    rs = rows.values()
    cpu_s, out_mb = sum(r.cpu_s for r in rs), sum(r.out_mb for r in rs)
    return Row(sum(r.wall_s for r in rs), cpu_s, max(r.rss_mb for r in rs), None, None, out_mb)


def verdict(rates: list[float]) -> str:
    """How the marginal CPU cost changed from the first step between sizes to the last.

    >>> [verdict(r) for r in ([1.0, 1.1], [1.0, 2.0], [1.0, 0.5], [0.01, 0.02], [1.0])]
    ['linear', 'SUPER', 'sub', 'flat', '-']
    """
    if len(rates) < 2:
        return "-"
    if rates[-1] < FLAT_S:
        return "flat"
    change = rates[-1] / rates[0] if rates[0] > 0 else float("inf")
    if change > 1 + LINEAR_TOL:
        return "SUPER"
    return "sub" if change < 1 - LINEAR_TOL else "linear"


def growth(results: dict[int, dict[str, Row]]) -> list[str]:
    """CPU s per 1x of sample between consecutive sizes, and the linear / bounded verdicts.

    >>> r = lambda cpu, rss: {"shard": Row(1.0, cpu, rss, None, None, 0.0)}
    >>> growth({1: r(3.0, 100.0), 4: r(6.0, 110.0), 16: r(18.0, 200.0)})[1]
    'shard                1.00       1.00       1.00 linear  2.00x GROWS'
    """
    sizes = sorted(results)
    steps = list(zip(sizes, sizes[1:], strict=False))
    head = " ".join(f"{f'{a}x->{b}x':>10}" for a, b in steps)
    out = [f"{'cpu s per 1x':<14} {head} {'last/first':>10} {'cpu':<6} {'rss x':>6} rss"]
    first, last = sizes[0], sizes[-1]
    for name in [*STAGES, "total"]:
        rows = {s: total(results[s]) if name == "total" else results[s].get(name) for s in sizes}
        if any(r is None for r in rows.values()):
            continue
        rates = [(rows[b].cpu_s - rows[a].cpu_s) / (b - a) for a, b in steps]
        change = rates[-1] / rates[0] if len(rates) > 1 and rates[0] > 0 else None
        rss = rows[last].rss_mb / rows[first].rss_mb
        bounded = "bounded" if rss <= 1 + RSS_TOL else "GROWS"
        cells = " ".join(f"{x:10.2f}" for x in rates)
        ratio = "-" if change is None else f"{change:.2f}"
        out.append(f"{name:<14} {cells} {ratio:>10} {verdict(rates):<6} {rss:5.2f}x {bounded}")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,4,16", help="multiples of ingest.n_papers")
    ap.add_argument("--workers", type=int, help="workers for every stage that has the key")
    ap.add_argument("--papers", type=int, help="papers at 1x (default: params.yaml's)")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=YAML")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copies")
    args = ap.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    adopt_orphans()
    print(f"load average (1/5/15 min) at start: {load_average()}; {os.cpu_count()} cores")
    tmp = Path(tempfile.mkdtemp(prefix="arxiv2lm-scale-"))
    try:
        results = run_sizes(args, sizes, tmp)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if len(sizes) > 1:
        print("\n".join(growth(results)))
    print(f"load average (1/5/15 min) at end: {load_average()}")


def run_sizes(args: argparse.Namespace, sizes: list[int], tmp: Path) -> dict[int, dict[str, Row]]:
    snapshot(tmp / "snapshot")
    params = yaml.safe_load((tmp / "snapshot/params.yaml").read_text())
    stages = yaml.safe_load((tmp / "snapshot/dvc.yaml").read_text())["stages"]
    base = args.papers or params["ingest"]["n_papers"]
    overrides: dict[tuple[str, str], object] = {}
    if args.workers is not None:
        overrides |= {(s, "workers"): args.workers for s in STAGES if "workers" in params[s]}
    for item in args.set:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        overrides[(section, name)] = yaml.safe_load(value)
    results: dict[int, dict[str, Row]] = {}
    for size in sizes:
        proj = tmp / f"{size}x"
        shutil.copytree(tmp / "snapshot", proj, symlinks=True)
        set_params(proj, overrides | {("ingest", "n_papers"): base * size})
        results[size] = run_size(size, proj, stages)
        print("\n".join(table(size, base * size, results[size])) + "\n", flush=True)
        if not args.keep:
            shutil.rmtree(proj)
    return results


if __name__ == "__main__":
    main()
