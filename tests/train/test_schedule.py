import math

import pytest

from arxiv2lm.train.schedule import lr_at

KW = dict(lr=1e-3, min_lr=1e-4, warmup_steps=10, max_steps=110)


def test_warmup_is_linear_from_lr_over_warmup():
    assert lr_at(0, **KW) == pytest.approx(1e-4)
    assert lr_at(4, **KW) == pytest.approx(5e-4)
    assert lr_at(9, **KW) == pytest.approx(1e-3)


def test_cosine_peak_middle_and_floor():
    assert lr_at(10, **KW) == pytest.approx(1e-3)
    assert lr_at(60, **KW) == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert lr_at(110, **KW) == pytest.approx(1e-4)
    assert lr_at(500, **KW) == pytest.approx(1e-4)


def test_monotone_decay_after_warmup():
    values = [lr_at(s, **KW) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert not any(math.isnan(v) for v in values)


def test_no_warmup():
    assert lr_at(0, lr=1.0, min_lr=0.0, warmup_steps=0, max_steps=10) == pytest.approx(1.0)
