"""The unit runner: one pool, units committed as they finish, code digest from imports."""

import io
from pathlib import Path

import pytest

from arxiv2lm.units import Progress, Unit, UnitError, code_digest, code_files, run_units
from arxiv2lm.workcache import WorkCache


class _Sink:
    """Writes a unit's doubled items, one a line."""

    def __init__(self, unit: Unit) -> None:
        self.path = unit.outputs["out.txt"]
        self.lines: list[str] = []

    def add(self, note: str, result: int) -> None:
        self.lines.append(f"{note}={result}")

    def close(self) -> int:
        self.path.write_text("\n".join(self.lines))
        return len(self.lines)

    def abort(self) -> None:
        self.path.unlink(missing_ok=True)


def double(x: int) -> int:
    return 2 * x


def fail_on_30(x: int) -> int:
    if x == 30:
        raise ValueError("bad item 30")
    return 2 * x


def _units(out: Path, sizes: list[int]) -> list[Unit]:
    return [
        Unit(f"u{i}", f"key{i}", {"out.txt": out / f"u{i}.txt"}, [10 * i + j for j in range(n)])
        for i, n in enumerate(sizes)
    ]


def _items(unit: Unit):
    return ((x, f"{unit.name}.{x}") for x in unit.source)


def _run(tmp_path: Path, fn, sizes: list[int], workers: int = 2):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return run_units(_units(out, sizes), fn, _items, _Sink, WorkCache(tmp_path / "work"), workers)


def test_units_are_computed_in_one_pool_then_reused(tmp_path: Path) -> None:
    done = _run(tmp_path, double, [2, 0, 3])
    assert [(d.unit.name, d.result, d.computed) for d in done] == [
        ("u0", 2, True), ("u1", 0, True), ("u2", 3, True)]  # fmt: skip
    assert (tmp_path / "out/u2.txt").read_text() == "u2.20=40\nu2.21=42\nu2.22=44"
    before = [(tmp_path / f"out/u{i}.txt").read_bytes() for i in range(3)]
    for f in (tmp_path / "out").iterdir():
        f.unlink()
    again = _run(tmp_path, double, [2, 0, 3])
    assert [(d.result, d.computed) for d in again] == [(2, False), (0, False), (3, False)]
    assert [(tmp_path / f"out/u{i}.txt").read_bytes() for i in range(3)] == before


@pytest.mark.parametrize("k", [1, 3])
def test_an_interrupted_run_keeps_the_units_it_finished(tmp_path: Path, k: int) -> None:
    """A failure in unit k+1 (item 10 * k) leaves units 0..k-1 in the cache."""
    sizes = [2] * 5

    def fn_for(k: int):
        return {1: fail_on_10, 3: fail_on_30}[k]

    with pytest.raises(ValueError, match=f"bad item {10 * k}"):
        _run(tmp_path, fn_for(k), sizes)
    done = _run(tmp_path, double, sizes)
    assert [d.computed for d in done] == [False] * k + [True] * (5 - k)


def fail_on_10(x: int) -> int:
    if x == 10:
        raise ValueError("bad item 10")
    return 2 * x


def die_on_21(x: int) -> int:
    if x == 21:
        import os
        import signal

        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * x


def test_a_lost_worker_is_an_error_naming_its_unit(tmp_path: Path) -> None:
    with pytest.raises(
        UnitError, match=r"^worker died \(killed by signal 9.*\) while computing u2$"
    ):
        _run(tmp_path, die_on_21, [1, 1, 2, 1])
    assert not (tmp_path / "out/u2.txt").exists()  # the half-written unit was dropped
    assert [d.computed for d in _run(tmp_path, double, [1, 1, 2, 1])] == [False, False, True, True]


def test_code_digest_is_derived_from_imports(tmp_path: Path, monkeypatch) -> None:
    files = code_files("arxiv2lm.latex.corpus")
    assert {"arxiv2lm.latex.corpus", "arxiv2lm.latex.project", "arxiv2lm.latex.macros",
            "arxiv2lm.pool", "arxiv2lm.units", "arxiv2lm.latex"} <= set(files)  # fmt: skip
    assert not any(name.startswith("arxiv2lm.text") for name in files)
    assert "arxiv2lm.text.minhash" in code_files("arxiv2lm.text.corpus")
    assert code_digest("arxiv2lm.latex.corpus") == code_digest("arxiv2lm.latex.corpus")
    assert code_digest("arxiv2lm.latex.corpus") != code_digest("arxiv2lm.text.corpus")
    # editing an imported module changes the digest
    pkg = tmp_path / "arxiv2lm_copy"
    monkeypatch.setattr("arxiv2lm.units.PACKAGE", "fakepkg")
    (tmp_path / "fakepkg").mkdir()
    (tmp_path / "fakepkg/__init__.py").write_text("")
    (tmp_path / "fakepkg/core.py").write_text("from fakepkg import dep\nfrom . import rel\n")
    (tmp_path / "fakepkg/dep.py").write_text("X = 1\n")
    (tmp_path / "fakepkg/rel.py").write_text("Y = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert set(code_files("fakepkg.core")) == {"fakepkg", "fakepkg.core", "fakepkg.dep",
                                               "fakepkg.rel"}  # fmt: skip
    first = code_digest("fakepkg.core")
    (tmp_path / "fakepkg/rel.py").write_text("Y = 2\n")
    assert code_digest("fakepkg.core") != first
    assert not pkg.exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_rare_lines_elsewhere(monkeypatch) -> None:
    tty = _Terminal()
    with Progress("extract", 2, "papers", tty) as p:
        assert p.bar is not None
        p.bar.mininterval = 0  # redraw at every event, not at most every 0.1 s
        for _ in range(3):
            p.item()
        p.unit()
    shown = tty.getvalue()
    assert "extract:" in shown and "0/2" in shown and "papers/s" in shown
    assert shown.endswith("\r") or "\x1b" in shown  # the bar is erased when done (leave=False)

    log = io.StringIO()  # not a terminal: nothing for a run shorter than LOG_EVERY_S
    with Progress("extract", 2, "papers", log) as p:
        p.item()
        p.unit()
    assert log.getvalue() == ""
    monkeypatch.setattr("arxiv2lm.units.LOG_EVERY_S", 0.0)
    with Progress("extract", 4, "papers", log) as p:
        p.item()
        p.unit()
    line = log.getvalue().splitlines()[-1]
    assert line.startswith("extract: 1/4 chunks, 1 papers (") and "ETA" in line
    assert len(log.getvalue().splitlines()) == 2  # one line per event at most, no redraws
