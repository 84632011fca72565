"""The manifest reader/writer, md5 streaming, member names and the local-mirror layout."""

import dataclasses
import hashlib
from pathlib import Path

import pytest

from arxiv2lm.sources.manifest import (
    ChunkEntry,
    chunk_path,
    id_from_member,
    inside,
    link_mirror,
    md5_file,
    member_name,
    read_manifest,
    write_manifest,
)

REAL = Path(
    "/work/shared/realdata/metadata/arXiv_src_manifest__lab156_arxivDownload_2018-06-07.xml"
)


def _entry(name: str = "src/arXiv_src_0001_001.tar", size: int = 10) -> ChunkEntry:
    return ChunkEntry(
        name,
        "a" * 32,
        "b" * 32,
        size,
        3,
        "astro-ph0001001",
        "quant-ph0001119",
        "0001",
        1,
        "2010-12-23 00:13:59",
    )


@pytest.mark.parametrize(
    ("arxiv_id", "member"),
    [
        ("hep-th/9901001", "hep-th9901001"),
        ("cond-mat/0604012", "cond-mat0604012"),
        ("math/9901001", "math9901001"),
        ("q-bio/0604001", "q-bio0604001"),
        ("2301.01234", "2301.01234"),
        ("0704.0001", "0704.0001"),
    ],
)
def test_member_name_round_trip(arxiv_id, member):
    assert member_name(arxiv_id) == member
    assert id_from_member(member) == arxiv_id


def test_member_name_drops_subject_class_and_version():
    assert member_name("math.AG/9901001") == "math9901001"
    assert member_name("2301.01234v3") == "2301.01234"
    assert member_name("hep-th/9901001v2") == "hep-th9901001"


@pytest.mark.parametrize("bad", ["", "2301.123", "hep-th9901001", "HEP/9901001", "../x"])
def test_member_name_rejects_non_ids(bad):
    with pytest.raises(ValueError, match="not an arXiv id"):
        member_name(bad)


@pytest.mark.parametrize("bad", ["", "2301.01234v2", "hep-th/9901001", "hepth99", "x.tex"])
def test_id_from_member_rejects_non_members(bad):
    with pytest.raises(ValueError, match="not an arXiv member"):
        id_from_member(bad)


def test_md5_file_streams_past_one_block(tmp_path):
    data = bytes(range(256)) * 5000  # 1.28 MB: more than one 1 MiB block
    (tmp_path / "f").write_bytes(data)
    assert md5_file(tmp_path / "f") == hashlib.md5(data).hexdigest()


def test_write_then_read_round_trip(tmp_path):
    entries = [_entry(), _entry("src/arXiv_src_0001_002.tar", 20)]
    write_manifest(entries, tmp_path / "m.xml", timestamp="Thu Jun  7 05:13:57 2018")
    assert read_manifest(tmp_path / "m.xml") == entries
    assert not list(tmp_path.glob(".*"))  # no temporary left behind


def test_malformed_xml_names_the_file(tmp_path):
    (tmp_path / "m.xml").write_text("<arXivSRC><file>")
    with pytest.raises(ValueError, match=r"m\.xml: malformed manifest XML"):
        read_manifest(tmp_path / "m.xml")


def test_missing_field_is_named(tmp_path):
    write_manifest([_entry()], tmp_path / "m.xml")
    text = (tmp_path / "m.xml").read_text().replace("<md5sum>" + "a" * 32 + "</md5sum>", "")
    (tmp_path / "m.xml").write_text(text)
    with pytest.raises(ValueError, match=r"<file> #1 has no <md5sum>"):
        read_manifest(tmp_path / "m.xml")


def test_non_integer_size_is_named(tmp_path):
    write_manifest([_entry()], tmp_path / "m.xml")
    text = (tmp_path / "m.xml").read_text().replace("<size>10</size>", "<size>ten</size>")
    (tmp_path / "m.xml").write_text(text)
    with pytest.raises(ValueError, match=r"<size> is not an integer: 'ten'"):
        read_manifest(tmp_path / "m.xml")


@pytest.mark.skipif(not REAL.exists(), reason="real manifest not available")
def test_reads_the_real_manifest():
    entries = read_manifest(REAL)
    assert len(entries) == 1910
    first = entries[0]
    assert first.filename == "src/arXiv_src_0001_001.tar"
    assert first.md5sum == "949ae880fbaf4649a485a8d9e07f370b"
    assert (first.size, first.num_items, first.yymm) == (225605507, 2364, "0001")
    assert id_from_member(first.first_item) == "astro-ph/0001001"
    new = next(e for e in entries if e.yymm == "1501")
    assert id_from_member(new.first_item) == "1501.00001"


def _mirror(root: Path) -> tuple[Path, Path]:
    (root / "src").mkdir(parents=True)
    (root / "src/arXiv_src_0001_001.tar").write_bytes(b"x" * 10)
    write_manifest([_entry()], root / "src/arXiv_src_manifest.xml")
    snap = root / "snap.json"
    snap.write_text('{"id": "0001.0001"}\n')
    return root, snap


