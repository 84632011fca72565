"""Real paper folders read for the tokenizer's report: the listing, its drops, and the stage
scoring the model on them (`tokenizer.real_papers`)."""

from __future__ import annotations

import csv
import importlib
import json
from pathlib import Path

import pytest
import sentencepiece as spm
import yaml

from arxiv2lm.io import read_json
from arxiv2lm.tokens import metrics
from arxiv2lm.tokens.realpapers import (
    RealDrop,
    domain_of,
    load_real_papers,
    paper_rows,
)
from tests.helpers import project_params

from .test_tokenizer import _stage_project

XP = project_params("extract")
STAGE_ARGV = ["normalize", "tokenizer", "reports/tokenizer.json", "reports/tokenizer.csv"]


def _tex(topic: str) -> str:
    return (
        "\\documentclass{article}\n\\begin{document}\n\\section{Introduction}\n"
        f"We study {topic}: the energy $E = \\frac{{1}}{{2}} m v^2$ is bounded by "
        "$\\alpha + \\beta$.\n\\begin{equation} \\sum_i x_i \\leq \\sqrt{y} \\end{equation}\n"
        "The proof of the lemma follows from the norm of the field.\n\\end{document}\n"
    )


def make_papers(root: Path, sources: list[tuple[str, str]] | None) -> Path:
    """Paper folders `root`/{hep, algebra, nets} with a main .tex each, and a SOURCES.tsv
    of the (folder, field) rows `sources` unless None."""
    for name in ("hep", "algebra", "nets"):
        (root / name / "sec").mkdir(parents=True)
        (root / name / "main.tex").write_text(_tex(name), encoding="utf-8")
        (root / name / "sec" / "fig.png").write_bytes(b"\x89PNG" + bytes(range(256)) * 64)
    if sources is not None:
        with (root / "SOURCES.tsv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, delimiter="\t")
            w.writerow(["folder", "repository", "field", "notes"])
            w.writerows([folder, "x/y", field, ""] for folder, field in sources)
    return root


LISTED = [("hep", "hep-th (arXiv 1234.5678)"), ("algebra", "math.AG"), ("nets", "cs.LG stat.ML")]


@pytest.mark.parametrize(
    ("field", "domain"),
    [
        ("cs.CL (arXiv 1911.02782, ACL 2020)", "cs"),
        ("eess.SP", "cs"),
        ("math.AG hep-th", "math"),
        ("stat.ML cs.LG", "math"),
        ("quant-ph (arXiv 1708.00137)", "physics"),
        ("astro-ph.CO", "physics"),
        ("", "unknown"),
        ("   ", "unknown"),
    ],
)
def test_domain_is_the_group_of_the_first_category(field: str, domain: str) -> None:
    assert domain_of(field) == domain


def test_listed_papers_come_normalized_with_their_domains(tmp_path: Path) -> None:
    root = make_papers(tmp_path, LISTED)
    papers, drops = load_real_papers(root, XP)
    assert drops == []
    assert [(p.folder, p.domain) for p in papers] == [
        ("hep", "physics"),
        ("algebra", "math"),
        ("nets", "cs"),
    ]
    text = papers[0].text
    assert "We study hep" in text and r"$E = \frac{1}{2} m v^2$" in text
    assert "\\documentclass" not in text and "\\section" not in text


def test_a_folder_without_sources_lists_every_subfolder_as_unknown(tmp_path: Path) -> None:
    root = make_papers(tmp_path, None)
    (root / "notes.txt").write_text("a file, not a paper")
    assert paper_rows(root) == [("algebra", "unknown"), ("hep", "unknown"), ("nets", "unknown")]
    papers, drops = load_real_papers(root, XP)
    assert [p.folder for p in papers] == ["algebra", "hep", "nets"] and drops == []


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("../hep", "bad_folder_name"),
        ("sub/hep", "bad_folder_name"),
        ("..", "bad_folder_name"),
        ("", "bad_folder_name"),
        ("hep", "duplicate"),
        ("gone", "missing_folder"),
        ("x" * 300, "unreadable"),  # longer than a file name may be
        ("bibonly", "no_main_tex"),
    ],
)
def test_a_bad_row_is_a_named_drop(tmp_path: Path, folder: str, reason: str) -> None:
    root = make_papers(tmp_path / "papers", [*LISTED, (folder, "math.AG")])
    (root / "bibonly").mkdir()
    (root / "bibonly" / "refs.bib").write_text("@article{x, title={y}}")
    papers, drops = load_real_papers(root, XP)
    assert [p.folder for p in papers] == ["hep", "algebra", "nets"]
    assert [(d.folder, d.reason) for d in drops] == [(folder, reason)]


def test_a_folder_over_the_cap_is_dropped_before_it_is_read(tmp_path: Path) -> None:
    root = make_papers(tmp_path, LISTED)
    (root / "nets" / "big.tex").write_bytes(b"%" * 5000)
    papers, drops = load_real_papers(root, XP, max_paper_bytes=4000)
    assert [p.folder for p in papers] == ["hep", "algebra"]
    assert drops == [RealDrop("nets", "too_large", drops[0].detail)]
    assert "4000" in drops[0].detail


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.tex").write_text("\\section{Secret} do not read me")
    root = make_papers(tmp_path / "papers", [*LISTED, ("linked", "cs.LG")])
    (root / "hep" / "extra.tex").symlink_to(outside / "secret.tex")
    (root / "hep" / "sub").symlink_to(outside, target_is_directory=True)
    (root / "linked").symlink_to(outside, target_is_directory=True)
    papers, drops = load_real_papers(root, XP)
    assert all("Secret" not in p.text for p in papers)
    assert [(d.folder, d.reason) for d in drops] == [("linked", "missing_folder")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name\tfield\nhep\tmath.AG\n", "lacks the column"),
        (b"folder\tfield\n\xff\xfe\tmath\n", "not a UTF-8"),
    ],
)
def test_a_broken_listing_is_an_error(tmp_path: Path, content: bytes, message: str) -> None:
    root = make_papers(tmp_path, None)
    (root / "SOURCES.tsv").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_real_papers(root, XP)


