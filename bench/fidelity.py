"""Print extraction fidelity per real paper, and the data stages' throughput on one core.

    .venv/bin/python bench/fidelity.py [papers_dir] [--sample N] [--profile]

`papers_dir` defaults to ../shared/realdata/papers (one unpacked project per folder).

Each paper folder is packed as arXiv ships it (a gzipped tar of its files, untimed), then
timed doing exactly the per-paper work of the stages: validate's `classify_member` (gunzip,
tar, keep TeX files), extract's `extract_paper`, normalize's `not_text`, `normalize_doc`
(NFC, whitespace, quality signals, digest) and MinHash `signature`. Throughput is per CPU
second (`time.process_time`, best of REPEATS) and per MB of *reachable* TeX: the bytes of
the main file and of the files its `\\input`/`\\include`/`\\subfile`/`\\import` chain reads,
not every .sty/.cls/.bbl/decoy .tex shipped beside it. `--sample N` adds N papers of the
bundled synthetic sample (`sources.sample_tex`). `--profile` also prints the CPU seconds of
each phase (gunzip+tar, extract, normalize with `not_text`, MinHash) in each paper's best run.

Columns: main file, the rule that chose it and whether it is SOURCES.tsv's `main_tex` (`ok`
or `WRONG`); inputs resolved/missing; macros defined; `own`: uses of the paper's own macros
left in the text (every `\\newcommand`, `\\def`, `\\let`, `\\NewDocumentCommand`,
`\\DeclarePairedDelimiter`, `\\DeclareMathOperator`, ... name of the reachable TeX and of the
local .sty/.cls files the document loads, and acronym keys still in `\\ac{..}`/`\\gls{..}`),
counted outside verbatim;
`cond`: `\\if..`/`\\else`/`\\fi`/`\\or` tokens left; `cmd/1k`: control sequences per 1000
chars outside math and verbatim; T/A: title and abstract (`T`/`A` kept, `-` the source has
none, `!` the source has one and the text lost it); reachable KB; chars out per reachable
byte; MB/s of reachable TeX per core. A summary line checks the targets (TARGET_*).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import os
import random
import re
import tarfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from arxiv2lm.latex import comments, definitions, encoding, includes, opaque, packages
from arxiv2lm.latex.comments import VERBATIM_ENVS
from arxiv2lm.latex.project import COMMENTED_EXTS, ExtractResult, extract_paper
from arxiv2lm.params import load_params
from arxiv2lm.sources.archives import Caps, Paper, classify_member
from arxiv2lm.sources.sample_tex import make_paper
from arxiv2lm.text.minhash import signature
from arxiv2lm.text.nontext import not_text
from arxiv2lm.text.quality import normalize_doc

PARAMS_YAML = Path(__file__).resolve().parent.parent / "params.yaml"
REPEATS = 3  # timing: best of 3 runs
PHASES = ("gunzip", "extract", "normalize", "MinHash")  # `--profile`: classify_member, ...
TARGET_OWN_ZERO_SHARE = 0.95  # papers with no own macro left
TARGET_CMD_PER_1K = 0.5  # mean leftover non-math commands per 1000 chars outside math
TARGET_CONDITIONALS = 0  # conditional tokens left, all papers together

# commands LaTeX (or a package) has, whatever a class redefines: the converter's and
# the structural ones (`\\begin`, `\\section`, `\\text`)
STANDARD = opaque.KNOWN | definitions.PROTECTED
_MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$(?:\\.|[^$\\])+?\$", re.S)
_CMD = re.compile(r"\\[A-Za-z]+")
_CS_NAME = re.compile(r"\\([A-Za-z@]+)")
_DEFINERS = [
    r"\\(?:re)?newcommand\*?",
    r"\\providecommand\*?",
    r"\\DeclareRobustCommand\*?",
    r"\\(?:New|Renew|Provide|Declare)(?:Expandable)?DocumentCommand",
    r"\\DeclarePairedDelimiter(?:XPP|X)?",
    r"\\DeclareMathOperator\*?",
    r"\\[gex]?def",
    r"\\let",
]
_DEFINITION = re.compile(r"(?:" + "|".join(_DEFINERS) + r")\s*\{?\s*\\([A-Za-z@]+)")
# A paper's own definer: a macro whose body starts by defining its first argument
# (`\newcommand\newmeta[2]{\def#1##1{..}}`, then `\newmeta\ep{e'}` defines `\ep`).
_OWN_DEFINER = re.compile(
    r"(?:" + "|".join(_DEFINERS) + r")\s*\{?\s*\\([A-Za-z@]+)\}?\s*(?:\[\d\]\s*)?"
    r"\{\s*(?:" + "|".join(_DEFINERS) + r")\s*\{?\s*#1"
)
_ACRONYM_DEFINERS = [
    r"\\acro",  # acronym package
    r"\\acrodef",
    r"\\DeclareAcronym",  # acro package
    r"\\newacronym(?:\[[^\]]*\])?",  # glossaries
    r"\\newglossaryentry",
]
_ACRONYM_DEF = re.compile(r"(?:" + "|".join(_ACRONYM_DEFINERS) + r")\s*\{([^{}]+)\}")
_ACRONYM_USE = re.compile(
    r"\\(?:[aA]c[a-zA-Z]*|[gG][lL][sS][a-zA-Z]*|acr[a-zA-Z]*)\*?\s*(?:\[[^\]]*\]\s*)?\{([^{}]+)\}"
)
# `\iff` is a math relation, not a conditional
_CONDITIONAL = re.compile(r"\\(?:if(?!f(?![A-Za-z@]))[A-Za-z@]*|else|fi|or)(?![A-Za-z@])")
_VERBATIM_SOURCES = [
    r"\\begin\{(?P<env>" + "|".join(re.escape(e) for e in VERBATIM_ENVS) + r")\}"
    r"(?:\[[^\]]*\])?(?:\{[^{}\n]*\}(?=\n))?(?P<body>.*?)\\end\{(?P=env)\}",
    r"\\(?:verb|lstinline)\*?(?:\[[^\]]*\])?(?P<d>[^A-Za-z\s*{\[])(?P<inline>.*?)(?P=d)",
    r"\\(?:url|path|nolinkurl|lstinline)\s*\{(?P<url>[^{}]*)\}",
]
_VERBATIM = re.compile("|".join(_VERBATIM_SOURCES), re.S)
_SOURCE_TITLE = re.compile(r"\\title\s*(?:\[[^\]]*\]\s*)?\{")
_SOURCE_ABSTRACT = re.compile(r"\\begin\s*\{abstract\}|\\abstract\s*\{")


def own_names(sources: Iterable[str], classes: Iterable[str] = ()) -> tuple[set[str], set[str]]:
    """(macro names, acronym keys) the paper's own sources define. Of its class files, not
    the commands LaTeX has and a class redefines (`\\begin`, `\\section`, `\\text`, ...:
    `STANDARD`), which stay in any text.

    >>> macros, keys = own_names([r"\\newcommand{\\R}{x} \\def\\e{y} \\acro{DNN}{deep net}"])
    >>> sorted(macros), keys
    (['R', 'e'], {'DNN'})
    """
    macros: set[str] = set()
    keys: set[str] = set()
    sources = list(sources)
    definers = {d for src in sources for d in _OWN_DEFINER.findall(src)}
    by_definer = (
        re.compile(r"\\(?:" + "|".join(sorted(definers)) + r")\s*\{?\s*\\([A-Za-z@]+)")
        if definers
        else None
    )
    for src in sources:
        macros.update(_DEFINITION.findall(src))
        if by_definer:
            macros.update(by_definer.findall(src))
        keys.update(k.strip() for k in _ACRONYM_DEF.findall(src))
    for src in classes:
        macros.update(n for n in _DEFINITION.findall(src) if n not in STANDARD)
    return macros, keys


def verbatim_bodies(source: str) -> list[str]:
    """The verbatim text of `source` (environments, `\\verb`, `\\url`) that holds a backslash:
    what the text keeps as written, so its control sequences are not leftovers."""
    out = []
    for m in _VERBATIM.finditer(source):
        body = m.group("body") or m.group("inline") or m.group("url") or ""
        if "\\" in body and body.strip():
            out.append(body.strip())
    return out


def strip_verbatim(text: str, bodies: Iterable[str]) -> str:
    """`text` without the verbatim bodies it holds (longest first)."""
    for body in sorted(set(bodies), key=len, reverse=True):
        text = text.replace(body, " ")
    return text


def own_macros_left(text: str, macros: set[str], keys: set[str]) -> Counter[str]:
    """Uses of own macros (`\\R`) and of own acronym keys (`\\ac{DNN}`) in `text`."""
    left = Counter(f"\\{n}" for n in _CS_NAME.findall(text) if n in macros)
    left.update(f"{{{k}}}" for k in _ACRONYM_USE.findall(text) if k.strip() in keys)
    return left


def conditionals_left(text: str) -> int:
    """`\\if..`, `\\else`, `\\fi`, `\\or` tokens (not `\\iff`) in `text`."""
    return len(_CONDITIONAL.findall(text))


def prose_commands(text: str) -> tuple[list[str], int]:
    """(control sequences outside `$..$`/`$$..$$`, chars outside math)."""
    prose = _MATH.sub(" ", text)
    return _CMD.findall(prose), len(prose)


def title_abstract(text: str, source: str) -> str:
    """Two chars: `T`/`A` kept, `-` the source has none, `!` the source has one, the text not."""
    has = (bool(_SOURCE_TITLE.search(source)), bool(_SOURCE_ABSTRACT.search(source)))
    kept = (text.startswith("# "), "## Abstract\n\n" in text)
    return "".join(
        (mark if k else "!") if h else "-" for mark, h, k in zip("TA", has, kept, strict=True)
    )


@dataclass
class Fidelity:
    """One paper's measures (see the module docstring's columns)."""

    own_left: Counter[str] = field(default_factory=Counter)
    conditionals: int = 0
    commands: list[str] = field(default_factory=list)
    prose_chars: int = 0
    title_abstract: str = "--"
    main_ok: bool | None = None  # None: no expected main file

    @property
    def cmd_per_1k(self) -> float:
        return 1000 * len(self.commands) / max(1, self.prose_chars)


def measure(
    text: str, source: str, sty: Iterable[str], main_ok: bool | None, cls: Iterable[str] = ()
) -> Fidelity:
    """Measures of `text` extracted from `source` (the main file with its includes inlined,
    comment-free) and the local .sty and .cls files it loads."""
    macros, keys = own_names([source, *sty], cls)
    body = strip_verbatim(text, verbatim_bodies(source))
    commands, prose_chars = prose_commands(body)
    return Fidelity(
        own_left=own_macros_left(body, macros, keys),
        conditionals=conditionals_left(body),
        commands=commands,
        prose_chars=prose_chars,
        title_abstract=title_abstract(text, source),
        main_ok=main_ok,
    )


def summary(rows: list[Fidelity], dropped: int) -> str:
    """One line: each target, the value seen, and `ok` or `MISS`."""

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISS"

    n = len(rows)
    zero = sum(not r.own_left for r in rows)
    mean_cmd = sum(r.cmd_per_1k for r in rows) / max(1, n)
    cond = sum(r.conditionals for r in rows)
    titles = [r.title_abstract[0] for r in rows if r.title_abstract[0] != "-"]
    abstracts = [r.title_abstract[1] for r in rows if r.title_abstract[1] != "-"]
    checked = [r.main_ok for r in rows if r.main_ok is not None]
    parts = [
        f"own macros 0 in {zero}/{n} papers ({zero / max(1, n):.0%}, target >= "
        f"{TARGET_OWN_ZERO_SHARE:.0%}) {verdict(zero >= TARGET_OWN_ZERO_SHARE * n)}",
        f"leftover non-math commands {mean_cmd:.2f}/1k chars mean (target <= "
        f"{TARGET_CMD_PER_1K}) {verdict(mean_cmd <= TARGET_CMD_PER_1K)}",
        f"conditional tokens {cond} (target {TARGET_CONDITIONALS}) "
        f"{verdict(cond <= TARGET_CONDITIONALS)}",
        f"title kept {titles.count('T')}/{len(titles)}, abstract kept "
        f"{abstracts.count('A')}/{len(abstracts)} where the source has them "
        f"{verdict('!' not in titles + abstracts)}",
        f"main file right {sum(checked)}/{len(checked)} {verdict(all(checked))}",
    ]
    if dropped:
        parts.append(f"{dropped} paper(s) dropped MISS")
    return "targets: " + "; ".join(parts)


class _Reads(Mapping[str, str]):
    """A mapping that records which keys were read (`files[path]`), not merely tested."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files, self.read = files, {}

    def __getitem__(self, key: str) -> str:
        self.read[key] = None
        return self.files[key]

    def __contains__(self, key: object) -> bool:
        return key in self.files

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)


