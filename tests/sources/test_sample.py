"""The synthetic sample: byte-determinism, every member kind, and a sane Kaggle/manifest layout."""

import gzip
import hashlib
import io
import json
import random
import re
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from arxiv2lm.sources.manifest import (
    id_from_member,
    md5_file,
    member_name,
    read_manifest,
    yymm_order,
)
from arxiv2lm.sources.sample import _plan, generate_sample

KAGGLE_KEYS = [
    "id",
    "submitter",
    "authors",
    "title",
    "comments",
    "journal-ref",
    "doi",
    "report-no",
    "categories",
    "license",
    "abstract",
    "versions",
    "update_date",
    "authors_parsed",
]
CREATED = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} "
    r"\d\d:\d\d:\d\d GMT$"
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("sample")
    t0 = time.perf_counter()
    summary = generate_sample(out, seed=20260101, n_papers=320, papers_per_chunk=80)
    return out, summary, time.perf_counter() - t0


@pytest.fixture(scope="module")
def members(sample) -> dict[str, tuple[str, bytes]]:
    """arXiv id -> (member name, bytes), over every chunk."""
    out, _, _ = sample
    found = {}
    for chunk in sorted((out / "src").glob("*.tar")):
        with tarfile.open(chunk) as tar:
            for m in tar.getmembers():
                stem = m.name.split("/")[1].rsplit(".", 1)[0]
                found[id_from_member(stem)] = (m.name, tar.extractfile(m).read())
    return found


@pytest.fixture(scope="module")
def meta(sample) -> dict[str, dict]:
    out, _, _ = sample
    lines = (out / "metadata/arxiv-metadata-oai-snapshot.json").read_text().splitlines()
    return {rec["id"]: rec for rec in map(json.loads, lines)}


def _project(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): md5_file(p) for p in sorted(root.rglob("*")) if p.is_file()}


def test_two_runs_are_byte_identical(tmp_path):
    a = generate_sample(tmp_path / "a", 7, 60, 20)
    b = generate_sample(tmp_path / "b", 7, 60, 20)
    assert a == b
    digests = _digests(tmp_path / "a")
    assert len(digests) >= 5 and digests == _digests(tmp_path / "b")
    generate_sample(tmp_path / "c", 8, 60, 20)
    assert _digests(tmp_path / "c") != digests


def test_default_sample_is_fast_and_sized(sample):
    _, summary, seconds = sample
    assert seconds < 5
    assert summary["papers"] == 320
    assert summary["members"] == 320 - summary["counts"]["missing_source"]
    assert all(90 <= n <= 130 for n in summary["domains"].values())


def test_too_few_papers_is_refused(tmp_path):
    with pytest.raises(ValueError, match="n_papers 10"):
        generate_sample(tmp_path, 1, 10, 5)


def test_metadata_follows_the_kaggle_schema(meta):
    assert len(meta) == 320
    for rec in meta.values():
        assert list(rec) == KAGGLE_KEYS
        assert isinstance(rec["id"], str)
        assert all(CREATED.match(v["created"]) for v in rec["versions"])
        assert rec["abstract"].startswith("  ") and rec["abstract"].endswith("\n")
        assert "%" not in rec["abstract"].replace("\\%", "")
    assert any("/" in i for i in meta) and any(re.fullmatch(r"\d{4}\.\d{5}", i) for i in meta)
    assert any(re.fullmatch(r"\d{4}\.\d{4}", i) for i in meta)


def test_members_sit_in_chunks_of_their_month(sample, members):
    out, _, _ = sample
    entries = read_manifest(out / "src/arXiv_src_manifest.xml")
    assert {e.filename for e in entries} == {f"src/{p.name}" for p in (out / "src").glob("*.tar")}
    assert any(e.seq_num == 2 for e in entries)  # some month fills more than one chunk
    for e in entries:
        path = out / e.filename
        assert (e.md5sum, e.size) == (md5_file(path), path.stat().st_size)
        assert e.filename == f"src/arXiv_src_{e.yymm}_{e.seq_num:03d}.tar"
        with tarfile.open(path) as tar:
            names = tar.getnames()
        assert names == sorted(names) and len(names) == e.num_items <= 80
        assert all(n.startswith(e.yymm + "/") for n in names)
        assert names[0].split("/")[1].startswith(e.first_item + ".")
    for arxiv_id, (name, _) in members.items():
        if "/" in arxiv_id:  # old style: archive, no slash, 7 digits
            assert re.fullmatch(r"\d{4}/[a-z-]+\d{7}\.(gz|pdf)", name)
            assert name.split("/")[1].startswith(member_name(arxiv_id))


