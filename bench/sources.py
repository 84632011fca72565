"""Validate throughput, peak memory and incremental cost on a ~500 MB arXiv-like corpus.

    python bench/sources.py [--mb 500] [--chunks 5]

Builds (once, under /tmp) chunks of gzipped tar projects in realistic proportions: TeX of
5-40 KB per paper beside incompressible figures of lognormal size (median ~120 KB), a few
PDF-only members; then runs the validate core with 1 and 2 workers, a rerun with one new
chunk against the work cache, and prints MB/s of chunk bytes and peak RSS per process.
Targets: >= 100 MB/s per core, peak RSS < 1 GB, incremental ~ one chunk's share.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from arxiv2lm.sources.manifest import ChunkEntry, md5_file, write_manifest

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/arxiv2lm-bench-sources")
TEX = (
    "\\section{Results}\nWe prove that $\\|f\\|_{L^2} \\le C$ for every $f$ in the class. "
    "\\begin{equation}\\int_0^1 f(x)\\,dx = \\sum_{n} a_n\\end{equation}\n"
)


def _member(rng: random.Random, arxiv_id: str) -> tuple[str, bytes]:
    if rng.random() < 0.04:
        return f"{arxiv_id[:4]}/{arxiv_id}.pdf", b"%PDF-1.5\n" + rng.randbytes(200_000)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        files = {
            "main.tex": (
                "\\documentclass{article}\\begin{document}\n"
                + TEX * rng.randint(30, 250)
                + "\\end{document}\n"
            ).encode()
        }
        for k in range(rng.randint(1, 4)):
            files[f"fig{k}.png"] = rng.randbytes(int(rng.lognormvariate(11.0, 0.8)))
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return f"{arxiv_id[:4]}/{arxiv_id}.gz", gzip.compress(buf.getvalue(), compresslevel=1, mtime=0)


def build(total_mb: int, n_chunks: int) -> None:
    """Chunks `arXiv_src_YYMM_001.tar` from 2301 on, a month each (n_chunks of them, the last
    one held back); months are real months (validate refuses 2313)."""
    if (WORK / "done.json").exists() and json.loads((WORK / "done.json").read_text()) == [
        total_mb,
        n_chunks,
    ]:
        return
    shutil.rmtree(WORK, ignore_errors=True)
    (WORK / "mirror" / "src").mkdir(parents=True)
    rng = random.Random(0)
    entries, ids = [], []
    for c in range(n_chunks):
        yymm = f"{23 + c // 12:02d}{c % 12 + 1:02d}"
        path = WORK / "mirror" / "src" / f"arXiv_src_{yymm}_001.tar"
        n = 0
        with tarfile.open(path, "w") as tar:
            while path.stat().st_size < total_mb * (1 << 20) / n_chunks:
                arxiv_id = f"{yymm}.{n + 1:05d}"
                name, data = _member(rng, arxiv_id)
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                ids.append(arxiv_id)
                n += 1
                tar.fileobj.flush()
        entries.append(
            ChunkEntry(
                f"src/{path.name}", md5_file(path), "", path.stat().st_size, n, "", "", yymm, 1, "t"
            )
        )
    (WORK / "filter").mkdir()
    pq.write_table(
        pa.table({"id": ids, "domain": ["math"] * len(ids)}), WORK / "filter" / "papers.parquet"
    )
    (WORK / "entries.json").write_text(json.dumps([e.__dict__ for e in entries]))
    (WORK / "done.json").write_text(json.dumps([total_mb, n_chunks]))


def _manifest(n: int) -> None:
    entries = [ChunkEntry(**e) for e in json.loads((WORK / "entries.json").read_text())[:n]]
    write_manifest(entries, WORK / "mirror" / "src" / "arXiv_src_manifest.xml")


def run_validate(workers: int, cache: str, n_chunks: int) -> tuple[float, float, dict]:
    """Run the validate stage in a child process; return seconds, peak RSS MB, stats."""
    _manifest(n_chunks)
    params = (ROOT / "params.yaml").read_text().replace("  workers: 0", f"  workers: {workers}")
    (WORK / "params.yaml").write_text(params)
    shutil.rmtree(WORK / "out", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    cmd = [sys.executable, str(ROOT / "stages/validate.py"), "mirror", "filter", "out"]
    if cache:
        cmd += ["--work-cache", cache]
    subprocess.run(cmd, cwd=WORK, check=True, capture_output=True)
    secs = time.perf_counter() - t0
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    stats = json.loads((WORK / "out" / "stats.json").read_text())
    if cache:
        stats |= json.loads((WORK / cache / "validate" / "last_run.json").read_text())
    return secs, peak, stats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--chunks", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    build(args.mb, args.chunks)
    print(
        f"corpus: {args.mb} MB in {args.chunks} chunks (built in {time.perf_counter() - t0:.0f} s)"
    )
    sizes = [e["size"] for e in json.loads((WORK / "entries.json").read_text())]
    all_mb = sum(sizes) / 2**20
    print(f"machine: {os.cpu_count()} cores; chunk bytes {all_mb:.0f} MB")
    for workers in (1, 2):
        secs, peak, stats = run_validate(workers, "", args.chunks)
        print(
            f"validate, {workers} worker(s): {secs:6.1f} s  {all_mb / secs:6.1f} MB/s  "
            f"({all_mb / secs / workers:.1f} MB/s per core)  peak RSS {peak:.0f} MB  "
            f"kept {stats['kept']['papers']}"
        )
    shutil.rmtree(WORK / "work", ignore_errors=True)
    full, _, _ = run_validate(2, "work", args.chunks - 1)
    inc, _, stats = run_validate(2, "work", args.chunks)
    share = sizes[-1] / sum(sizes)
    print(
        f"full run of {args.chunks - 1} chunks: {full:.1f} s; after adding one chunk "
        f"({share:.0%} of the bytes): {inc:.1f} s ({stats['units_computed']} unit computed, "
        f"{stats['units_reused']} reused)"
    )


if __name__ == "__main__":
    main()