@dataclass
class Reach:
    """What extract reads of a project: bytes, the inlined source, the local .sty texts."""

    nbytes: int
    source: str
    sty: list[str]
    cls: list[str] = field(default_factory=list)


def reachable(paths: list[str], contents: list[bytes], main: str, max_depth: int) -> Reach:
    """Bytes of `main` and of every file its include chain reads (extract's own resolver),
    the main file with those includes inlined, and the local .sty/.cls files it loads
    (comment-free)."""
    hint = encoding.project_hint(contents)
    files = {}
    for p, c in zip(paths, contents, strict=True):
        if p.lower().endswith(COMMENTED_EXTS):
            try:
                files[p] = comments.strip_comments(encoding.decode(c, hint)[0])
            except encoding.Undecodable:
                continue  # extract leaves it out too
    reads = _Reads(files)
    source = includes.expand_includes(main, reads, max_depth, 1 << 62).text
    size = dict(zip(paths, map(len, contents), strict=True))
    # the .sty/.cls files the document loads, as extract reads them (`packages`): a .sty
    # shipped for another file (a cover letter's class) defines nothing this text can use
    loaded = packages.loaded_texts(source, main, files, max_depth, 1 << 62)
    sty = [t for p, t in loaded if p.endswith(".sty")]
    cls = [t for p, t in loaded if p.endswith(".cls")]
    return Reach(sum(size[p] for p in reads.read), source, sty, cls)


