"""A synthetic arXiv mirror: Kaggle metadata, source chunks and a manifest, from a seed.

>>> summary = generate_sample(Path("data/ingest"), 20260101, 320, 80)   # doctest: +SKIP
>>> summary["counts"]["pdf_only"]   # doctest: +SKIP
10

The output is byte-identical for a given seed (gzip and tar mtimes are fixed, members are
sorted), and covers the cases the pipeline must handle: tar.gz projects, single gzipped .tex,
PDF-only, corrupt gzip, Latin-1 sources, withdrawn stubs, sources without \\documentclass,
off-domain categories, metadata without a source, and a duplicate body under a second id.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
import textwrap
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from arxiv2lm.sources.manifest import (
    MANIFEST,
    SNAPSHOT,
    ChunkEntry,
    member_name,
    write_manifest,
    yymm_order,
)
from arxiv2lm.sources.sample_tex import PDF, Paper, make_paper

# share of n_papers per special kind (at least one each); the rest are normal papers
SPECIAL = {
    "pdf_only": 0.03,
    "bad_gzip": 0.01,
    "latin1": 0.02,
    "withdrawn": 0.01,
    "no_documentclass": 0.02,
    "off_domain": 0.05,
    "missing_source": 0.08,
    "duplicate": 0.015,
}
PROJECT_SHARE = 0.6  # normal papers shipped as tar.gz projects; the rest as one .tex
# (yymm, weight): 9901 and 0604 use old-style ids, 1107 4-digit, later 5-digit numbers;
# few months, so that the default 320 papers fill more than one 80-member chunk a month.
# A month whose ids run out passes its next papers on to the month after (`_assign`).
MONTHS = [("9901", 1.0), ("0604", 0.5), ("1107", 1.0), ("2105", 1.5), ("2301", 2.0)]
MAX_CHUNKS = 999  # a month's chunks are numbered NNN in arXiv_src_YYMM_NNN.tar
CATEGORIES = {
    "math": ["math.AG", "math.NT", "math.PR", "math.AP", "math.CO", "math-ph"],
    "cs": ["cs.LG", "cs.DS", "cs.CL", "cs.DC", "stat.ML"],
    "physics": [
        "hep-th",
        "hep-ph",
        "cond-mat.str-el",
        "quant-ph",
        "astro-ph.CO",
        "gr-qc",
        "physics.flu-dyn",
    ],
    "off": ["q-bio.NC", "q-bio.PE", "econ.EM", "econ.TH", "q-fin.ST", "q-fin.PR"],
}
OLD_ARCHIVES = {
    "math": ["math", "math-ph"],
    "cs": ["cs"],
    "physics": ["hep-th", "cond-mat", "quant-ph", "astro-ph", "gr-qc"],
    "off": ["q-bio"],
}
LICENSES = [None] * 6 + [
    "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
    "http://creativecommons.org/licenses/by/4.0/",
]
WITHDRAWN = "This paper has been withdrawn by the author"
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass
class _Plan:
    id: str
    yymm: str
    domain: str  # math | cs | physics: the text's vocabulary
    kind: str
    categories: str
    text_id: str  # whose text: itself, or the original of a duplicate


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _tar(files: dict[str, bytes], mtime: int) -> bytes:
    """A tar of `files` in sorted order with fixed metadata, so bytes depend on content only."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), mtime, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _month(yymm: str) -> datetime:
    yyyymm = yymm_order(yymm)
    return datetime(int(yyyymm[:4]), int(yyyymm[4:]), 1, tzinfo=UTC)


def _old_style(yymm: str) -> bool:
    """arXiv switched from `archive/YYMMNNN` to `YYMM.NNNN` ids in April 2007."""
    return yymm_order(yymm) < "200704"


def _assign(
    counters: dict[tuple[str, str], int], yymm: str, archive: str, step: int
) -> tuple[str, str]:
    """The month and id of a paper drawn for `yymm`, ids climbing by `step` per month (and
    old-style archive); a month out of ids (999, 9999 before 2015, 99999) passes it on.

    >>> _assign({("9912", "math"): 998}, "9912", "math", 3)
    ('0001', 'math/0001003')
    """
    while True:
        old = _old_style(yymm)
        digits = 3 if old else 5 if yymm_order(yymm) >= "201501" else 4
        key = (yymm, archive if old else "")
        number = counters.get(key, 0) + step
        if number < 10**digits:
            counters[key] = number
            return yymm, f"{archive}/{yymm}{number:03d}" if old else f"{yymm}.{number:0{digits}d}"
        yymm = f"{_month(yymm) + timedelta(days=31):%y%m}"


