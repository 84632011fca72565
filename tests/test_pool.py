import time

import pytest

from arxiv2lm.pool import ItemTimeout, call_with_timeout, map_ordered
from arxiv2lm.text.normalize import normalize_text


def _square(x: int) -> int:
    return x * x


def test_map_ordered_in_order_with_processes():
    # workers import the function by name, so it must live in an importable module
    items = [f"a  {i}" for i in range(200)]
    out = list(map_ordered(normalize_text, iter(items), workers=2))
    assert out == [f"a {i}" for i in range(200)]


def test_timeout_interrupts_a_slow_item():
    start = time.perf_counter()
    with pytest.raises(ItemTimeout):
        call_with_timeout(lambda _: time.sleep(5), None, 0.05)
    assert time.perf_counter() - start < 1
    assert call_with_timeout(_square, 3, 1.0) == 9  # the timer was disarmed
