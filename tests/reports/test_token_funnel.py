from pathlib import Path

import pyarrow.parquet as pq
import pytest

from arxiv2lm.reports.token_funnel import STAGES, token_funnel
from arxiv2lm.reports.tokens import doc_tokens
from tests.reports.synthetic import KEPT, NORM_DROP, SIZES, build


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build(tmp_path_factory.mktemp("funnel"))


def _texts(stage_dir: Path) -> dict[str, str]:
    rows = pq.read_table(stage_dir / "parts" / "arXiv_src_2301_001.parquet").to_pylist()
    return {r["id"]: r["text"] for r in rows}


def _shard_tokens(project: dict[str, Path]) -> int:
    model = str(project["model"])
    return sum(doc_tokens(t, model) for t in _texts(project["normalize"]).values())


def _funnel(project: dict[str, Path], **kw: object):
    dirs = {s: project[s] for s in STAGES}
    return token_funnel(dirs, _shard_tokens(project), project["ingest"], project["model"], **kw)


def test_counted_stages_use_the_text_at_hand(project: dict[str, Path]) -> None:
    tf = _funnel(project)
    model = str(project["model"])
    extracted, normalized = _texts(project["extract"]), _texts(project["normalize"])
    norm, shard = tf.stages["normalize"], tf.stages["shard"]
    assert norm.tokens_in == sum(doc_tokens(t, model) for t in extracted.values())
    assert norm.dropped == {"exact_duplicate": doc_tokens(extracted[NORM_DROP], model)}
    assert norm.tokens_kept == sum(doc_tokens(t, model) for t in normalized.values())
    assert norm.tokens_trimmed > 0  # half of 2301.00001 and the math-only paper were cut
    assert shard.dropped == {"empty_after_tokenize": 0} and shard.tokens_in == shard.tokens_kept
    assert tf.check["error_pct"] == 0.0


def test_stages_without_text_are_estimated_from_sizes(project: dict[str, Path]) -> None:
    tf = _funnel(project)
    comp, tex = tf.compressed, tf.tex
    model = str(project["model"])
    extracted = _texts(project["extract"])
    counted = {i: doc_tokens(t, model) for i, t in extracted.items()}
    # tokens per compressed byte: fitted on extract's kept papers and their first members
    sizes = {i: SIZES[i.split("v")[0]] for i in counted}
    assert comp.papers == len(counted)
    assert comp.tokens_per_byte == round(sum(counted.values()) / sum(sizes.values()), 6)
    assert comp.median_abs_pct_error is not None and comp.median_abs_pct_error > 0
    assert tex.tokens_per_byte == round(
        sum(counted.values()) / sum(3 * len(t) for t in extracted.values()), 6
    )
    ex, va, fi = tf.stages["extract"], tf.stages["validate"], tf.stages["filter"]
    assert ex.dropped == {"timeout": tex.estimate(5000)}
    assert va.dropped == {"pdf_only": comp.estimate(SIZES["2301.00005"]), "missing_source": 0}
    assert va.unsized == {"pdf_only": 0, "missing_source": 1}
    # a filter drop with a member in the chunks is estimated; one without has no size
    assert fi.dropped == {"category_excluded": comp.estimate(SIZES["2301.00009"]), "withdrawn": 0}
    assert fi.unsized == {"category_excluded": 0, "withdrawn": 1}
    assert {s: t.method for s, t in tf.stages.items()}["filter"] == "estimate_compressed_bytes"


def test_each_stage_hands_its_kept_tokens_to_the_next(project: dict[str, Path]) -> None:
    tf = _funnel(project)
    stages = list(tf.stages.values())
    assert [s.stage for s in stages] == list(STAGES)
    for before, after in zip(stages, stages[1:], strict=False):
        assert before.tokens_kept == after.tokens_in
    lost = sum(s.tokens_dropped + s.tokens_trimmed for s in stages)
    assert lost == stages[0].tokens_in - stages[-1].tokens_kept
    assert all(s.tokens_trimmed == 0 for s in stages if s.stage != "normalize")


def test_a_sampled_count_scales_by_bytes(project: dict[str, Path]) -> None:
    exact = _funnel(project)
    sampled = _funnel(project, sample_fraction=0.5, seed=2)
    assert sampled.sample_fraction == 0.5 and sampled.describe()["count"] == "sampled"
    assert 0 < sampled.compressed.papers < exact.compressed.papers
    # the sampled count of normalize's text against shard's exact count is its error
    check = sampled.check
    assert check["shard_tokens_in"] == _shard_tokens(project)
    assert check["error_pct"] == round(
        (check["normalize_text_tokens"] - check["shard_tokens_in"])
        / check["normalize_text_tokens"]
        * 100,
        3,
    )


def test_a_shard_count_of_another_convention_is_refused(project: dict[str, Path]) -> None:
    dirs = {s: project[s] for s in STAGES}
    wrong = _shard_tokens(project) + len(KEPT)  # e.g. a BOS per paper
    with pytest.raises(ValueError, match="differ from shard's input"):
        token_funnel(dirs, wrong, project["ingest"], project["model"])


def test_missing_stage_folders_are_named(project: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"\['shard'\]"):
        token_funnel({s: project[s] for s in STAGES[:-1]}, 0, project["ingest"], project["model"])