def pack(files: dict[str, bytes]) -> bytes:
    """`files` as an arXiv source member: a gzipped tar (level 6, like the sample)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(files[name]), 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(buf.getvalue(), compresslevel=6, mtime=0)


def expected_mains(root: Path) -> dict[str, str]:
    """folder -> `main_tex` from `root/SOURCES.tsv` (empty if there is none)."""
    tsv = root / "SOURCES.tsv"
    if not tsv.is_file():
        return {}
    with tsv.open(newline="") as fh:
        return {row["folder"]: row["main_tex"] for row in csv.DictReader(fh, delimiter="\t")}


def _folder_papers(root: Path) -> Iterator[tuple[str, bytes, str | None]]:
    mains = expected_mains(root)
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        files = {
            f.relative_to(folder).as_posix(): f.read_bytes()
            for f in sorted(folder.rglob("*"))
            if f.is_file()
        }
        yield folder.name, pack(files), mains.get(folder.name)


def _sample_papers(n: int) -> Iterator[tuple[str, bytes, str | None]]:
    for i in range(n):
        rng = random.Random(f"fidelity:{i}")
        domain = ("math", "cs", "physics")[i % 3]
        layout = "project" if i % 5 < 3 else "single"  # sample.PROJECT_SHARE
        paper = make_paper(rng, domain, layout)
        if layout == "project":
            data, main = pack(paper.files), paper.main
        else:  # a single file gets its name from the member: nothing to check
            data, main = gzip.compress(paper.files[paper.main], compresslevel=6, mtime=0), None
        yield f"sample-{domain}-{layout}-{i:03d}", data, main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("papers_dir", nargs="?", default="../shared/realdata/papers")
    ap.add_argument("--sample", type=int, default=0, help="also N synthetic sample papers")
    ap.add_argument("--profile", action="store_true", help="also the CPU time of each phase")
    args = ap.parse_args()
    root = Path(args.papers_dir)
    if not root.is_dir():
        raise SystemExit(f"fidelity: {root} is not a folder of papers")
    xp = load_params("extract", PARAMS_YAML)
    np_ = load_params("normalize", PARAMS_YAML)
    caps = Caps(64 << 20, 200.0)
    head = f"{'paper':30} {'main (rule) right?':38} {'in/miss':>7} {'macros':>6} {'own':>4}"
    print(head + f" {'cond':>4} {'cmd/1k':>6} {'T/A':>3} {'reachKB':>7} {'out/in':>6} {'MB/s':>5}")
    reach_total, project_total, cpu_total, dropped = 0, 0, 0.0, 0
    phases_total = [0.0] * len(PHASES)
    leftovers: Counter[str] = Counter()
    own_total: Counter[str] = Counter()
    rows: list[Fidelity] = []
    papers = [*_folder_papers(root), *_sample_papers(args.sample)]
    for name, gz, expected in papers:
        best, split = float("inf"), [0.0] * len(PHASES)
        for _ in range(REPEATS):
            t0 = time.process_time()
            paper = classify_member(f"2301/{name}.gz", gz, caps)
            t1 = time.process_time()
            r = (
                extract_paper(paper.paths, paper.contents, xp)
                if isinstance(paper, Paper)
                else paper
            )
            t2 = time.process_time()
            kept = isinstance(r, ExtractResult) and (junk := not_text(r.text)) is None
            if kept:
                text = normalize_doc((name, r.text)).text
            t3 = time.process_time()
            if kept:
                signature(text, np_.minhash_perm, np_.shingle_words)
            t4 = time.process_time()
            if t4 - t0 < best:
                best, split = t4 - t0, [t1 - t0, t2 - t1, t3 - t2, t4 - t3]
        drop = r if not isinstance(r, ExtractResult) else junk
        if drop is not None:
            print(f"{name[:30]:30} DROP {drop.reason}: {drop.detail}")
            dropped += 1
            continue
        assert isinstance(paper, Paper) and isinstance(r, ExtractResult)
        reach = reachable(paper.paths, paper.contents, r.main_file, xp.max_input_depth)
        main_ok = None if expected is None else r.main_file == expected
        fid = measure(text, reach.source, reach.sty, main_ok, reach.cls)
        rows.append(fid)
        leftovers.update(fid.commands)
        own_total.update(fid.own_left)
        reach_total += reach.nbytes
        project_total += r.bytes_in
        cpu_total += best
        phases_total = [a + b for a, b in zip(phases_total, split, strict=True)]
        right = {None: "", True: " ok", False: " WRONG"}[main_ok]
        print(
            f"{name[:30]:30} {f'{r.main_file} ({r.main_rule})'[: 38 - len(right)] + right:38} "
            f"{f'{r.inputs_resolved}/{r.inputs_missing}':>7} {r.macros_defined:>6} "
            f"{sum(fid.own_left.values()):>4} {fid.conditionals:>4} {fid.cmd_per_1k:>6.2f} "
            f"{fid.title_abstract:>3} {reach.nbytes / 1e3:>7.1f} {len(text) / reach.nbytes:>6.2f} "
            f"{reach.nbytes / best / 1e6:>5.2f}"
        )
    if cpu_total:
        print(
            f"\ngunzip+extract+normalize+MinHash, one core: {reach_total / cpu_total / 1e6:.2f}"
            f" MB/s of reachable TeX ({reach_total / 1e6:.2f} MB in {cpu_total:.2f} CPU s;"
            f" {project_total / cpu_total / 1e6:.2f} MB/s of all TeX-relevant project bytes;"
            f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)"
        )
        if args.profile:
            parts = ", ".join(f"{k} {v:.3f}" for k, v in zip(PHASES, phases_total, strict=True))
            print(f"CPU s per phase (each paper's best run): {parts}")
        print("most common own macros left:", own_total.most_common(12))
        print("most common leftover commands:", leftovers.most_common(12))
    print(summary(rows, dropped))


if __name__ == "__main__":
    main()
