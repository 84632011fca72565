"""The comparison page: `dvc plots diff` over three revisions, with the project's dvc.yaml,
templates and offline page, rendered in headless Chromium with the network cut.

Set ARXIV2LM_SCREENSHOT=reports/plots.png to keep a screenshot of the rendered page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arxiv2lm.io import write_csv
from arxiv2lm.reports.curves import LOSS_BPB_FIELDS
from arxiv2lm.reports.funnel import DROP_FIELDS, FUNNEL_FIELDS
from arxiv2lm.reports.page import FORBIDDEN, PageError, npm_integrity, page_html
from arxiv2lm.reports.study import STUDY_FIELDS, TOKENIZER_FIELDS
from arxiv2lm.tokens.metrics import COMPARE_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / ".dvc" / "plots" / "page.html"
DVC = Path(sys.executable).with_name("dvc")
STAGES = ["filter", "validate", "extract", "normalize", "shard"]
# Every chart the page must draw: dvc.yaml's top-level plot ids.
CHARTS = {
    "funnel_tokens",
    "funnel_papers",
    "drops_tokens",
    "drops_papers",
    "loss_bits_per_byte",
    "yield_vs_bits_per_byte",
    "tokenizer_variants",
    "tokens_per_char_by_domain",
}
# Injected after the inlined Vega: wraps vegaEmbed, records console errors and, once every
# chart settled, writes what each drew into <pre id="probe"> for --dump-dom to read.
PROBE = """<script>
(function () {
  var errors = [], charts = [];
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.join.call(arguments, " "));
    consoleError.apply(console, arguments);
  };
  window.addEventListener("error", function (e) { errors.push("error: " + e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    errors.push("unhandled: " + e.reason);
  });
  function dataItems(node) {  // items of data marks (role "mark"), not of axes or legends
    var n = 0;
    (node.items || []).forEach(function (item) {
      if (node.marktype && node.role === "mark") { n += 1; }
      if (item.items) { n += dataItems(item); }
    });
    return n;
  }
  function inked(el) {  // canvas pixels that are neither transparent nor white
    var canvas = el.querySelector("canvas");
    if (!canvas || !canvas.width) { return 0; }
    var px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    var n = 0;
    for (var i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 0 && (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250)) { n += 1; }
    }
    return n;
  }
  var embed = window.vegaEmbed;
  window.vegaEmbed = function (selector, spec, opts) {
    var el = document.querySelector(selector);
    var done = embed(selector, spec, opts).then(function (result) {
      return {
        id: selector.slice(1),
        title: (spec.title && spec.title.text) || spec.title || "",
        marks: dataItems(result.view.scenegraph().root),
        inked: inked(el),
        svg: el.querySelectorAll("svg *").length
      };
    }, function (err) { errors.push(selector + ": " + err); return null; });
    charts.push(done);
    return done;
  };
  window.addEventListener("load", function () {
    Promise.all(charts).then(function (results) {
      var out = document.createElement("pre");
      out.id = "probe";
      out.textContent = JSON.stringify({errors: errors, charts: results});
      document.body.appendChild(out);
    });
  });
})();
</script>
"""


def test_page_refuses_builds_that_would_break_it():
    for bad in FORBIDDEN:
        with pytest.raises(PageError, match="would break the page"):
            page_html({"vega": f"var s = '{bad}';"})
    html = page_html({"vega": "var a = 1;", "vega-lite": "var b = {x: 2};"})
    assert html.index("var a = 1;") < html.index("var b = {x: 2};")
    # DVC replaces {scripts} with CDN <script> tags: the page must not ask for them
    assert "{plot_divs}" in html and "{refresh_tag}" in html and "{scripts}" not in html
    assert "http://" not in html and "https://" not in html


def test_npm_integrity_is_base64_sha512():
    # `printf abc | openssl dgst -sha512 -binary | base64`
    assert npm_integrity(b"abc").startswith("3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ")


def _chromium() -> str | None:
    return os.environ.get("ARXIV2LM_CHROMIUM") or shutil.which("chromium")


def _run(cmd: list[str | Path], cwd: Path) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _write_run(repo: Path, k: int, label: str) -> None:
    """The report files of one fake run, `k` scaling its numbers, with the real field lists."""
    rep = repo / "reports"
    tokens = [9000 - 900 * k, 8000 - 900 * k, 7600 - 800 * k, 7000 - 800 * k, 6900 - 800 * k]
    funnel = [
        dict.fromkeys(FUNNEL_FIELDS, 0)
        | {"order": i + 1, "stage": s, "papers_kept": 90 - 10 * i - k, "tokens_kept": t}
        for i, (s, t) in enumerate(zip(STAGES, tokens, strict=True))
    ]
    write_csv(funnel, FUNNEL_FIELDS, rep / "funnel.csv")
    drops = [
        dict.fromkeys(DROP_FIELDS, 0)
        | {"order": o, "stage": s, "reason": r, "label": f"{s}: {r}", "papers": p, "tokens": t}
        for o, s, r, p, t in [
            (1, "filter", "withdrawn", 3 + k, 0),
            (2, "validate", "pdf_only", 7, 400 * (k + 1)),
            (4, "normalize", "too_short", 2 + k, 120),
        ]
    ]
    write_csv(drops, DROP_FIELDS, rep / "drops.csv")
    curve = [
        {"split": split, "step": step, "tokens": step * 1024, "bits_per_byte": 3 / step + k / 10}
        for split, every in (("train", 10), ("val", 50))
        for step in range(every, 301, every)
    ]
    write_csv(curve, LOSS_BPB_FIELDS, rep / "loss_bpb.csv")
    study = dict.fromkeys(STUDY_FIELDS, "") | {
        "label": label,
        "yield": 0.8 - 0.05 * k,
        "val_bits_per_byte": 0.38 + 0.02 * k,
    }
    write_csv([study], STUDY_FIELDS, rep / "study.csv")
    tok = [
        {"order": o, "measure": m, "tokenizer": t, "value": v * (1 + k / 10 * (t == "project"))}
        for o, m, base in [(1, "tokens per character", 0.3), (2, "tokens per math segment", 12.0)]
        for t, v in [("project", base * 0.8), ("baseline", base)]
    ]
    write_csv(tok, TOKENIZER_FIELDS, rep / "tokenizers.csv")
    series = [
        dict.fromkeys(COMPARE_FIELDS, 0.0)
        | {"series": f"{d} · {t}", "tokens_per_char": 0.25 + 0.01 * k * (t == "project")}
        for d in ("all", "math")
        for t in ("project", "baseline")
    ]
    write_csv(series, COMPARE_FIELDS, rep / "tokenizer.csv")


@pytest.fixture
def plots_html(tmp_path: Path) -> Path:
    """`dvc plots diff` of three commits of a repo with the project's plot declarations."""
    if not PAGE.is_file():
        pytest.fail(f"{PAGE} is missing: bin/setup writes it (python -m arxiv2lm.reports.page)")
    repo = tmp_path / "repo"
    repo.mkdir()
    _run(["git", "init", "-q"], repo)
    _run(["git", "config", "user.email", "t@example.org"], repo)
    _run(["git", "config", "user.name", "t"], repo)
    _run([DVC, "init", "-q"], repo)
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    shutil.copy(ROOT / ".dvc" / "config", repo / ".dvc" / "config")
    shutil.copytree(ROOT / ".dvc" / "plots", repo / ".dvc" / "plots")
    for k, label in enumerate(["defaults", "pretrain.lr=0.002", "tokenizer.latex_symbols=none"]):
        _write_run(repo, k, label)
        _run(["git", "add", "-A", "-f", "."], repo)
        _run(["git", "commit", "-q", "-m", label], repo)
        _run(["git", "tag", f"run{k}"], repo)
    out = tmp_path / "dvc_plots"
    _run([DVC, "plots", "diff", "run0", "run1", "run2", "-o", out], repo)
    return out / "index.html"