def test_no_paper_left_scores_nothing(trained: tuple[Path, dict]) -> None:
    sp = spm.SentencePieceProcessor(model_file=str(trained[0] / "tokenizer.model"))
    real = metrics.evaluate_real(sp, sp, [], [RealDrop("a", "too_large", "")], 200)
    assert real["ours"] is None and real["docs"] == [] and real["drops"][0]["reason"] == "too_large"
    assert "real_docs" not in metrics.report_metrics(
        {"docs": 1} | dict.fromkeys(metrics.REPORT_KEYS, 0), None, real
    )
    pinned = metrics.evaluate_real(sp, None, [("p", "math", "Let $x^2$ be \\emph{even}.")], [], 200)
    assert pinned["baseline"] is None and pinned["ours"]["docs"] == 1
    assert pinned["ours"]["commands_checked"] == 1  # the papers' own commands: \emph
    rows = metrics.comparison_rows(pinned["ours"], None, pinned)
    assert [r["series"] for r in rows] == [
        "all · project",
        "math · project",
        "real · all · project",
        "real · math · project",
    ]


def _run_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_papers: str
) -> tuple[dict, dict, list[dict[str, str]]]:
    """The tokenizer stage on the tiny corpus with `tokenizer.real_papers` set: (stats,
    reports/tokenizer.json, reports/tokenizer.csv rows)."""
    stage = importlib.import_module("stages.tokenizer")
    monkeypatch.chdir(tmp_path)
    _stage_project(tmp_path, 0.25, "a")
    doc = yaml.safe_load((tmp_path / "params.yaml").read_text())
    doc["tokenizer"]["real_papers"] = real_papers
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(doc))
    stage.main(STAGE_ARGV)
    report = json.loads((tmp_path / "reports/tokenizer.json").read_text())
    with (tmp_path / "reports/tokenizer.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return read_json(tmp_path / "tokenizer/stats.json"), report, rows


def test_stage_scores_both_tokenizers_on_the_real_papers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_papers(tmp_path / "shared" / "papers", [*LISTED, ("gone", "cs.LG")])
    stats, report, rows = _run_stage(tmp_path, monkeypatch, "shared/papers")
    real = stats["real"]
    assert real["docs"] == ["hep", "algebra", "nets"]
    assert real["domains"] == {"cs": 1, "math": 1, "physics": 1}
    assert [(d["folder"], d["reason"]) for d in real["drops"]] == [("gone", "missing_folder")]
    ours, base = real["ours"], real["baseline"]
    assert ours["docs"] == base["docs"] == 3 and set(ours["domains"]) == {"cs", "math", "physics"}
    assert ours["roundtrip_rate"] == 1.0 and ours["math_segments"] == 3 * 3
    assert report["real_docs"] == 3
    assert report["real_tokens_per_char"] == ours["tokens_per_char"] > 0
    assert report["real_baseline_tokens_per_char"] == base["tokens_per_char"] > 0
    assert report["real_tokens_per_math_segment"] == ours["tokens_per_math_segment"]
    assert report["real_byte_fallback_rate"] == ours["byte_fallback_rate"]
    assert report["heldout_docs"] == stats["heldout"]["docs"]  # the sample's keys stay
    real_rows = [r for r in rows if r["set"] == "real"]
    assert [r["series"] for r in real_rows[:2]] == ["real · all · project", "real · all · baseline"]
    assert len(real_rows) == 2 * 4 and {r["set"] for r in rows} == {"sample", "real"}
    out, err = capsys.readouterr()
    assert "tokenizer: real papers: 3 from shared/papers" in out
    assert f"tokens/char {ours['tokens_per_char']} (baseline {base['tokens_per_char']})" in out
    assert "real paper gone dropped: missing_folder" in err


@pytest.mark.parametrize("setting", ["absent/papers", ""])
def test_stage_without_real_papers_writes_no_real_keys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
) -> None:
    stats, report, rows = _run_stage(tmp_path, monkeypatch, setting)
    assert stats["real"] is None
    assert not [k for k in report if k.startswith("real_")] and report["heldout_docs"] > 0
    assert {r["set"] for r in rows} == {"sample"}
    skipped = "tokenizer: real papers: absent/papers absent, skipped"
    assert (skipped in capsys.readouterr().out) == bool(setting)


REAL = Path(__file__).resolve().parents[2].parent / "shared" / "realdata" / "papers"


@pytest.mark.skipif(not (REAL / "SOURCES.tsv").is_file(), reason=f"{REAL} absent")
def test_every_real_dev_paper_is_kept_with_its_domain() -> None:
    rows = paper_rows(REAL)
    papers, drops = load_real_papers(REAL, XP)
    assert drops == [] and [p.folder for p in papers] == [folder for folder, _ in rows]
    assert {p.domain for p in papers} == {"cs", "math", "physics"}
    assert all(len(p.text) > 1000 and "\\begin{document}" not in p.text for p in papers)