def _rfc(t: datetime) -> str:
    return f"{DAYS[t.weekday()]}, {t.day} {MONS[t.month - 1]} {t.year} {t:%H:%M:%S} GMT"


def _plan(rng: random.Random, n: int) -> list[_Plan]:
    counts = {k: max(1, round(share * n)) for k, share in SPECIAL.items()}
    if n < 2 * sum(counts.values()):
        raise ValueError(f"n_papers {n} is too small for every sample kind (need >= 40)")
    kinds = [k for k, c in counts.items() for _ in range(c)]
    kinds += ["normal"] * (n - len(kinds))
    rng.shuffle(kinds)
    months = rng.choices([m for m, _ in MONTHS], [w for _, w in MONTHS], k=n)
    plans, counters = [], {}
    for i, (kind, yymm) in enumerate(zip(kinds, months, strict=True)):
        domain = ["math", "cs", "physics"][i % 3]
        group = "off" if kind == "off_domain" else domain
        archive = rng.choice(OLD_ARCHIVES[group]) if _old_style(yymm) else ""
        yymm, arxiv_id = _assign(counters, yymm, archive, rng.randint(1, 8))
        cats = rng.sample(CATEGORIES[group], rng.choice([1, 1, 2]))
        if "/" in arxiv_id and group != "off":  # old-style archive is the primary category
            primary = next((c for c in CATEGORIES[group] if c.split(".")[0] == archive), archive)
            cats = [primary] + [c for c in cats if c != primary][:1]
        plans.append(_Plan(arxiv_id, yymm, domain, kind, " ".join(cats), arxiv_id))
    normal = [p for p in plans if p.kind == "normal"]
    dups = [p for p in plans if p.kind == "duplicate"]
    for p, orig in zip(dups, rng.sample(normal, len(dups)), strict=True):
        p.domain, p.categories, p.text_id = orig.domain, orig.categories, orig.id
    return plans


def _paper(seed: int, plan: _Plan) -> tuple[Paper, str]:
    """The paper text (from the seed and `text_id` only) and its shipping layout."""
    prng = random.Random(f"{seed}:{plan.text_id}")
    layout = "project" if prng.random() < PROJECT_SHARE else "single"
    if plan.kind == "no_documentclass":
        layout = "plain" if prng.random() < 0.5 else "body"
    latin1 = plan.kind == "latin1"
    return make_paper(prng, plan.domain, layout, latin1=latin1), layout


def _metadata(seed: int, plan: _Plan, paper: Paper) -> dict[str, Any]:
    r = random.Random(f"{seed}:meta:{plan.id}")
    v1 = _month(plan.yymm) + timedelta(days=r.randint(0, 27), seconds=r.randint(0, 86399))
    versions = [{"version": "v1", "created": _rfc(v1)}]
    last = v1
    for v in range(2, r.choice([2, 2, 3, 4]) + (plan.kind == "withdrawn")):
        last += timedelta(days=r.randint(5, 300), seconds=r.randint(0, 86399))
        versions.append({"version": f"v{v}", "created": _rfc(last)})
    names = [f"{f[0]}. {t}" for f, t, _ in paper.authors]
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    comments = (
        WITHDRAWN
        if plan.kind == "withdrawn"
        else r.choice(
            [None, f"{r.randint(6, 40)} pages, {r.randint(1, 9)} figures", "published version"]
        )
    )
    return {
        "id": plan.id,
        "submitter": f"{paper.authors[0][0]} {paper.authors[0][2]}",
        "authors": authors,
        "title": "\n  ".join(textwrap.wrap(paper.title, 70)),
        "comments": comments,
        "journal-ref": None,
        "doi": f"10.1000/sample.{plan.id.replace('/', '.')}" if r.random() < 0.2 else None,
        "report-no": None,
        "categories": plan.categories,
        "license": r.choice(LICENSES),
        "abstract": "  " + "\n".join(textwrap.wrap(paper.abstract, 79)) + "\n",
        "versions": versions,
        "update_date": f"{last:%Y-%m-%d}",
        "authors_parsed": [[u, f[0] + ".", ""] for f, _, u in paper.authors],
    }