def _chromium_cmd(chromium: str, profile: Path) -> list[str]:
    return [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # offline: any network fetch fails
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
        "--window-size=1500,4200",
    ]


@pytest.mark.slow
def test_dvc_plots_diff_page_renders_offline_in_chromium(plots_html, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium): page not rendered")
    html = plots_html.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", html), "the page loads a script from elsewhere"
    assert html.count("vegaEmbed(") == len(CHARTS)
    probed = tmp_path / "probed.html"
    head = html.rindex("</head>")  # the last one: vega-embed's code has one in a string
    probed.write_text(html[:head] + PROBE + html[head:], encoding="utf-8")
    cmd = _chromium_cmd(chromium, tmp_path / "profile")
    done = subprocess.run(
        [*cmd, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=180
    )
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page never finished drawing:\n{done.stderr[-3000:]}"
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["errors"] == []
    charts = {c["id"]: c for c in probe["charts"] if c}
    assert set(charts) == CHARTS
    for chart in charts.values():
        assert chart["marks"] > 0, chart  # bars, points or lines of the data
        assert chart["inked"] > 500 or chart["svg"] > 0, chart  # and they reached the canvas
        assert chart["title"] and "/" not in chart["title"], chart  # words, not a file path
    # three runs: a bar per stage and run; a point per run in the study chart
    assert charts["funnel_tokens"]["marks"] >= len(STAGES) * 3
    assert charts["yield_vs_bits_per_byte"]["marks"] >= 3
    shot = os.environ.get("ARXIV2LM_SCREENSHOT")
    if shot:
        path = Path(shot).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*cmd, f"--screenshot={path}", plots_html.as_uri()],
            capture_output=True,
            timeout=180,
            check=True,
        )
        assert path.stat().st_size > 10_000
