import gzip
import io
import os
import tarfile

import pytest

from arxiv2lm.ledger import Drop
from arxiv2lm.sources.archives import Caps, classify_member, is_tex_relevant
from arxiv2lm.sources.targuard import looks_like_tar
from tests.sources.hostile_tars import (
    END,
    digits,
    gnu_sparse,
    header,
    member,
    pad,
    pax,
    pax_sparse,
    peak_bytes,
    record,
    timed,
)

CAPS = Caps(max_bytes=1 << 20, max_ratio=50.0)


def tar_bytes(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


TEX = b"\\documentclass{article}\\begin{document}Hello\\end{document}\n"


def test_project_keeps_only_tex_relevant_files() -> None:
    project = tar_bytes(
        {
            "main.tex": TEX,
            "sec/intro.tex": b"Intro",
            "main.bbl": b"\\begin{thebibliography}",
            "my.sty": b"\\newcommand",
            "fig.png": b"\x89PNG",
            "00README.json": b"{}",
        }
    )
    paper = classify_member("2301/2301.00001.gz", gz(project), CAPS)
    assert paper.kind == "tex_project"
    assert sorted(paper.paths) == [
        "00README.json",
        "main.bbl",
        "main.tex",
        "my.sty",
        "sec/intro.tex",
    ]
    assert dict(zip(paper.paths, paper.contents, strict=True))["sec/intro.tex"] == b"Intro"


def test_single_gzipped_tex() -> None:
    paper = classify_member("2301/2301.00002.gz", gz(TEX), CAPS)
    assert paper.kind == "tex_single" and paper.paths == ["main.tex"] and paper.contents == [TEX]


def test_latin1_bytes_kept_verbatim() -> None:
    raw = "Poincar\u00e9".encode("latin-1")
    assert classify_member("9901/math9901001.gz", gz(raw), CAPS).contents == [raw]


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("2301/2301.00003.pdf", b"%PDF-1.4 body", "pdf_only"),
        ("2301/2301.00004.gz", b"\x1f\x8b\x08\x00garbage-not-deflate", "bad_gzip"),
        ("2301/2301.00005.gz", gz(b"%!PS-Adobe-2.0"), "ps_only"),
        ("2301/2301.00006.gz", gz(b"%PDF-1.5 inside gzip"), "pdf_only"),
        ("2301/2301.00007.gz", gz(tar_bytes({"fig.pdf": b"%PDF"})), "pdf_only"),
        ("2301/2301.00008.gz", gz(tar_bytes({"data.csv": b"1,2"})), "no_tex"),
        ("2301/2301.00009.gz", gz(tar_bytes({"../evil.tex": TEX})), "unsafe_path"),
        ("2301/2301.00010.gz", gz(tar_bytes({"/etc/evil.tex": TEX})), "unsafe_path"),
        (
            "2301/2301.00011.gz",
            gz(tar_bytes({"a.tex": TEX}, {"b.tex": "/etc/passwd"})),
            "unsafe_path",
        ),
        ("2301/2301.00012.gz", gz(b"\x00\x01\x02binary" * 10), "not_tex"),
        ("2301/2301.00013.djvu", b"AT&TFORM", "unknown_format"),
        ("2301/2301.00014.gz", gz(b"%" * (2 << 20)), "too_large"),
    ],
)
def test_each_drop_reason(name: str, data: bytes, reason: str) -> None:
    out = classify_member(name, data, CAPS)
    assert isinstance(out, Drop), out
    assert out.reason == reason


def test_gzip_bomb_stopped_by_ratio() -> None:
    caps = Caps(max_bytes=64 << 20, max_ratio=50.0)
    out = classify_member("2301/2301.00015.gz", gz(b"%" * (8 << 20)), caps)
    assert out == Drop("gzip_bomb", "ratio above 50")
    # a binary one is dropped from its first 8 KiB, the bomb never inflated past a piece
    out = classify_member("2301/2301.00015.gz", gz(b"\x00" * (8 << 20)), caps)
    assert out == Drop("not_tex", "binary single file")


def test_truncated_tar_is_bad_tar() -> None:
    broken = tar_bytes({"main.tex": TEX * 50})[:700]
    out = classify_member("2301/2301.00016.gz", gz(broken), CAPS)
    assert isinstance(out, Drop) and out.reason == "bad_tar"