def _member(plan: _Plan, paper: Paper, layout: str, rng: random.Random) -> tuple[str, bytes]:
    stem = f"{plan.yymm}/{member_name(plan.id)}"
    if plan.kind == "pdf_only":
        return f"{stem}.pdf", PDF + paper.abstract.encode() + b"\n%%EOF\n"
    if plan.kind == "withdrawn":
        return f"{stem}.gz", _gz(f"{WITHDRAWN}s.\n".encode())
    files = dict(paper.files)
    if plan.kind == "duplicate":  # same body, only a comment differs in the main file
        files[paper.main] = f"% resubmitted as {plan.id}\n".encode() + files[paper.main]
    if layout == "project":
        data = _gz(_tar(files, mtime=int(_month(plan.yymm).timestamp())))
    else:
        data = _gz(files[paper.main])
    if plan.kind == "bad_gzip":  # half a stream, or a gzip magic followed by junk
        data = data[: len(data) // 2] if rng.random() < 0.5 else data[:10] + b"\x00junk" * 40
    return f"{stem}.gz", data


def generate_sample(out_dir: Path, seed: int, n_papers: int, papers_per_chunk: int) -> dict:
    """Write metadata/, src/ chunks, the manifest and sample.json under `out_dir`."""
    if papers_per_chunk < 1:
        raise ValueError(f"papers_per_chunk {papers_per_chunk} must be >= 1")
    rng = random.Random(seed)
    plans = _plan(rng, n_papers)
    plans.sort(key=lambda p: (p.yymm, member_name(p.id)))
    most = max(Counter(p.yymm for p in plans if p.kind != "missing_source").values())
    if most > MAX_CHUNKS * papers_per_chunk:
        raise ValueError(
            f"papers_per_chunk {papers_per_chunk} puts a month's {most} members in over "
            f"{MAX_CHUNKS} chunks; raise it"
        )
    ids: dict[str, list[str]] = {}
    members: dict[str, dict[str, bytes]] = {}
    (out_dir / SNAPSHOT).parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir / SNAPSHOT, "w", encoding="utf-8", newline="\n") as meta:
        for plan in plans:
            paper, layout = _paper(seed, plan)
            meta.write(json.dumps(_metadata(seed, plan, paper), separators=(",", ":")) + "\n")
            kind = f"tex_{layout}" if plan.kind == "normal" else plan.kind
            ids.setdefault(kind, []).append(plan.id)
            if plan.kind == "missing_source":
                continue
            name, data = _member(plan, paper, layout, rng)
            members.setdefault(plan.yymm, {})[name] = data
            if plan.kind not in ("pdf_only", "withdrawn", "bad_gzip"):
                for feat in paper.features:  # what the shipped tar.gz projects contain
                    ids.setdefault(f"with_{feat}", []).append(plan.id)
    entries = _write_chunks(out_dir, members, papers_per_chunk)
    write_manifest(entries, out_dir / MANIFEST, timestamp="Thu Jan  1 00:00:00 2026")
    summary = {
        "seed": seed,
        "papers": n_papers,
        "chunks": len(entries),
        "members": sum(e.num_items for e in entries),
        "counts": {k: len(v) for k, v in sorted(ids.items())},
        "domains": {d: sum(p.domain == d for p in plans) for d in ("math", "cs", "physics")},
        "duplicates": [[p.text_id, p.id] for p in plans if p.kind == "duplicate"],
        "ids": {k: v for k, v in sorted(ids.items())},
    }
    (out_dir / "sample.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _write_chunks(
    out_dir: Path, members: dict[str, dict[str, bytes]], per_chunk: int
) -> list[ChunkEntry]:
    entries = []
    for yymm in sorted(members):
        names = sorted(members[yymm])
        for seq, start in enumerate(range(0, len(names), per_chunk), start=1):
            part = {n: members[yymm][n] for n in names[start : start + per_chunk]}
            stamp = _month(yymm) + timedelta(days=40, hours=seq)
            data = _tar(part, mtime=int(stamp.timestamp()))
            filename = f"src/arXiv_src_{yymm}_{seq:03d}.tar"
            (out_dir / filename).parent.mkdir(parents=True, exist_ok=True)
            (out_dir / filename).write_bytes(data)
            content = hashlib.md5(b"".join(part[n] for n in sorted(part))).hexdigest()
            stems = [n.split("/")[1].rsplit(".", 1)[0] for n in sorted(part)]
            entries.append(
                ChunkEntry(
                    filename=filename,
                    md5sum=hashlib.md5(data).hexdigest(),
                    content_md5sum=content,
                    size=len(data),
                    num_items=len(part),
                    first_item=stems[0],
                    last_item=stems[-1],
                    yymm=yymm,
                    seq_num=seq,
                    timestamp=f"{stamp:%Y-%m-%d %H:%M:%S}",
                )
            )
    return entries
