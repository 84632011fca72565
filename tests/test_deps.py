"""Dependencies are true by construction: in `dvc.yaml` and in `pyproject.toml`.

A stage must rerun when any project module its entry script imports changes, so each stage's
`deps:` covers the import closure of `stages/<name>.py` over `src/arxiv2lm/` (lazy imports
included). And every third-party import of the shipped code (`src/arxiv2lm`, `stages/`) must
come with a runtime install: `[project] dependencies` or what those pull in (conftest's
`runtime_distributions`; tests/test_pipeline.py runs the stages with nothing else importable).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "arxiv2lm"


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _imports(path: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Every import in `path`, top level or inside functions: (absolute module, imported names).

    `from .x import y` in src/arxiv2lm/a/b.py yields ("arxiv2lm.a.x", ("y",)).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            if node.level == 0:
                yield node.module or "", names
                continue
            # ("arxiv2lm", "a", "b") or ("arxiv2lm", "a", "__init__"): `.` is arxiv2lm.a
            rel = path.relative_to(SRC).with_suffix("").parts
            base = list(rel[: len(rel) - node.level])
            module = ".".join(base + ([node.module] if node.module else []))
            yield module, names


def _module_files(module: str) -> list[Path]:
    """Files executed by `import module`: each package `__init__.py` on the way, then the module.

    >>> _module_files("arxiv2lm.train.model")  # doctest: +SKIP
    [.../arxiv2lm/__init__.py, .../arxiv2lm/train/__init__.py, .../arxiv2lm/train/model.py]
    """
    parts = module.split(".")
    files = []
    for i in range(1, len(parts) + 1):
        stem = SRC.joinpath(*parts[:i])
        if (stem / "__init__.py").is_file():
            files.append(stem / "__init__.py")
        elif stem.with_suffix(".py").is_file():
            files.append(stem.with_suffix(".py"))
        else:
            raise AssertionError(f"import {module!r}: no {stem}.py or {stem}/__init__.py")
    return files


def _project_closure(entry: Path) -> set[Path]:
    """Project files under src/arxiv2lm that running `entry` may import, transitively."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop()
        for module, names in _imports(path):
            if module.split(".")[0] != PACKAGE:
                continue
            found = _module_files(module)
            for name in names:  # `from arxiv2lm.train import model` imports a submodule
                sub = SRC.joinpath(*module.split("."), name)
                if (sub / "__init__.py").is_file() or sub.with_suffix(".py").is_file():
                    found += _module_files(f"{module}.{name}")
            for file in found:
                if file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def _entry(name: str, stage: dict) -> Path:
    words = stage["cmd"].split()
    assert words[:2] == ["python", f"stages/{name}.py"], (
        f"stage {name}: cmd should start `python stages/{name}.py`, got {stage['cmd']!r}"
    )
    return ROOT / words[1]


def _covered(file: Path, deps: list[str]) -> bool:
    rel = file.relative_to(ROOT)
    return any(rel == Path(dep) or Path(dep) in rel.parents for dep in deps)


@pytest.mark.parametrize("name", sorted(_stages()))
def test_stage_deps_cover_its_code(name: str) -> None:
    stage = _stages()[name]
    entry = _entry(name, stage)
    deps = [str(d) for d in stage.get("deps", [])]
    needed = {entry} | _project_closure(entry)
    missing = sorted(str(f.relative_to(ROOT)) for f in needed if not _covered(f, deps))
    assert not missing, f"stage {name} imports files its deps do not list: {missing}"


def test_closure_follows_lazy_and_package_imports(tmp_path: Path) -> None:
    # The report stage imports arxiv2lm.reports; the closure must reach the package __init__
    # and the root package, and a module imported only inside a function must count.
    closure = _project_closure(ROOT / "stages" / "report.py")
    assert SRC / PACKAGE / "__init__.py" in closure
    assert SRC / PACKAGE / "reports" / "__init__.py" in closure
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from arxiv2lm import ledger\n    return ledger\n")
    assert SRC / PACKAGE / "ledger.py" in _project_closure(lazy)


def test_uncovered_file_is_reported() -> None:
    assert not _covered(SRC / PACKAGE / "ledger.py", ["src/arxiv2lm/io.py", "src/arxiv2lm/train"])
    assert _covered(SRC / PACKAGE / "train" / "model.py", ["src/arxiv2lm/train"])
    assert not _covered(SRC / PACKAGE / "train2.py", ["src/arxiv2lm/train"])


def test_every_dep_exists_or_is_produced() -> None:
    produced: set[str] = set()
    for stage in _stages().values():
        for key in ("outs", "metrics", "plots"):
            for out in stage.get(key, []):
                produced.add(next(iter(out)) if isinstance(out, dict) else str(out))
    for name, stage in _stages().items():
        for dep in stage.get("deps", []):
            inside = any(dep.startswith(out + "/") for out in produced)  # a file of an out dir
            assert dep in produced or inside or (ROOT / dep).exists(), (
                f"stage {name}: dep {dep!r} does not exist and no stage produces it"
            )


def _shipped_files() -> list[Path]:
    return sorted((SRC / PACKAGE).rglob("*.py")) + sorted((ROOT / "stages").glob("*.py"))


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level third-party module -> the shipped files that import it."""
    local = {PACKAGE, "stages", "__future__"}
    found: dict[str, list[str]] = {}
    for path in _shipped_files():
        for module, _ in _imports(path):
            top = module.split(".")[0]
            if top and top not in local and top not in sys.stdlib_module_names:
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_shipped_imports_are_runtime_dependencies(runtime_distributions: set[str]) -> None:
    dists = metadata.packages_distributions()
    problems = []
    for module, files in sorted(_third_party_imports().items()):
        names = {canonicalize_name(d) for d in dists.get(module, [])}
        if not names:
            problems.append(f"{module} (in {files[0]}): not installed, no distribution known")
        elif not names & runtime_distributions:
            problems.append(f"{module} (in {files[0]}): {sorted(names)} not a runtime dependency")
    assert not problems, "shipped code imports what a runtime install lacks:\n" + "\n".join(
        problems
    )


def test_runtime_closure_includes_transitive_and_renamed(runtime_distributions: set[str]) -> None:
    assert "pyyaml" in runtime_distributions  # imported as `yaml`
    assert "scmrepo" in runtime_distributions  # comes with dvc
    assert "pytest" not in runtime_distributions  # a test extra only
