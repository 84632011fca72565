"""Parallel maps over a stream, with per-item time limits that also stop C code.

`map_ordered` runs items in a ProcessPoolExecutor: fast for many small items, and a dead
worker raises BrokenProcessPool for every item in flight (which one died is unknown).
`map_supervised` gives each worker its own pipe and watches it: a worker that dies (OOM
kill, crash) or passes its hard limit becomes a `WorkerLost` result for exactly its item,
and a fresh worker takes the next one.

`call_with_timeout` is the soft limit: a per-worker `SIGALRM` interval timer raises
`ItemTimeout` inside the running item, so the worker survives. Python runs the handler only
between bytecodes, so C code (a regex, zlib, a parser extension) can outlast it; inside
`map_supervised` the same call also arms a hard limit, `hard_limit_s(timeout_s)`, at which
the parent kills the worker.

>>> list(map_ordered(abs, [-1, 2, -3], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")
BATCH_PER_WORKER = 32  # items in flight per worker: bounds memory, keeps workers busy
# The parent kills a worker at 1.5x the soft limit plus a second: SIGALRM's handler waits
# for the C call to return, and the regex engine checks for signals only every ~0.5 s.
KILL_FACTOR = 1.5
KILL_GRACE_S = 1.0
_POLL_S = 0.25  # how often the parent looks at deadlines armed since it began waiting
_LABEL_BYTES = 240  # what a worker says it is doing, shown when it is killed


class ItemTimeout(Exception):
    """One item ran past its wall-clock limit."""


def hard_limit_s(timeout_s: float) -> float:
    """When the parent kills a supervised worker whose soft limit `timeout_s` did not stop it.

    >>> hard_limit_s(60)
    91.0
    """
    return timeout_s * KILL_FACTOR + KILL_GRACE_S


class _Deadline:
    """A worker's hard deadline (monotonic seconds, 0 = none), its length and a label, in
    shared memory: the parent reads them without a message (the worker may be stuck in C)."""

    def __init__(self, ctx: Any) -> None:
        self.at = ctx.RawValue(ctypes.c_double, 0.0)
        self.seconds = ctx.RawValue(ctypes.c_double, 0.0)
        self.label = ctx.RawArray(ctypes.c_char, _LABEL_BYTES)

    def arm(self, seconds: float, label: str) -> tuple[float, float, bytes]:
        prev = (self.at.value, self.seconds.value, self.label.value)
        self.label.value = label.encode("utf-8", "replace")[: _LABEL_BYTES - 1]
        self.seconds.value = seconds
        self.at.value = time.monotonic() + seconds
        return prev

    def restore(self, prev: tuple[float, float, bytes]) -> None:
        self.at.value, self.seconds.value, self.label.value = prev


_DEADLINE: _Deadline | None = None  # set in a map_supervised worker


def _raise_timeout(signum: int, frame: object) -> None:
    raise ItemTimeout


def call_with_timeout(fn: Callable[[T], R], item: T, timeout_s: float, label: str = "") -> R:
    """`fn(item)`, raising ItemTimeout after `timeout_s` seconds (0 = no limit).

    In a `map_supervised` worker, the parent also kills the worker at
    `hard_limit_s(timeout_s)` if SIGALRM could not end `fn` (reported with `label`).

    >>> call_with_timeout(abs, -2, 1.0)
    2
    """
    if timeout_s <= 0 or threading.current_thread() is not threading.main_thread():
        return fn(item)
    old = signal.signal(signal.SIGALRM, _raise_timeout)
    prev = _DEADLINE.arm(hard_limit_s(timeout_s), label) if _DEADLINE else None
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return fn(item)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if _DEADLINE and prev is not None:
            _DEADLINE.restore(prev)


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


@dataclass(frozen=True)
class WorkerLost:
    """The worker running item `index` died, or was killed at its hard limit (`label`: what
    it was doing). `map_supervised` yields it in place of the item's result.

    >>> str(WorkerLost(3, -9))
    'killed by signal 9, out of memory?'
    """

    index: int
    exitcode: int | None
    hard_limit_s: float = 0.0  # > 0: the parent killed it at this limit
    label: str = ""

    def __str__(self) -> str:
        if self.hard_limit_s:
            what = f", in {self.label}" if self.label else ""
            return f"killed at its hard time limit of {self.hard_limit_s:g} s{what}"
        if self.exitcode is not None and self.exitcode < 0:
            oom = ", out of memory?" if self.exitcode == -signal.SIGKILL else ""
            return f"killed by signal {-self.exitcode}{oom}"
        return f"exited with status {self.exitcode}"


class RemoteTraceback(Exception):
    """The worker-side traceback of an exception re-raised in the parent."""


@dataclass(frozen=True)
class _Failure:
    error: BaseException
    traceback: str


def _serve(conn: Connection, fn: Callable[[Any], Any], deadline: _Deadline) -> None:
    """A supervised worker: run `fn` on each (index, item) received, send back the result."""
    global _DEADLINE
    _DEADLINE = deadline
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the parent is gone
            return
        if task is None:
            return
        index, item = task
        try:
            reply: Any = fn(item)
        except BaseException as err:  # noqa: BLE001 - shipped to the parent, which re-raises it
            reply = _Failure(err, traceback.format_exc())
        try:
            conn.send((index, reply))
        except Exception as err:  # noqa: BLE001 - an unpicklable result or error: say so
            msg = f"item {index}: its result could not be sent back ({type(err).__name__}: {err})"
            conn.send((index, _Failure(RuntimeError(msg), traceback.format_exc())))


class _Worker:
    def __init__(self, ctx: Any, fn: Callable[[Any], Any]) -> None:
        self.deadline = _Deadline(ctx)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, fn, self.deadline), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None  # the item it runs

    def lost(self, kill: bool = False) -> WorkerLost:
        """The WorkerLost of its item (killing it first at its hard limit)."""
        assert self.index is not None
        if kill:
            self.proc.kill()
        self.proc.join()
        index, self.index = self.index, None
        if not kill:
            return WorkerLost(index, self.proc.exitcode)
        label = self.deadline.label.value.decode("utf-8", "replace")
        return WorkerLost(index, self.proc.exitcode, self.deadline.seconds.value, label)

    def stop(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


def map_supervised(
    fn: Callable[[T], R], items: Iterable[T], workers: int
) -> Iterator[R | WorkerLost]:
    """Yield `fn(item)` for each item in input order, or a `WorkerLost` for an item whose
    worker died or passed the hard limit of a `call_with_timeout` inside `fn`.

    Every item runs in a worker process (also with `workers=1`), so an OOM kill never takes
    the caller down; a lost worker is replaced. An exception raised by `fn` is re-raised
    here at its item's turn, and closing the iterator kills the workers. Items go one per
    message (fine for items of milliseconds and up); workers are daemonic, so `fn` may not
    start a multiprocessing pool of its own.

    >>> list(map_supervised(abs, [-1, 2], workers=1))  # doctest: +SKIP
    [1, 2]
    """
    ctx = mp.get_context("forkserver")  # no inherited Arrow threads, as in map_ordered
    # The forkserver (started once per process, at its first pool) imports fn's module,
    # so every worker forks with it loaded instead of importing it again (~0.3 s each).
    module = getattr(getattr(fn, "func", fn), "__module__", None)
    if module and module != "__main__":
        ctx.set_forkserver_preload(["__main__", module])
    window = BATCH_PER_WORKER * max(1, workers)  # items started but not yet yielded
    pending = enumerate(items)
    pool: list[_Worker | None] = [None] * max(1, workers)
    done: dict[int, Any] = {}
    next_out, started, exhausted = 0, 0, False
    try:
        while True:
            for slot, w in enumerate(pool):
                if exhausted or started >= next_out + window:
                    break
                if w is not None and w.index is not None:
                    continue
                task = next(pending, None)
                if task is None:
                    exhausted = True
                    break
                if w is None or not w.proc.is_alive():
                    if w is not None:
                        w.stop()
                    w = pool[slot] = _Worker(ctx, fn)
                w.index = task[0]
                started += 1
                try:
                    w.conn.send(task)
                except OSError:  # died between is_alive() and send
                    _put(done, w.lost())
            while next_out in done:
                out = done.pop(next_out)
                next_out += 1
                if isinstance(out, _Failure):
                    out.error.__cause__ = RemoteTraceback(out.traceback)
                    raise out.error
                yield out
            busy = [w for w in pool if w is not None and w.index is not None]
            if busy:
                _collect(busy, done)
            elif exhausted:
                return
    finally:
        for w in pool:
            if w is not None:
                w.stop()


def _collect(busy: list[_Worker], done: dict[int, Any]) -> None:
    """Wait for a result, a death or the nearest hard deadline; record what happened."""
    # a worker arms its deadline while the parent waits, so wake up now and then to look
    wake = min([w.deadline.at.value for w in busy if w.deadline.at.value], default=0.0)
    timeout = min(_POLL_S, max(0.0, wake - time.monotonic())) if wake else _POLL_S
    wait([w.conn for w in busy] + [w.proc.sentinel for w in busy], timeout)
    now = time.monotonic()
    for w in busy:
        if w.conn.poll():
            try:
                index, reply = w.conn.recv()
            except (EOFError, OSError):  # died: its pipe closed (or reset) with no result
                _put(done, w.lost())
                continue
            done[index] = reply
            w.index = None
        elif not w.proc.is_alive():
            _put(done, w.lost())
        elif (at := w.deadline.at.value) and now >= at:
            # the SIGALRM armed with this deadline did not end the item: kill the worker
            _put(done, w.lost(kill=True))


def _put(done: dict[int, Any], lost: WorkerLost) -> None:
    done[lost.index] = lost
