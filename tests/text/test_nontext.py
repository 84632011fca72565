"""Binary junk is `not_text`; real papers, the sample's papers and non-Latin text are not."""

from __future__ import annotations

import base64
import csv
import random
from pathlib import Path

import pytest

from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.ledger import Drop
from arxiv2lm.sources.archives import read_folder
from arxiv2lm.sources.sample_tex import make_paper
from arxiv2lm.text.nontext import (
    _CONTROL_RANGES,
    MAX_ASCII_RUN,
    ascii_run,
    control_share,
    not_text,
)
from tests.helpers import project_params

PAPERS = Path(__file__).resolve().parents[2].parent / "shared/realdata/papers"
PROSE = "We prove that the energy $E_{n}$ of the field decreases; see Theorem 2.1. " * 40
EXTRACT = project_params("extract", workers=1)


def _extract(paths: list[str], contents: list[bytes]) -> str:
    r = extract_paper(paths, contents, EXTRACT)
    assert isinstance(r, ExtractResult), r
    return r.text


def _random_bytes(n: int, skip: bytes = b"") -> bytes:
    rng = random.Random(0)
    return bytes(b for b in rng.randbytes(n) if b not in skip)


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x08", "\x0b", "\x0e", "\x1f", "\x7f", "\x85", "\x9f", "\ufffd"],
)
def test_each_control_range(char: str) -> None:
    assert len(_CONTROL_RANGES) == 5  # C0 low, VT, C0 high, DEL+C1, U+FFFD: all listed here
    few = PROSE[:990] + char * 5  # 0.5%: stray controls in a real file
    many = PROSE[:980] + char * 20  # 2%
    assert control_share(many) == pytest.approx(0.02)
    assert not_text(few) is None
    drop = not_text(many)
    assert drop is not None and drop.reason == "not_text"
    assert drop.detail == "control chars 2.0% of 1000 (> 1%)"


def test_text_whitespace_is_not_control() -> None:
    assert control_share("a\tb\nc\x0cd\re") == 0.0
    assert not_text("\t\n\x0c\r" * 300 + PROSE) is None


@pytest.mark.parametrize(
    "data,skip",
    [
        (1_000_000, b""),  # C1 controls too
        (1_000_000, b"\x81\x8d\x8f\x90\x9d"),  # no byte cp1252 lacks: every byte decodes
    ],
)
def test_random_bytes_named_main_tex_are_dropped_at_extract(data: int, skip: bytes) -> None:
    """Bytes that are no text in any codec (C0 control bytes over 1%) never reach normalize:
    extract drops the paper as `bad_encoding` instead of decoding junk."""
    r = extract_paper(["main.tex"], [_random_bytes(data, skip)], EXTRACT)
    assert isinstance(r, Drop) and r.reason == "bad_encoding", r
    assert "control bytes" in r.detail


def test_utf16_without_a_bom_is_dropped_and_junk_after_a_bom_is_not_text() -> None:
    utf16 = ("\\section{Intro} Some text about things.\n" * 2000).encode("utf-16-le")
    r = extract_paper(["main.tex"], [utf16], EXTRACT)
    assert isinstance(r, Drop) and r.reason == "bad_encoding"  # a NUL every other byte
    bom = b"\xef\xbb\xbf" + _random_bytes(100_000)
    text = _extract(["main.tex"], [bom])  # the BOM says UTF-8: decoded with U+FFFD, then
    assert control_share(text) > 0.4  # normalize's not_text drops it
    drop = not_text(text)
    assert drop is not None and drop.reason == "not_text"


def test_base64_blob() -> None:
    blob = base64.encodebytes(_random_bytes(200_000)).decode()
    assert ascii_run(blob) == pytest.approx(76.0, abs=0.1)
    drop = not_text(blob)
    assert drop is not None and drop.detail.startswith("ASCII runs of 76.")
    assert not_text(PROSE + blob[:2000]) is None  # an embedded blob alone is not junk


@pytest.mark.parametrize(
    "text",
    [
        "数学的帰納法によって、すべての自然数について命題が成り立つことを証明する。" * 50,
        "Доказательство проводится индукцией по $n$; при $n=1$ утверждение очевидно. " * 30,
        "Tiếng Việt có dấu: người được những nghiêng, chứng minh định lý. " * 30,
        "$$\\sum_{i=1}^{n} \\alpha_{i} x_{i}^{2} = \\frac{a}{b} \\quad i \\in [n]$$\n" * 40,
        "",
    ],
)
def test_text_in_other_scripts_and_math_is_text(text: str) -> None:
    assert ascii_run(text) < MAX_ASCII_RUN / 2
    assert not_text(text) is None


def test_sample_papers_are_text() -> None:
    """Every layout and domain of the sample generator, latin-1 ones too, through extract."""
    rng = random.Random(11)
    for layout in ("project", "single", "plain", "body"):
        for domain in ("math", "cs", "physics"):
            for latin1 in (False, True):
                paper = make_paper(rng, domain, layout, latin1=latin1)
                text = _extract(list(paper.files), list(paper.files.values()))
                assert not_text(text) is None, (layout, domain, latin1)
                assert control_share(text) == 0.0 and ascii_run(text) < 10


def _real_papers() -> list[str]:
    if not (PAPERS / "SOURCES.tsv").exists():
        return []
    with (PAPERS / "SOURCES.tsv").open(encoding="utf-8") as fh:
        return [r["folder"] for r in csv.DictReader(fh, delimiter="\t")]


@pytest.mark.skipif(not _real_papers(), reason=f"{PAPERS} absent")
@pytest.mark.parametrize("folder", _real_papers() or ["none"])
def test_real_papers_are_text(folder: str) -> None:
    text = _extract(*read_folder(PAPERS / folder))
    assert not_text(text) is None
    assert control_share(text) == 0.0 and ascii_run(text) < 10  # 5.3-8.6 when written
