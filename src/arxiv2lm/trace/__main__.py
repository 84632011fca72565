"""Where did my paper go? `python -m arxiv2lm.trace <arxiv id> [--data DIR] [--json]`.

Reads the stage outputs under `--data` (default `data`, as `dvc.yaml` lays them out) and
prints, stage by stage, what happened to one paper: its metadata row and the filter's
decision, its chunk and member, validate's class and files, the main file and the rule that
chose it, includes and macros, normalize's signals, its split, offsets and tokens; or the
stage, reason and detail that dropped it. Exit status: 0 when the paper is found (kept or
dropped), 1 when the metadata does not know the id, 2 for an argument that is not an arXiv
id or a data folder the pipeline has not filled.

    $ python -m arxiv2lm.trace 2301.00006
    2301.00006: dropped at validate (pdf_only)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from arxiv2lm.io import read_json
from arxiv2lm.trace.paper import PaperId, StageTrace, Trace, TraceError, parse_id, trace_paper

_SHOWN_FILES = 8  # of a project's files listed in the text report
_SHOWN_CHARS = 110  # of a value (title, abstract, detail) on its line; --json has it all


def headline(trace: Trace) -> str:
    """One line: the verdict, with the split and token range of a paper that made it."""
    v = trace.verdict
    if v["status"] == "dropped":
        return f"{trace.id}: dropped at {v['stage']} ({v['reason']})"
    if v["status"] == "missing":
        return f"{trace.id}: lost after {_before(trace, v['stage'])} (not in {v['stage']})"
    if v["stage"] == "shard":
        f = trace.stages[-1].facts
        start = f["offset_in_split"]
        return (
            f"{trace.id}: kept, {f['split']} split, tokens {start:,}..{start + f['tokens']:,} "
            f"of the {f['split']} stream (unit {f['unit']})"
        )
    return f"{trace.id}: kept through {v['stage']} (later stages not run)"


def _before(trace: Trace, stage: str) -> str:
    names = [s.stage for s in trace.stages]
    return names[names.index(stage) - 1]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        shown = ", ".join(map(str, value[:_SHOWN_FILES]))
        return shown + (f", ... ({len(value)} in all)" if len(value) > _SHOWN_FILES else "")
    # archive member names and metadata are outside input: no control character (a
    # terminal escape) reaches the screen
    text = "".join(c if c.isprintable() else "?" for c in " ".join(str(value).split()))
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 4].rstrip() + " ..."
    return text if text else "-"


def _section(step: StageTrace) -> list[str]:
    head = step.status + (f": {step.reason}" if step.reason else "")
    lines = [f"{step.stage:<10} {head}"]
    if step.detail:
        lines.append(f"  {'detail':<18} {_value(step.detail)}")
    lines += [f"  {k.replace('_', ' '):<18} {_value(v)}" for k, v in step.facts.items()]
    return lines


def render(trace: Trace, elapsed_s: float) -> str:
    """The sectioned text report."""
    lines = [headline(trace), ""]
    for step in trace.stages:
        lines += _section(step)
    lines += [f"note: {n}" for n in trace.notes]
    lines.append(f"(traced in {elapsed_s:.2f} s)")
    return "\n".join(lines)


def as_json(trace: Trace, elapsed_s: float) -> dict[str, Any]:
    return {
        "query": trace.paper.query,
        "id": trace.id,
        "verdict": trace.verdict,
        "stages": [dataclasses.asdict(s) for s in trace.stages],
        "notes": trace.notes,
        "elapsed_s": round(elapsed_s, 4),
    }


def _unknown(data: Path, paper: PaperId) -> str:
    msg = f"{paper.base}: not in the metadata (neither kept nor dropped by the filter)"
    stats = data / "filter" / "stats.json"
    unread = read_json(stats).get("dropped", {}).get("bad_metadata", {}) if stats.exists() else {}
    if unread.get("papers"):
        msg += f"; {unread['papers']} metadata lines could not be read (bad_metadata)"
    return msg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m arxiv2lm.trace", description=__doc__.splitlines()[0]
    )
    ap.add_argument("arxiv_id", help="e.g. 2301.01234, 2301.01234v2, math/0601001")
    ap.add_argument("--data", type=Path, default=Path("data"), help="the stage outputs' folder")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        paper = parse_id(args.arxiv_id)
        trace = trace_paper(args.data, paper)
    except TraceError as err:
        print(f"trace: {err}", file=sys.stderr)
        return 2
    if trace is None:
        print(f"trace: {_unknown(args.data, paper)}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps(as_json(trace, elapsed), indent=2, default=str))
    else:
        print(render(trace, elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
