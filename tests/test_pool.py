import multiprocessing as mp
import os
import signal
import time

import pytest

from arxiv2lm.pool import (
    ItemTimeout,
    WorkerLost,
    call_with_timeout,
    hard_limit_s,
    map_ordered,
    map_supervised,
)
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


# map_supervised: workers import these by name (tests.test_pool), so they live at module level.


def _die_on_negative(x: int) -> int:
    if x < 0:
        os.kill(os.getpid(), -x)  # what the OOM killer does to a worker (SIGKILL = 9)
    return x * x


def _stuck_in_c(seconds: float) -> str:
    """An item SIGALRM cannot end, like a long C call: the signal is blocked while it runs."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        return call_with_timeout(time.sleep, seconds, 0.2, label=f"sleep {seconds}")
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


def _soft_limited(seconds: float) -> str:
    try:
        call_with_timeout(time.sleep, seconds, 0.2)
    except ItemTimeout:
        return "timeout"
    return "done"


def _fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad item {x}")
    return x


def test_map_supervised_in_order_with_processes():
    assert list(map_supervised(_square, iter(range(100)), workers=2)) == [x * x for x in range(100)]


def test_a_killed_worker_is_named_and_replaced():
    start = time.perf_counter()
    out = list(map_supervised(_die_on_negative, [1, 2, -signal.SIGKILL, 4, -signal.SIGSEGV, 6], 2))
    assert out[:2] == [1, 4] and out[3] == 16 and out[5] == 36
    assert out[2] == WorkerLost(2, -9) and str(out[2]) == "killed by signal 9, out of memory?"
    assert str(out[4]) == "killed by signal 11"
    assert time.perf_counter() - start < 30  # mp.Pool would have waited forever


def test_hard_limit_kills_an_item_sigalrm_cannot_stop():
    start = time.perf_counter()
    out = list(map_supervised(_stuck_in_c, [30.0, 0.0], workers=1))
    elapsed = time.perf_counter() - start
    lost = out[0]
    assert isinstance(lost, WorkerLost) and lost.index == 0
    assert lost.hard_limit_s == hard_limit_s(0.2) == 1.3
    assert str(lost) == "killed at its hard time limit of 1.3 s, in sleep 30.0"
    assert out[1] is None  # a fresh worker ran the next item
    assert elapsed < 10  # not the 30 s the item wanted


def test_soft_limit_still_ends_python_code_in_a_supervised_worker():
    assert list(map_supervised(_soft_limited, [5.0, 0.0], workers=1)) == ["timeout", "done"]


def test_worker_exception_is_raised_at_its_item_and_workers_are_stopped():
    seen = []
    with pytest.raises(ValueError, match="bad item 3") as info:
        for x in map_supervised(_fail_on_three, range(10), workers=2):
            seen.append(x)
    assert seen == [0, 1, 2]
    assert "_fail_on_three" in str(info.value.__cause__)  # the worker's traceback
    assert mp.active_children() == []


def test_closing_early_stops_the_workers():
    it = map_supervised(_square, range(1000), workers=2)
    assert next(it) == 0
    it.close()
    assert mp.active_children() == []