def test_nested_archives_counted() -> None:
    project = tar_bytes({"main.tex": TEX, "anc/code.tar.gz": b"xx", "data.zip": b"PK"})
    assert classify_member("2301/2301.00017.gz", gz(project), CAPS).nested_archives == 2


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("a.tex", True),
        ("A.TEX", True),
        ("x.ltx", True),
        ("x.latex", True),
        ("m.bbl", True),
        ("s.sty", True),
        ("c.cls", True),
        ("00README.XXX", True),
        ("f.bib", False),
        ("f.png", False),
        ("tex", False),
    ],
)
def test_tex_relevant(path: str, ok: bool) -> None:
    assert is_tex_relevant(path) is ok


def test_multi_member_gzip_is_read_whole() -> None:
    paper = classify_member("2301/2301.00018.gz", gz(TEX[:20]) + gz(TEX[20:]), CAPS)
    assert paper.contents == [TEX]


def test_truncated_gzip_is_bad_gzip() -> None:
    out = classify_member("2301/2301.00019.gz", gz(TEX * 40)[:-30], CAPS)
    assert isinstance(out, Drop) and out.reason == "bad_gzip"


def _tar_with(info: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        main = tarfile.TarInfo("main.tex")
        main.size = len(TEX)
        tar.addfile(main, io.BytesIO(TEX))
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def test_hard_link_member_is_refused() -> None:
    info = tarfile.TarInfo("copy.tex")
    info.type = tarfile.LNKTYPE
    info.linkname = "main.tex"
    out = classify_member("2301/2301.00020.gz", gz(_tar_with(info)), CAPS)
    assert isinstance(out, Drop) and out.reason == "unsafe_path" and "link" in out.detail


def test_device_member_is_refused() -> None:
    info = tarfile.TarInfo("dev/sda")
    info.type = tarfile.BLKTYPE
    out = classify_member("2301/2301.00021.gz", gz(_tar_with(info)), CAPS)
    assert isinstance(out, Drop) and out.reason == "unsafe_path" and "device" in out.detail


def test_member_name_that_is_not_utf8_is_kept_readable() -> None:
    info = tarfile.TarInfo("sec/r\udce9sum\udce9.tex")  # latin-1 bytes, surrogate-escaped
    paper = classify_member("2301/2301.00022.gz", gz(_tar_with(info, b"\\section{R}")), CAPS)
    assert paper.kind == "tex_project"
    name = next(p for p in paper.paths if p.startswith("sec/"))
    assert name.encode("utf-8") and "\ufffd" in name  # valid UTF-8 for Parquet, marked


def test_read_folder_keeps_what_validate_keeps(tmp_path) -> None:
    from arxiv2lm.sources.archives import read_folder

    (tmp_path / "sec").mkdir()
    for name, data in {"main.tex": TEX, "sec/a.TEX": b"A", "refs.bib": b"@x", "00README": b"",
                       "fig.png": b"\x89PNG", "m.bbl": b"B"}.items():  # fmt: skip
        (tmp_path / name).write_bytes(data)
    paths, contents = read_folder(tmp_path)
    assert paths == ["00README", "m.bbl", "main.tex", "sec/a.TEX"]
    assert contents[2] == TEX


# Hostile archives: each built byte by byte (tests/sources/hostile_tars.py).


@pytest.mark.parametrize(
    ("kind", "what"),
    [
        (tarfile.XHDTYPE, "pax"),
        (tarfile.XGLTYPE, "pax global"),
        (tarfile.GNUTYPE_LONGNAME, "GNU long name"),
        (tarfile.GNUTYPE_LONGLINK, "GNU long link"),
    ],
)
def test_oversized_extended_header_is_refused_before_tarfile_parses_it(kind, what) -> None:
    # 128 Ki digits: ~25 s in the quadratic pax regex of Python < 3.11.10 (CVE-2024-6232)
    project = pax(digits(128 << 10), kind) + member("main.tex", TEX) + END
    out, seconds = timed(classify_member, "2301/2301.00030.gz", gz(project), CAPS)
    assert out == Drop("bad_tar", f"'main.tex': {what} header of 131072 bytes (cap 65536)")
    assert seconds < 2


def test_extended_headers_under_the_cap_are_read() -> None:
    path = "sec/" + "a" * 150 + ".tex"  # longer than the 100-byte ustar name: a pax path
    project = pax(record(b"path", path.encode())) + member("x", b"\\section{A}") + END
    paper = classify_member("2301/2301.00031.gz", gz(member("main.tex", TEX) + project), CAPS)
    assert paper.paths == ["main.tex", path]


@pytest.mark.parametrize(
    ("sparse", "detail"),
    [
        (gnu_sparse("big.tex", 256 << 20), "'big.tex': GNU sparse file of 268435456 bytes"),
        (pax_sparse("big.tex", 256 << 20), "'big.tex': pax GNU sparse file (format 0.1)"),
    ],
)
def test_sparse_member_is_refused_without_inflating_it(sparse, detail) -> None:
    data = gz(member("main.tex", TEX) + sparse + END)
    assert len(data) < 400  # 256 MiB once tarfile fills the holes with zeros
    out, peak = peak_bytes(classify_member, "2301/2301.00032.gz", data, CAPS)
    assert out == Drop("sparse_member", detail)
    assert peak < 4 << 20  # was 512 MiB: the holes read, then joined


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        # tarfile 3.11 raised ValueError ("invalid literal for int()") out of validate
        (record(b"GNU.sparse.map", b"x,y"), "sparse_member", "pax GNU sparse file (format 0.1)"),
        (record(b"GNU.sparse.realsize", b"x"), "bad_tar", "ValueError: invalid literal"),
        # tarfile 3.11 read `size=x` as 0 and parsed the file's bytes as headers
        (record(b"size", b"x"), "bad_tar", "pax size 'x'"),
    ],
)
def test_bad_pax_numbers_are_named_drops(body, reason, detail) -> None:
    project = member("main.tex", TEX) + pax(body) + member("sec.tex", b"\\section{B}") + END
    out = classify_member("2301/2301.00033.gz", gz(project), CAPS)
    assert isinstance(out, Drop) and out.reason == reason and detail in out.detail, out