def test_every_member_kind_is_present(sample, members, meta):
    _, summary, _ = sample
    ids = summary["ids"]
    for kind in [
        "tex_project",
        "tex_single",
        "pdf_only",
        "bad_gzip",
        "latin1",
        "withdrawn",
        "no_documentclass",
        "off_domain",
        "missing_source",
        "duplicate",
        "with_decoy",
        "with_readme",
        "with_sty",
        "with_bbl",
    ]:
        assert ids.get(kind), kind
    for i in ids["pdf_only"]:
        assert members[i][0].endswith(".pdf") and members[i][1].startswith(b"%PDF")
    for i in ids["bad_gzip"]:
        with pytest.raises((OSError, EOFError, zlib.error)):
            gzip.decompress(members[i][1])
    for i in ids["missing_source"]:
        assert i in meta and i not in members
    for i in ids["off_domain"]:
        assert all(c.startswith(("q-bio", "econ", "q-fin")) for c in meta[i]["categories"].split())
    for i in ids["withdrawn"]:
        assert meta[i]["comments"] == "This paper has been withdrawn by the author"
        assert b"withdrawn" in gzip.decompress(members[i][1])
    for i in ids["no_documentclass"]:
        assert b"\\documentclass" not in gzip.decompress(members[i][1])
    for i in ids["tex_single"]:
        tex = gzip.decompress(members[i][1])
        assert tex[257:262] != b"ustar" and b"\\documentclass" in tex


def test_project_members(sample, members):
    ids = sample[1]["ids"]
    for i in ids["tex_project"]:
        files = _project(members[i][1])
        mains = [
            n
            for n, b in files.items()
            if b"\\begin{document}" in b and (b"\\input{" in b or b"\\include{" in b)
        ]
        assert len(mains) == 1, (i, list(files))
        main = mains[0]
        text = files[main].decode()
        for target in re.findall(r"\\(?:input|include)\{([^}]+)\}", text):
            assert target.removesuffix(".tex") + ".tex" in files
            assert target.startswith("sections/")
        assert main[:-4] + ".bbl" in files and "\\usepackage{macros}" in text
        assert b"\\newcommand{\\norm}[1]" in files["macros.sty"]
    for i in ids["with_decoy"]:
        files = _project(members[i][1])
        assert sum(b"\\documentclass" in b for n, b in files.items() if n.endswith(".tex")) == 2
    for i in ids["with_readme"]:
        files = _project(members[i][1])
        readme = json.loads(files["00README.json"])
        top = [s["filename"] for s in readme["sources"] if s["usage"] == "toplevel"]
        assert len(top) == 1 and b"\\begin{document}" in files[top[0]]


def _files(data: bytes) -> dict[str, bytes]:
    raw = gzip.decompress(data)
    return _project(data) if raw[257:262] == b"ustar" else {"main.tex": raw}


def _source(data: bytes) -> bytes:
    return b"".join(b for _, b in sorted(_files(data).items()))


def test_latin1_sources_are_latin1_bytes(sample, members):
    for i in sample[1]["ids"]["latin1"]:
        raw = _source(members[i][1])
        assert b"\\usepackage[latin1]{inputenc}" in raw
        assert b"M\xfcller" in raw  # u-umlaut as one Latin-1 byte
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")


def test_duplicates_repeat_a_body_under_a_new_id(sample, members, meta):
    for orig, dup in sample[1]["duplicates"]:
        assert orig != dup
        a, b = _files(members[orig][1]), _files(members[dup][1])
        assert a.keys() == b.keys()
        changed = [n for n in a if a[n] != b[n]]
        assert len(changed) == 1 and b[changed[0]].split(b"\n", 1)[1] == a[changed[0]]
        assert meta[orig]["abstract"] == meta[dup]["abstract"]


