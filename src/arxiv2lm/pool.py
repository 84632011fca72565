"""Ordered parallel map over a stream in bounded batches, with a per-item time limit.

The limit is a per-worker `SIGALRM` interval timer: the handler raises `ItemTimeout` inside
the running item, so the worker survives and moves to the next one (no pool restarts).

>>> list(map_ordered(abs, [-1, 2, -3], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
BATCH_PER_WORKER = 32  # items in flight per worker: bounds memory, keeps workers busy


class ItemTimeout(Exception):
    """One item ran past its wall-clock limit."""


def _raise_timeout(signum: int, frame: object) -> None:
    raise ItemTimeout


def call_with_timeout(fn: Callable[[T], R], item: T, timeout_s: float) -> R:
    """`fn(item)`, raising ItemTimeout after `timeout_s` seconds (0 = no limit)."""
    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        return fn(item)
    old = signal.signal(signal.SIGALRM, _raise_timeout)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(item)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """Yield `fn(item)` for each item, in input order, using `workers` processes."""
    if workers <= 1:
        yield from map(fn, items)
        return
    # forkserver: no inherited Arrow threads; an executor (unlike mp.Pool) raises
    # BrokenProcessPool when a worker dies (OOM kill) instead of waiting forever.
    ctx = mp.get_context("forkserver")
    batch_size = BATCH_PER_WORKER * workers
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        batch: list[T] = []
        for item in items:
            batch.append(item)
            if len(batch) >= batch_size:
                yield from pool.map(fn, batch, chunksize=4)
                batch = []
        if batch:
            yield from pool.map(fn, batch, chunksize=4)