def test_a_bad_number_tarfile_ignores_keeps_the_paper() -> None:
    project = member("main.tex", TEX) + pax(record(b"mtime", b"x")) + member("b.tex", b"B") + END
    assert classify_member("2301/2301.00034.gz", gz(project), CAPS).paths == ["main.tex", "b.tex"]


@pytest.mark.parametrize(
    ("size_field", "detail"),
    [
        (b"9x9x9x9x9x9\0", "unreadable header at offset 1024: invalid header"),
        (b"\x80" + b"\xff" * 11, "run past the end of the 3072-byte archive"),  # 2**88 bytes
        (b"\xff" * 12, "-1 bytes at offset 1536"),  # base-256 negative
    ],
)
def test_bad_size_field_in_a_project_is_bad_tar(size_field, detail) -> None:
    sec = header("sec.tex", 11, patch={124: size_field}) + pad(b"\\section{B}")
    project = member("main.tex", TEX) + sec + END
    out, seconds = timed(classify_member, "2301/2301.00035.gz", gz(project), CAPS)
    # before: the first two kept main.tex alone (sec.tex lost silently), the third hung
    assert isinstance(out, Drop) and out.reason == "bad_tar" and detail in out.detail, out
    assert seconds < 2


def test_truncated_header_in_a_project_is_bad_tar() -> None:
    project = member("main.tex", TEX) + header("sec.tex", 5)[:300]
    out = classify_member("2301/2301.00036.gz", gz(project), CAPS)
    assert out == Drop("bad_tar", "unreadable header at offset 1024: truncated header")


def test_non_utf8_unsafe_name_has_a_printable_detail() -> None:
    project = member("main.tex", TEX) + member("../r\udce9sum\udce9.tex", b"x") + END
    out = classify_member("2301/2301.00037.gz", gz(project), CAPS)
    assert out == Drop("unsafe_path", "path climbs out: '../r\ufffdsum\ufffd.tex'")
    out.detail.encode("utf-8")  # writable to Parquet