def test_link_mirror_lays_out_listed_chunks(tmp_path):
    mirror, snap = _mirror(tmp_path / "mirror")
    (mirror / "src/arXiv_src_9999_001.tar").write_bytes(b"unlisted")
    stats = link_mirror(mirror, snap, tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "src/arXiv_src_0001_001.tar").read_bytes() == b"x" * 10
    assert not (out / "src/arXiv_src_9999_001.tar").exists()
    assert (out / "metadata/arxiv-metadata-oai-snapshot.json").read_text() == snap.read_text()
    assert read_manifest(out / "src/arXiv_src_manifest.xml") == [_entry()]
    assert stats["chunks"] == 1 and stats["linked"] + stats["copied"] == 1


def test_link_mirror_missing_chunk_is_an_error(tmp_path):
    mirror, snap = _mirror(tmp_path / "mirror")
    (mirror / "src/arXiv_src_0001_001.tar").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 chunk\(s\) absent .*arXiv_src_0001_001"):
        link_mirror(mirror, snap, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_link_mirror_missing_snapshot_is_an_error(tmp_path):
    mirror, _ = _mirror(tmp_path / "mirror")
    with pytest.raises(FileNotFoundError, match="snapshot"):
        link_mirror(mirror, tmp_path / "nope.json", tmp_path / "out")


# --- hostile manifests: every name and number is checked before any file is touched ---


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("filename", "../../victim.txt", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "src/../../victim.txt", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "/etc/passwd", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "src/arXiv_src_0001_001.tar/../../x", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "src/sub/arXiv_src_0001_001.tar", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "arXiv_src_0001_001.tar", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "src/arXiv_src_0001_001.tar.part", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("filename", "src/arXiv_src_\uff10001_001.tar", "is not src/arXiv_src_YYMM_NNN.tar"),
        ("md5sum", "z" * 32, "<md5sum> 'zzzz"),
        ("md5sum", "", "<md5sum> '' is not 32 hex digits"),
        ("content_md5sum", "abc", "<content_md5sum> 'abc' is not 32 hex digits"),
        ("size", 0, "<size> 0 is not a positive byte count"),
        ("size", -5, "<size> -5 is not a positive byte count"),
        ("num_items", -1, "<num_items> -1 is negative"),
        ("yymm", "0013", "<yymm> '0013' is not YYMM"),
        ("yymm", "0002", "<yymm> '0002' is not the filename's 0001"),
        ("seq_num", 0, "<seq_num> 0 is not in 1..999"),
        ("seq_num", 1000, "<seq_num> 1000 is not in 1..999"),
    ],
)
def test_bad_entry_is_an_error_naming_it(tmp_path, field, value, message):
    bad = dataclasses.replace(_entry(), **{field: value})
    write_manifest([_entry("src/arXiv_src_0001_002.tar"), bad], tmp_path / "m.xml")
    with pytest.raises(ValueError) as err:
        read_manifest(tmp_path / "m.xml")
    assert f"m.xml: <file> #2 ({bad.filename!r}): " in str(err.value)
    assert message in str(err.value)


def test_duplicate_filename_is_an_error(tmp_path):
    write_manifest([_entry(), _entry()], tmp_path / "m.xml")
    with pytest.raises(ValueError, match=r"#2 \('src/arXiv_src_0001_001.tar'\): listed twice"):
        read_manifest(tmp_path / "m.xml")


def test_upper_case_md5_is_read_as_lower_case(tmp_path):
    write_manifest([dataclasses.replace(_entry(), md5sum="A" * 32)], tmp_path / "m.xml")
    assert read_manifest(tmp_path / "m.xml")[0].md5sum == "a" * 32


def test_chunk_path_accepts_only_chunk_names(tmp_path):
    assert chunk_path(tmp_path, "src/arXiv_src_2301_017.tar") == (
        tmp_path / "src/arXiv_src_2301_017.tar"
    )
    for bad in ["../x.tar", "src/arXiv_src_2301_017.tar\n", "src/arXiv_src_2301_17.tar"]:
        with pytest.raises(ValueError, match="not src/arXiv_src_YYMM_NNN.tar"):
            chunk_path(tmp_path, bad)


def test_inside_follows_symlinks(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "src").symlink_to(elsewhere)
    assert inside(out, out / "metadata/x.json") == out / "metadata/x.json"
    with pytest.raises(ValueError, match=r"resolves to .*elsewhere.*outside"):
        inside(out, out / "src/arXiv_src_0001_001.tar")


def test_link_mirror_never_links_outside_its_folders(tmp_path):
    """A `../victim.txt` entry used to be hard-linked from beside the mirror to beside out."""
    mirror, snap = _mirror(tmp_path / "mirror")
    victim = tmp_path / "victim.txt"  # mirror/../victim.txt
    victim.write_text("precious")
    text = (mirror / "src/arXiv_src_manifest.xml").read_text()
    (mirror / "src/arXiv_src_manifest.xml").write_text(
        text.replace("src/arXiv_src_0001_001.tar", "../victim.txt")
    )
    out = tmp_path / "deep/er/out"
    with pytest.raises(ValueError, match=r"#1 \('../victim.txt'\): <filename>"):
        link_mirror(mirror, snap, out)
    assert not (out.parent / "victim.txt").exists()
    assert not out.exists()
    assert victim.stat().st_nlink == 1 and victim.read_text() == "precious"


def test_link_mirror_refuses_a_symlink_out_of_out(tmp_path):
    mirror, snap = _mirror(tmp_path / "mirror")
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    out.mkdir()
    (out / "src").symlink_to(elsewhere)
    with pytest.raises(ValueError, match="outside"):
        link_mirror(mirror, snap, out)
    assert list(elsewhere.iterdir()) == []
