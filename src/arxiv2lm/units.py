"""The per-chunk unit runner of validate, extract and normalize: one pool, units committed
as they finish.

A stage splits its work into units (one per source chunk). A unit's key is its input digest,
the params that change its result and the code digest of the stage core (`code_digest`: the
source of every `arxiv2lm` module the core imports, found by walking `import` statements, so
no list is kept by hand). `run_units` links the units already in the work cache into the
stage's output and computes the others: the items of every unit to compute go through ONE
supervised pool (`pool.map_supervised`) in order, each result goes to its unit's `Sink` in
this process, and a unit is put into the cache the moment its last item is in, so a stage
stopped halfway (Ctrl-C, a failing chunk) keeps every unit it finished for the rerun. A
worker that dies (OOM kill) or passes its hard time limit stops the run with a `UnitError`
naming the unit.

>>> code = code_digest("arxiv2lm.latex.corpus")  # doctest: +SKIP
>>> key = unit_key("extract", digest, params, code)  # doctest: +SKIP
>>> unit = Unit("arXiv_src_2301_001", key, {"part.parquet": dst}, src)  # doctest: +SKIP
>>> [d.computed for d in run_units([unit], fn, items, open_sink, cache, 4)]  # doctest: +SKIP
[True]

A stage can also compute only some of its units, by name (`stages/<name>.py --unit NAME`),
into its work cache and nothing else, so an engine outside this project (Ray, Dask) can fan
the units of one stage out over machines; `only_named` picks them, `scratch` holds their
files until the cache has them, and `listing` prints what `--list-units` shows.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import importlib.util
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO, TypeVar

from tqdm import tqdm

from arxiv2lm import pool
from arxiv2lm.io import HOST
from arxiv2lm.workcache import WorkCache, unit_key

__all__ = [
    "Done",
    "Progress",
    "Sink",
    "Unit",
    "UnitError",
    "UnknownUnit",
    "code_digest",
    "listing",
    "only_named",
    "run_units",
    "scratch",
    "unit_key",
]
PACKAGE = "arxiv2lm"
# Without a terminal (CI, `dvc repro > log`) progress is a plain line at most this often:
# a run shorter than it prints none, a day-long one ~1,400 lines, not a redraw per item.
LOG_EVERY_S = 60.0
SHOW_NAMES = 5  # unit names an unknown-unit message lists
T = TypeVar("T")


class UnitError(RuntimeError):
    """A unit could not be computed (its worker was lost); the message names it."""


class UnknownUnit(UnitError):
    """A unit asked for by name that the stage does not have; the message lists some it has."""


@dataclass(frozen=True)
class Unit:
    """One chunk's work: `name` (in messages), its cache `key`, the files it produces
    (`cache file name -> path in the stage's output`) and `source`, what the stage's
    `items` reads when the unit has to be computed."""

    name: str
    key: str
    outputs: dict[str, Path]
    source: Any = None


@dataclass(frozen=True)
class Done:
    """A unit in the output: its JSON result and whether this run computed it."""

    unit: Unit
    result: Any
    computed: bool


class Sink(Protocol):
    """Collects a unit's item results (in item order) in the stage's process."""

    def add(self, note: Any, result: Any) -> None:
        """One item's result, with the `note` its item was yielded with."""

    def close(self) -> Any:
        """All items are in: finish the unit's outputs, return its JSON result."""

    def abort(self) -> None:
        """The run stopped before the unit was complete: drop what was written."""