# Streaming: the TeX cap counts TeX only; figures are walked through, never held.


def _figures(figure: bytes, tex: bytes = TEX) -> bytes:
    return tar_bytes({"main.tex": tex, "figs/plot.png": figure, "main.bbl": b"\\bibitem{a}"})


def test_figures_do_not_count_toward_the_tex_cap() -> None:
    caps = Caps(max_bytes=64 << 10, max_ratio=50.0)
    figure = os.urandom(2 << 20)  # 32x the TeX cap
    for data in (gz(_figures(figure)), _figures(figure)):  # gzipped, and stored as is
        # before: too_large (the member decompressed to more than max_bytes)
        paper, peak = peak_bytes(classify_member, "2301/2301.00040.gz", data, caps)
        assert (paper.paths, paper.contents) == (["main.tex", "main.bbl"], [TEX, b"\\bibitem{a}"])
        assert peak < 2 << 20  # pieces of 256 KiB, never the 2 MiB figure


def test_tex_over_the_cap_in_a_project_is_too_large() -> None:
    caps = Caps(max_bytes=len(TEX) + 5, max_ratio=50.0)
    out = classify_member("2301/2301.00041.gz", gz(_figures(b"png")), caps)
    assert out == Drop("too_large", f"over {len(TEX) + 5} TeX bytes at 'main.bbl'")


def test_a_bomb_in_a_figure_is_a_gzip_bomb_never_inflated() -> None:
    data = gz(_figures(bytes(64 << 20)))  # 64 MiB of zeros: ~64 KiB stored
    out, peak = peak_bytes(classify_member, "2301/2301.00042.gz", data, Caps(1 << 20, 200.0))
    assert out == Drop("gzip_bomb", "ratio above 200")
    assert peak < 4 << 20  # stopped at 200x the stored bytes, a piece at a time


def test_the_whole_member_cap_counts_figures() -> None:
    caps = Caps(max_bytes=1 << 20, max_ratio=1e6, max_member_bytes=4 << 20)
    out = classify_member("2301/2301.00043.gz", gz(_figures(bytes(8 << 20))), caps)
    assert out == Drop("too_large", f"more than {4 << 20} bytes decompressed (the whole member)")
    out = classify_member("2301/2301.00043.gz", _figures(os.urandom(8 << 20)), caps)  # stored
    assert out == Drop("too_large", f"more than {4 << 20} bytes decompressed (the whole member)")


@pytest.mark.parametrize(
    ("size", "detail"),
    [  # past the whole-member cap: walked to the end to name it; under it: tarfile's check
        (1 << 40, "1099511627776 bytes at offset 1536 run past the end of the 2048-byte archive"),
        (1 << 19, "unreadable header at offset 525824: ReadError: unexpected end of data"),
    ],
)
def test_a_figure_cut_short_is_bad_tar(size: int, detail: str) -> None:
    project = member("main.tex", TEX) + header("fig.png", size) + b"\x89PNG" * 128
    caps = Caps(max_bytes=1 << 20, max_ratio=50.0, max_member_bytes=4 << 20)
    out, seconds = timed(classify_member, "2301/2301.00044.gz", gz(project), caps)
    # the data run past the end is never there to be skipped
    assert out.reason == "bad_tar" and detail in out.detail, out
    assert seconds < 1  # not a seek of 2**40 bytes, 10 KiB at a time


@pytest.mark.parametrize(
    ("head", "is_tar"),
    [
        (header("main.tex", 5), True),  # GNU/POSIX: by the ustar magic
        (header("main.tex", 5, patch={257: bytes(8)}), True),  # v7: a valid header, no magic
        (header("main.tex", 5, patch={257: bytes(8)})[:148] + b"9" * 8 + bytes(356), False),
        (b"\\documentclass{article}" + b" " * 500, False),
        (b"short", False),
    ],
)
def test_looks_like_tar(head: bytes, is_tar: bool) -> None:
    assert looks_like_tar(head) is is_tar


def test_v7_project_is_read_as_a_project() -> None:
    project = member("main.tex", TEX, patch={257: bytes(8)}) + END
    assert classify_member("2301/2301.00045.gz", gz(project), CAPS).kind == "tex_project"
