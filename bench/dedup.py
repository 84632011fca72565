"""Print the near-duplicate pass's CPU time and memory per million documents.

    .venv/bin/python bench/dedup.py [--docs 200000] [--planted 200] [--seed 7]

The normalize stage's global pass (`text.corpus`) is serial: per paper, `NearDupIndex.find`
its MinHash signature and, when kept, `add` it. This feeds `--docs` random signatures with
the project's `minhash_perm` and `near_dup_threshold` (params.yaml), as the pass reads them
(`np.frombuffer` of each row's bytes), and plants `--planted` versions of earlier papers
(10% of the signature changed, estimated Jaccard 0.9, all to be found) and as many papers
sharing half of an earlier one's signature (0.5, none to be found). CPU seconds are
`time.process_time` of the loop; memory is the growth of the resident set (VmRSS) over it.
Both are linear in kept papers, and are scaled to a million.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from arxiv2lm.params import load_params
from arxiv2lm.text.minhash import NearDupIndex, choose_bands

PARAMS_YAML = Path(__file__).resolve().parent.parent / "params.yaml"


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("dedup: no VmRSS in /proc/self/status (Linux only)")


def signatures(docs: int, planted: int, perm: int, seed: int) -> tuple[np.ndarray, dict[int, int]]:
    """(docs, perm) signatures, and planted row -> the earlier row it copies (near ones: 10%
    changed; far ones, marked by -1 - source: 50% changed)."""
    rng = np.random.default_rng(seed)
    # EMPTY (0xFFFFFFFF) marks a text without words: random values stay below it
    sigs = rng.integers(0, 0xFFFFFFFF, size=(docs, perm), dtype=np.uint32)
    plants: dict[int, int] = {}
    targets = rng.choice(np.arange(docs // 10, docs), size=2 * planted, replace=False)
    for k, row in enumerate(targets.tolist()):
        src = int(rng.integers(0, row))
        share = 0.1 if k < planted else 0.5
        changed = rng.choice(perm, size=round(share * perm), replace=False)
        sigs[row] = sigs[src]
        sigs[row, changed] = rng.integers(0, 0xFFFFFFFF, size=len(changed), dtype=np.uint32)
        plants[row] = src if k < planted else -1 - src
    return sigs.astype("<u4"), plants


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=200_000)
    ap.add_argument("--planted", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    params = load_params("normalize", PARAMS_YAML)
    perm, threshold = params.minhash_perm, params.near_dup_threshold
    sigs, plants = signatures(args.docs, args.planted, perm, args.seed)
    ids = [f"doc{i:08d}" for i in range(args.docs)]

    index = NearDupIndex(perm, threshold)
    rss0, cpu0 = rss_bytes(), time.process_time()
    found: dict[int, str] = {}
    for i, doc_id in enumerate(ids):
        sig = np.frombuffer(sigs[i].tobytes(), dtype="<u4")  # a fresh row, as read from Parquet
        match = index.find(sig)
        if match is None:
            index.add(doc_id, sig)
        else:
            found[i] = match[0]
    cpu_s, grown = time.process_time() - cpu0, rss_bytes() - rss0

    near = {r: s for r, s in plants.items() if s >= 0}
    hits = sum(found.get(r) == ids[s] for r, s in near.items())
    false = len(found) - hits  # the far plants and random papers must not match
    kept = args.docs - len(found)
    bands, band_rows = choose_bands(perm, threshold)
    scale = 1e6 / args.docs
    print(f"perm {perm}, threshold {threshold}: {bands} bands x {band_rows} rows")
    print(f"{args.docs} papers, {kept} kept; planted versions found {hits}/{len(near)}, "
          f"false matches {false} ({len(plants) - len(near)} half-copies planted)")  # fmt: skip
    print(f"CPU {cpu_s:.2f} s = {cpu_s * scale:.1f} s per million papers "
          f"({1e6 * cpu_s / args.docs:.0f} us each)")  # fmt: skip
    print(f"memory +{grown / 2**20:.0f} MiB = {grown * scale / 2**30:.2f} GiB per million papers "
          f"({grown / kept:.0f} bytes per kept paper)")  # fmt: skip
    if hits < len(near) or false:
        raise SystemExit("dedup: the index missed a planted version or matched a non-duplicate")


if __name__ == "__main__":
    main()