def _module_file(name: str) -> Path | None:
    """The source file of module `name` if it is a module of the package (not a name in one)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):  # `name` is a function or class, not a module
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def _imports(name: str, path: Path) -> set[str]:
    """The `arxiv2lm` modules (and their packages) that module `name` at `path` imports."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = name.split(".")[: len(name.split(".")) - node.level + int(is_pkg)]
                base = ".".join(parent + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    mods = set()
    for mod in found:
        if mod == PACKAGE or mod.startswith(PACKAGE + "."):
            parts = mod.split(".")
            mods.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return mods


def code_files(root: str) -> dict[str, Path]:
    """Module name -> source file of `root` and every `arxiv2lm` module it imports,
    transitively (its packages' `__init__.py` included).

    >>> sorted(code_files("arxiv2lm.pool"))
    ['arxiv2lm', 'arxiv2lm.pool']
    """
    files: dict[str, Path] = {}
    todo = [".".join(root.split(".")[:i]) for i in range(1, root.count(".") + 2)]
    while todo:
        name = todo.pop()
        if name in files or (path := _module_file(name)) is None:
            continue
        files[name] = path
        todo.extend(_imports(name, path) - files.keys())
    return files


def code_digest(root: str) -> str:
    """sha256 over the names and source bytes of `code_files(root)`: the code version of
    the units a stage core computes. Editing any module it imports changes it."""
    h = hashlib.sha256()
    for name, path in sorted(code_files(root).items()):
        h.update(name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def only_named(items: Sequence[T], names: Sequence[str], only: Collection[str] | None) -> list[T]:
    """The `items` whose name (`names`, in the same order) is in `only`, in stage order; all
    of them when `only` is None. Picking before the keys are made means a unit's input is
    hashed only when that unit is wanted.

    >>> only_named(["a.parquet", "b.parquet"], ["a", "b"], {"b"})
    ['b.parquet']
    >>> only_named([1], ["a"], ["c"])
    Traceback (most recent call last):
    ...
    arxiv2lm.units.UnknownUnit: no unit named c; the 1 units are: a
    """
    assert len(items) == len(names), (len(items), len(names))
    if only is None:
        return list(items)
    unknown = sorted(set(only) - set(names))
    if unknown:
        shown = ", ".join(names[:SHOW_NAMES]) + (", ..." if len(names) > SHOW_NAMES else "")
        have = f"the {len(names)} units are: {shown}" if names else "the stage has no units"
        raise UnknownUnit(f"no unit named {', '.join(unknown[:SHOW_NAMES])}; {have}")
    wanted = set(only)
    return [item for item, name in zip(items, names, strict=True) if name in wanted]


@contextlib.contextmanager
def scratch(cache: WorkCache) -> Iterator[Path]:
    """A temporary folder inside the cache's (same file system: a unit's files go into the
    cache as hard links), removed on exit; named as `io.clean_stale_temps` knows temporaries,
    so one left by a killed process goes at the next full run. Computing named units only
    makes sense into a cache, so a disabled one is refused."""
    if cache.root is None:
        raise ValueError("computing named units needs a work cache (--work-cache)")
    cache.root.mkdir(parents=True, exist_ok=True)
    suffix = f".tmp-{os.getpid()}@{HOST}"
    with tempfile.TemporaryDirectory(suffix, ".units-", cache.root) as tmp:
        yield Path(tmp)


def parse_unit_args(stage: str, ap: argparse.ArgumentParser, argv: list[str] | None) -> Any:
    """Parse a unit stage's command line with the flags every unit stage shares:
    `--work-cache DIR`, and `--unit NAME` (repeatable) or `--list-units`, which need it."""
    ap.add_argument("--work-cache", default="", help="store of finished per-chunk units")
    named = ap.add_mutually_exclusive_group()
    named.add_argument("--unit", action="append", metavar="NAME", help="compute only this unit")
    named.add_argument("--list-units", action="store_true", help="print the units and states")
    args = ap.parse_args(argv)
    if (args.unit or args.list_units) and not args.work_cache:
        sys.exit(f"{stage}: --unit and --list-units need --work-cache")
    return args


def listing(states: Iterable[tuple[str, bool]]) -> str:
    """What `--list-units` prints: each unit's name and, after a tab, `cached` (a run reuses
    it) or `missing` (a run computes it), one unit a line, in stage order.

    >>> listing([("arXiv_src_9901_001", True), ("arXiv_src_2301_001", False)])
    'arXiv_src_9901_001\\tcached\\narXiv_src_2301_001\\tmissing\\n'
    """
    return "".join(f"{name}\t{'cached' if cached else 'missing'}\n" for name, cached in states)


_END = object()  # marks the last item of a unit in the parent's bookkeeping


def run_units(
    units: Sequence[Unit],
    fn: Callable[[Any], Any],
    items: Callable[[Unit], Iterable[tuple[Any, Any]]],
    open_sink: Callable[[Unit], Sink],
    cache: WorkCache,
    workers: int,
    desc: str = "",
    item_name: str = "items",
) -> list[Done]:
    """Every unit's result, in unit order: reused ones linked from `cache`, the others
    computed. `items(unit)` yields `(item, note)`: `fn(item)` runs in a worker (`fn` must be
    picklable), and its result goes with `note` to the unit's sink. Each computed unit is put
    into the cache as soon as its sink closes. The units to compute show one `Progress`,
    labelled `desc` (default: the cache folder's name, which is the stage's)."""
    todo = [u for u in units if not cache.has(u.key)]
    label = desc or (cache.root.name if cache.root is not None else "units")
    with Progress(label, len(todo), item_name) as progress:
        results = _compute(todo, fn, items, open_sink, cache, workers, progress)
    computed = {u.key: r for u, r in zip(todo, results, strict=True)}
    done = []
    for u in units:
        if u.key in computed:
            done.append(Done(u, computed[u.key], True))
        else:
            done.append(Done(u, cache.link(u.key, u.outputs), False))
    return done


def _compute(
    todo: list[Unit],
    fn: Callable[[Any], Any],
    items: Callable[[Unit], Iterable[tuple[Any, Any]]],
    open_sink: Callable[[Unit], Sink],
    cache: WorkCache,
    workers: int,
    progress: Progress,
) -> list[Any]:
    """The results of `todo`, in order, from one pool over all their items."""
    if not todo:
        return []
    notes: deque[tuple[int, Any, bool]] = deque()  # (unit index, note, last of its unit)

    def stream() -> Iterator[Any]:
        for i, unit in enumerate(todo):
            prev: tuple[Any, Any] | None = None
            for pair in items(unit):
                if prev is not None:
                    notes.append((i, prev[1], False))
                    yield prev[0]
                prev = pair
            if prev is not None:
                notes.append((i, prev[1], True))
                yield prev[0]

    results: list[Any] = []
    sink: Sink | None = None

    def finish_until(index: int) -> None:
        """Close the open unit and every (empty) unit before `index`."""
        nonlocal sink
        while len(results) < index:
            unit = todo[len(results)]
            s = sink if sink is not None else open_sink(unit)
            sink = None
            result = s.close()
            cache.put(unit.key, unit.outputs, result)
            results.append(result)
            progress.unit()

    outputs = pool.map_supervised(fn, stream(), max(1, workers))
    try:
        for out in outputs:
            i, note, last = notes.popleft()
            finish_until(i)  # units with no items before this one
            unit = todo[i]
            if isinstance(out, pool.WorkerLost):
                raise UnitError(f"worker died ({out}) while computing {unit.name}")
            if sink is None:
                sink = open_sink(unit)
            sink.add(note, out)
            progress.item()
            if last:
                finish_until(i + 1)
        finish_until(len(todo))
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        outputs.close()  # kill the workers now, not when the generator is collected
    return results


class Progress:
    """A stage's progress over its units to compute: chunks done of `total` with an ETA, and
    items (papers) done with their rate. On a terminal, a tqdm bar erased when done (the
    stage prints its own summary line); elsewhere a plain line at most every `LOG_EVERY_S`.

    >>> with Progress("extract", 2, "papers", io.StringIO()) as p:  # doctest: +SKIP
    ...     p.item(); p.unit()
    """

    def __init__(
        self, desc: str, total: int, item_name: str = "items", stream: TextIO | None = None
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.desc, self.total, self.item_name = desc, total, item_name
        self.units = self.items = 0
        self.start = self.logged = time.monotonic()
        tty = total > 0 and getattr(self.stream, "isatty", lambda: False)()
        # miniters=0: redraw on time alone, so items move the bar's postfix between units
        self.bar: tqdm | None = None
        if tty:
            self.bar = tqdm(
                total=total, desc=desc, unit="chunk", file=self.stream, leave=False, miniters=0
            )

    def item(self) -> None:
        self.items += 1
        self._show()

    def unit(self) -> None:
        self.units += 1
        if self.bar is not None:
            self.bar.update(1)
        self._show()

    def line(self) -> str:
        """The plain progress line: `extract: 3/40 chunks, 1,204 papers (38/s), ETA 12:31`."""
        elapsed = time.monotonic() - self.start
        left = elapsed / self.units * (self.total - self.units) if self.units else None
        eta = tqdm.format_interval(left) if left is not None else "?"
        return (
            f"{self.desc}: {self.units}/{self.total} chunks, {self.items:,} {self.item_name} "
            f"({self.items / max(elapsed, 1e-9):,.0f}/s), "
            f"{tqdm.format_interval(elapsed)} elapsed, ETA {eta}"
        )

    def _show(self) -> None:
        now = time.monotonic()
        if self.bar is not None:
            rate = self.items / max(now - self.start, 1e-9)
            postfix = f"{self.items:,} {self.item_name}, {rate:,.0f} {self.item_name}/s"
            self.bar.set_postfix_str(postfix, refresh=False)
            self.bar.update(0)  # redraws when its mininterval has passed
        elif now - self.logged >= LOG_EVERY_S:
            self.logged = now
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
