import gzip
import json
from pathlib import Path

import pytest
import yaml

from arxiv2lm.ledger import Drop
from arxiv2lm.params import parse_section
from arxiv2lm.sources.metadata import (
    MetadataError,
    canonical_category,
    domain_of,
    iter_snapshot,
    parse_record,
    select,
)

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT.parent / "shared" / "realdata" / "metadata"
PARAMS = parse_section("filter", yaml.safe_load((ROOT / "params.yaml").read_text())["filter"])


def rec(**kw) -> dict:
    base = {
        "id": "2301.01234",
        "categories": "math.AG hep-th",
        "license": None,
        "title": "A  title\n  split",
        "abstract": "  Abstract. ",
        "comments": "12 pages",
        "versions": [{"version": "v1", "created": "Tue, 3 Jan 2023 10:00:00 GMT"}],
        "update_date": "2024-05-01",
    }
    return base | kw


def test_parse_record_keeps_id_string_and_v1_date() -> None:
    r = parse_record(rec(id="0704.0010"))
    assert r.id == "0704.0010"
    assert r.created == "2023-01-03"  # versions[0], never update_date
    assert r.title == "A title split"
    assert r.categories == ["math.AG", "hep-th"]


def test_numeric_id_is_refused_not_mangled() -> None:
    d = parse_record(rec(id=704.001))
    assert isinstance(d, Drop) and d.reason == "bad_metadata"


def test_missing_versions_is_bad_metadata() -> None:
    assert parse_record(rec(versions=[])).reason == "bad_metadata"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("alg-geom", "math.AG"),
        ("chao-dyn", "nlin.CD"),
        ("cmp-lg", "cs.CL"),
        ("math.MP", "math-ph"),
        ("funct-an", "math.FA"),
        ("hep-th", "hep-th"),
    ],
)
def test_category_aliases(old: str, new: str) -> None:
    assert canonical_category(old) == new


def test_1990s_archive_is_not_silently_dropped() -> None:
    r = parse_record(
        rec(
            id="alg-geom/9401001",
            categories="alg-geom",
            versions=[{"created": "Mon, 3 Jan 1994 10:00:00 GMT"}],
        )
    )
    assert select(r, PARAMS) == "math"


def test_domain_prefix_does_not_overmatch() -> None:
    groups = {"math": ["math"], "cs": ["cs"]}
    assert domain_of(["math-ph"], groups) is None  # `math` must not match `math-ph`
    assert domain_of(["q-bio.NC", "cs.LG"], groups) == "cs"  # a cross-list counts
    assert domain_of(["stat.ML"], {"cs": ["stat.ML"]}) == "cs"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"comments": "This paper has been withdrawn by the author"}, "withdrawn"),
        ({"versions": [{"created": "Mon, 3 Jan 1983 10:00:00 GMT"}]}, "out_of_date_range"),
        ({"categories": "q-bio.NC econ.EM"}, "category_excluded"),
    ],
)
def test_each_drop_reason(overrides: dict, reason: str) -> None:
    out = select(parse_record(rec(**overrides)), PARAMS)
    assert isinstance(out, Drop) and out.reason == reason


def test_license_allowlist() -> None:
    from dataclasses import replace

    cc = replace(PARAMS, licenses=["http://creativecommons.org/licenses/by/4.0/"])
    assert select(parse_record(rec()), cc).reason == "license_excluded"
    ok = parse_record(rec(license="http://creativecommons.org/licenses/by/4.0/"))
    assert select(ok, cc) == "math"


def test_snapshot_plain_and_gzipped_with_bad_lines(tmp_path) -> None:
    lines = [json.dumps(rec()), "{not json", "", json.dumps([1, 2])]
    plain = tmp_path / "s.json"
    plain.write_text("\n".join(lines) + "\n")
    gz = tmp_path / "s.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, gz):
        out = list(iter_snapshot(path))
        assert [n for n, _ in out] == [1, 2, 4]
        assert isinstance(out[0][1], dict)
        assert [o.reason for _, o in out[1:]] == ["bad_metadata", "bad_metadata"]


def test_snapshot_zstd(tmp_path) -> None:
    zstandard = pytest.importorskip("zstandard")
    path = tmp_path / "s.json.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress((json.dumps(rec()) + "\n").encode()))
    [(n, raw)] = list(iter_snapshot(path))
    assert n == 1 and raw["id"] == "2301.01234"


def test_missing_snapshot(tmp_path) -> None:
    with pytest.raises(MetadataError, match="does not exist"):
        list(iter_snapshot(tmp_path / "none.json"))


@pytest.mark.skipif(not REAL.exists(), reason="../shared/realdata/metadata absent")
def test_real_snapshot_lines_parse_and_filter_by_category() -> None:
    snap = next(REAL.glob("kaggle_snapshot_*.jsonl"))
    n = 0
    for _, raw in iter_snapshot(snap):
        r = parse_record(raw)
        assert not isinstance(r, Drop), raw["id"]
        assert r.id == raw["id"] and isinstance(r.id, str)
        out = select(r, PARAMS)
        wanted = domain_of(r.categories, PARAMS.groups)
        if wanted is None:
            assert out.reason in {"category_excluded", "withdrawn"}
        elif not r.withdrawn:
            assert out == wanted
        n += 1
    assert n == 200


