from pathlib import Path

import pytest
import yaml

from arxiv2lm.params import SECTIONS, ParamsError, load_params, parse_section, resolve_workers

ROOT = Path(__file__).resolve().parents[1]


def _section(name: str) -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())[name]


@pytest.mark.parametrize("section", list(SECTIONS))
def test_every_section_of_the_shipped_params_loads(section: str) -> None:
    assert load_params(section, ROOT / "params.yaml") is not None


def test_every_params_section_has_a_dataclass() -> None:
    assert set(yaml.safe_load((ROOT / "params.yaml").read_text())) == set(SECTIONS)


def test_misspelt_key_names_section_and_key() -> None:
    raw = _section("normalize") | {"min_charz": 10}
    with pytest.raises(ParamsError, match=r"normalize: unknown key 'min_charz'"):
        parse_section("normalize", raw)


def test_wrong_type_names_key_and_value() -> None:
    raw = _section("tokenizer") | {"vocab_size": "big"}
    with pytest.raises(ParamsError, match=r"tokenizer\.vocab_size: expected an integer, got 'big'"):
        parse_section("tokenizer", raw)


def test_bool_is_not_an_int() -> None:
    raw = _section("pretrain") | {"max_steps": True}
    with pytest.raises(ParamsError, match="pretrain.max_steps"):
        parse_section("pretrain", raw)


def test_missing_key() -> None:
    raw = dict(_section("shard"))
    del raw["val_fraction"]
    with pytest.raises(ParamsError, match="shard: missing key 'val_fraction'"):
        parse_section("shard", raw)


def test_literal_choices_checked() -> None:
    raw = _section("tokenizer") | {"model_type": "wordpiece"}
    with pytest.raises(ParamsError, match=r"model_type: 'wordpiece' is not one of"):
        parse_section("tokenizer", raw)


def test_nested_dataclasses_and_lists() -> None:
    p = parse_section("pretrain", _section("pretrain"))
    assert p.model.n_layer is None and p.phases is None  # the preset's
    phase = {"name": "a", "fraction": 1.0, "seq_len": 64, "mixture": {"low": 0.6}}
    p = parse_section("pretrain", _section("pretrain") | {"phases": [phase]})
    assert p.phases[0].mixture["low"] == pytest.approx(0.6)
    bad = _section("pretrain")
    bad["phases"] = [dict(phase, seq_len="long")]
    with pytest.raises(ParamsError, match=r"pretrain\.phases\[0\]\.seq_len"):
        parse_section("pretrain", bad)
    bad = _section("pretrain") | {"model": {"n_layers": 2}}
    with pytest.raises(ParamsError, match="pretrain.model: unknown key 'n_layers'"):
        parse_section("pretrain", bad)


def test_int_accepted_for_float() -> None:
    raw = _section("validate") | {"max_paper_mb": 10}
    assert parse_section("validate", raw).max_paper_mb == 10.0


def test_workers() -> None:
    assert resolve_workers(3) == 3
    assert resolve_workers(0) >= 1
    with pytest.raises(ParamsError):
        resolve_workers(-1)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("lr", 0.0, r"pretrain\.lr: 0\.0 must be > 0"),
        ("lr", -1e-3, r"pretrain\.lr: -0\.001 must be > 0"),
        ("min_lr", 0.0, r"pretrain\.min_lr: 0\.0 must be > 0"),
        ("min_lr", 1.0, r"pretrain\.min_lr: 1\.0 is above lr"),
        ("max_steps", 0, r"pretrain\.max_steps: 0 must be >= 1"),
        ("global_batch", 0, r"pretrain\.global_batch: 0 must be >= 1"),
        ("cpu_processes", 0, r"pretrain\.cpu_processes: 0 must be >= 1"),
        ("threads", -1, r"pretrain\.threads: -1 must be >= 0"),
        ("phases", [], r"pretrain\.phases: needs at least one phase"),
    ],
)
def test_pretrain_ranges_are_checked_by_the_loader(key: str, value: object, message: str) -> None:
    raw = _section("pretrain") | {"lr": 3e-3, key: value}
    with pytest.raises(ParamsError, match=message):
        parse_section("pretrain", raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"seq_len": 0}, r"evaluate: seq_len 0 must be >= 1"),
        ({"max_docs": -1}, r"evaluate: max_docs -1 must be >= 0"),
        ({"batch_size": 0}, r"evaluate: batch_size 0 must be >= 1"),
    ],
)
def test_evaluate_ranges_are_checked_by_the_loader(raw: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=message):
        parse_section("evaluate", _section("evaluate") | raw)


def test_validate_timeout_is_checked_by_the_loader() -> None:
    assert parse_section("validate", _section("validate")).timeout_s == 60.0
    with pytest.raises(ParamsError, match=r"validate: timeout_s -1\.0 must be >= 0"):
        parse_section("validate", _section("validate") | {"timeout_s": -1})


@pytest.mark.parametrize("key", ["min_chars", "min_words"])
def test_normalize_minimums_cannot_be_negative(key: str) -> None:
    with pytest.raises(ParamsError, match=rf"normalize: {key} -1 must be >= 0"):
        parse_section("normalize", _section("normalize") | {key: -1})
