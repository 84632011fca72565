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
    assert p.model.n_layer is None
    assert p.phases[0].mixture["low"] == pytest.approx(0.6)
    bad = _section("pretrain")
    bad["phases"] = [dict(bad["phases"][0], seq_len="long")]
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