def test_text_covers_the_latex_constructs(sample, members):
    corpus = b"".join(
        _source(d)
        for n, d in members.values()
        if n.endswith(".gz") and d[:2] == b"\x1f\x8b" and len(d) > 100 and _ok(d)
    )
    for needle in [
        b"\\begin{align}",
        b"\\begin{gather}",
        b"\\begin{equation}\\label",
        b"\\[",
        b"\\(",
        b"$$",
        b"\\begin{theorem}",
        b"\\begin{proof}",
        b"\\newtheorem",
        b"\\begin{algorithmic}",
        b"\\begin{tabular}",
        b"\\caption{",
        b"\\includegraphics",
        b"\\cite{",
        b"\\eqref{",
        b"\\ref{",
        b"\\footnote{",
        b"\\begin{itemize}",
        b"\\begin{enumerate}",
        b"\\def\\R",
        b"\\DeclareMathOperator",
        b"\\%",
        b"\\paragraph{",
        b"\\subsection{",
        b"\\appendix",
        b"\\bibliography{",
        b"\\begin{thebibliography}",
        b"\\begin{abstract}",
        b"\\bye",
        b"\n% ",
        b"\\,\\mathrm{",
    ]:
        assert needle in corpus, needle
    sizes = [len(_source(d)) for n, d in members.values() if n.endswith(".gz") and _ok(d)]
    big = [s for s in sizes if s > 1000]
    assert 4000 <= sorted(big)[len(big) // 2] <= 15000
    assert len(set(re.findall(rb"[a-z]{4,}", corpus))) > 400  # a vocabulary worth learning


def _ok(data: bytes) -> bool:
    try:
        gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return False
    return True


def test_manifest_content_md5_covers_member_bytes(sample):
    out = sample[0]
    entry = read_manifest(out / "src/arXiv_src_manifest.xml")[0]
    with tarfile.open(out / entry.filename) as tar:
        blob = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
    assert entry.content_md5sum == hashlib.md5(blob).hexdigest()


def test_ids_stay_unique_and_well_formed_at_100x():
    """Past a month's 999 (old style), 9999 or 99999 ids, papers move on to the next month."""
    n = 100 * 320
    plans = _plan(random.Random(20260101), n)
    assert len({p.id for p in plans}) == n
    for p in plans:
        assert re.fullmatch(r"[a-z-]+/\d{7}|\d{4}\.\d{4,5}", p.id), p.id
        assert id_from_member(member_name(p.id)) == p.id
        assert re.sub(r"^[a-z-]+", "", member_name(p.id)).startswith(p.yymm)
        five = bool(re.fullmatch(r"\d{4}\.\d{5}", p.id))
        assert five == (yymm_order(p.yymm) >= "201501")
    months = {p.yymm for p in plans}
    assert {"9901", "9902", "0604", "0605", "1107", "1108"} <= months  # spread, not refused
    kinds = {k: sum(p.kind == k for p in plans) for k in ("pdf_only", "bad_gzip", "duplicate")}
    assert kinds == {"pdf_only": 960, "bad_gzip": 320, "duplicate": 480}  # same mix


@pytest.mark.slow
def test_sixteen_times_the_default_sample(tmp_path):
    summary = generate_sample(tmp_path, seed=20260101, n_papers=16 * 320, papers_per_chunk=80)
    entries = read_manifest(tmp_path / "src/arXiv_src_manifest.xml")
    missing = summary["counts"]["missing_source"]
    assert missing == round(0.08 * 16 * 320)
    assert summary["members"] == sum(e.num_items for e in entries) == 16 * 320 - missing
    assert all(re.fullmatch(r"src/arXiv_src_\d{4}_\d{3}\.tar", e.filename) for e in entries)
    assert len({e.filename for e in entries}) == len(entries)
    lines = (tmp_path / "metadata/arxiv-metadata-oai-snapshot.json").read_text().splitlines()
    assert len({json.loads(line)["id"] for line in lines}) == 16 * 320


def test_too_many_chunks_a_month_is_refused(tmp_path):
    with pytest.raises(ValueError, match="papers_per_chunk 1 puts a month's .* over 999"):
        generate_sample(tmp_path / "out", 1, 4000, 1)
    assert not (tmp_path / "out").exists()