def _snapshot(tmp_path: Path, lines: list[bytes], fmt: str = "plain") -> Path:
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / f"s.{fmt}"
    if fmt == "gz":
        data = gzip.compress(data)
    elif fmt == "zst":
        data = pytest.importorskip("zstandard").ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


GOOD = json.dumps(rec()).encode()
HOSTILE_LINES = {
    "non_utf8": (b'{"id": "2301.0\xff", "categories": "math.AG"}', "byte 0xff at 14 not UTF-8"),
    "deep_nesting": (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deep"),
    "huge_int": (b'{"id": "2301.01234", "n": ' + b"7" * 5000 + b"}", "4300 digits"),
}


@pytest.mark.parametrize("fmt", ["plain", "gz", "zst"])
@pytest.mark.parametrize("case", sorted(HOSTILE_LINES))
def test_hostile_line_is_one_named_drop(tmp_path, case: str, fmt: str) -> None:
    line, detail = HOSTILE_LINES[case]
    out = list(iter_snapshot(_snapshot(tmp_path, [GOOD, line, GOOD], fmt)))
    assert [n for n, _ in out] == [1, 2, 3]
    assert isinstance(out[0][1], dict) and isinstance(out[2][1], dict)
    drop = out[1][1]
    assert isinstance(drop, Drop) and drop.reason == "bad_metadata"
    assert drop.detail.startswith("line 2: ") and detail in drop.detail


@pytest.mark.parametrize("fmt", ["plain", "gz", "zst"])
def test_overlong_line_is_dropped_without_reading_it_whole(tmp_path, fmt: str) -> None:
    import tracemalloc

    long_line = b'{"id": "' + b"a" * 8_000_000 + b'"}'
    path = _snapshot(tmp_path, [GOOD, long_line, GOOD], fmt)
    tracemalloc.start()
    out = list(iter_snapshot(path, max_line_bytes=64_000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [n for n, _ in out] == [1, 2, 3]
    assert out[1][1] == Drop("bad_metadata", "line 2: over 64000 bytes")
    assert out[2][1]["id"] == "2301.01234"
    assert peak < 2_000_000  # the line is 8 MB; one read block is 256 KiB


def test_line_at_the_cap_is_kept(tmp_path) -> None:
    [(_, raw)] = list(iter_snapshot(_snapshot(tmp_path, [GOOD]), max_line_bytes=len(GOOD)))
    assert raw["id"] == "2301.01234"


def test_bom_on_first_line_is_not_a_bad_line(tmp_path) -> None:
    [(_, raw)] = list(iter_snapshot(_snapshot(tmp_path, [b"\xef\xbb\xbf" + GOOD])))
    assert raw["id"] == "2301.01234"


def test_truncated_gzip_is_a_clear_error(tmp_path) -> None:
    path = _snapshot(tmp_path, [GOOD] * 200, "gz")
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(MetadataError, match="unreadable after line"):
        list(iter_snapshot(path))


@pytest.mark.parametrize(
    ("overrides", "detail"),
    [
        ({"versions": {"v1": "Mon, 2 Apr 2007 19:18:42 GMT"}}, "no parsable versions[0]"),
        ({"versions": 7}, "no parsable versions[0]"),
        ({"versions": "Mon, 2 Apr 2007"}, "no parsable versions[0]"),
        ({"versions": [{"created": 1175541522}]}, "no parsable versions[0]"),
        ({"versions": [{"created": "Mon, 2 Apr 99999999999 1:0:0 GMT"}]}, "versions[0]"),
        ({"versions": [{"created": "Mon, 2 Apr 2007 1:0:0 +9999"}]}, "versions[0]"),
        ({"license": {"url": "http://creativecommons.org/licenses/by/4.0/"}}, "license is dict"),
        ({"categories": ["math.AG"]}, "categories is list, not str"),
        ({"title": 42}, "title is int, not str"),
        ({"abstract": ["x"]}, "abstract is list, not str"),
        ({"comments": {"withdrawn": True}}, "comments is dict, not str"),
        ({"id": 704.001}, "id is float, not str"),
        ({"id": "  "}, "id is missing or blank"),
        ({"title": "bad \ud800 surrogate"}, "title has an unpaired surrogate"),
    ],
)
def test_wrong_field_types_are_bad_metadata(overrides: dict, detail: str) -> None:
    d = parse_record(rec(**overrides))
    assert isinstance(d, Drop) and d.reason == "bad_metadata" and detail in d.detail


def test_update_date_of_any_type_is_not_read() -> None:
    r = parse_record(rec(update_date={"y": 2024}))
    assert r.created == "2023-01-03"
