"""Print extraction fidelity per real paper, and extract+normalize throughput on one core.

    .venv/bin/python bench/fidelity.py [papers_dir]     # default ../shared/realdata/papers

Columns: main file and rule, inputs resolved/missing, macros defined, leftover non-math
commands per 1000 chars, math segments, title/abstract present, chars out / bytes in, MB/s.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from pathlib import Path

from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.params import ExtractParams
from arxiv2lm.sources.archives import read_folder
from arxiv2lm.text.normalize import normalize_text
from arxiv2lm.text.quality import signals

PARAMS = ExtractParams(
    keep_title=True, keep_abstract=True, keep_appendix=True, keep_bibliography=False,
    max_input_depth=8, max_expanded_mb=8.0, max_macro_expansions=20000, timeout_s=0, workers=1,
)  # fmt: skip
_MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$(?:\\.|[^$\\])+?\$", re.S)
_CMD = re.compile(r"\\[A-Za-z]+")
REPEATS = 3  # timing: best of 3 runs


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/realdata/papers")
    if not root.is_dir():
        raise SystemExit(f"fidelity: {root} is not a folder of papers")
    head = f"{'paper':34} {'main (rule)':32} {'in/miss':>7} {'macros':>6} {'cmd/1k':>6}"
    print(head + f" {'math':>5} {'T/A':>4} {'out/in':>6} {'MB/s':>5}")
    total_bytes, tex_bytes, total_s = 0, 0, 0.0
    leftovers: Counter[str] = Counter()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        paths, contents = read_folder(folder)
        best = float("inf")
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            r = extract_paper(paths, contents, PARAMS)
            text = normalize_text(r.text) if isinstance(r, ExtractResult) else ""
            signals(text)
            best = min(best, time.perf_counter() - t0)
        if not isinstance(r, ExtractResult):
            print(f"{folder.name[:34]:34} DROP {r.reason}: {r.detail}")
            continue
        prose = _MATH.sub(" ", text)
        cmds = _CMD.findall(prose)
        leftovers.update(cmds)
        title = "T" if text.startswith("# ") else "-"
        abstract = "A" if "## Abstract\n\n" in text else "-"
        nbytes = sum(map(len, contents))
        total_bytes += nbytes
        tex_bytes += sum(len(c) for p, c in zip(paths, contents, strict=True) if p.endswith(".tex"))
        total_s += best
        print(
            f"{folder.name[:34]:34} {f'{r.main_file} ({r.main_rule})'[:32]:32} "
            f"{f'{r.inputs_resolved}/{r.inputs_missing}':>7} {r.macros_defined:>6} "
            f"{1000 * len(cmds) / max(1, len(text)):>6.2f} {len(_MATH.findall(text)):>5} "
            f"{title + abstract:>4} {len(text) / nbytes:>6.2f} {nbytes / best / 1e6:>5.2f}"
        )
    if total_s:
        print(
            f"\nextract+normalize, one core: {total_bytes / total_s / 1e6:.2f} MB/s of project"
            f" bytes (.tex/.sty/.cls/.bbl), {tex_bytes / total_s / 1e6:.2f} MB/s of .tex bytes"
        )
        print("most common leftover commands:", leftovers.most_common(12))


if __name__ == "__main__":
    main()
