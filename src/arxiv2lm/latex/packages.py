"""The paper's own class and package files, in the order the document loads them.

`\\documentclass{y}` with `y.cls` in the project, `\\usepackage{a,b}` / `\\RequirePackage`
with `a.sty` present, and the same inside those files (a package loads its own packages
first). Each file comes with its `\\input`s inlined (`\\input{defs.def}` from a .sty), so
`macros.collect` sees every definition it brings. Names resolve as `includes.resolve` does:
against the main file's folder, then the project root. A `.sty` the paper never loads (a
template's leftovers) is not read. A definition whose body programs TeX (`\\global\\advance..`,
`\\csname`, `\\ifx`) is not taken from these files, nor, from a class, one of a command the
converter already knows (`\\email`, `\\keywords`: the class holds its layout code).

>>> doc = "\\\\documentclass{my}\\\\usepackage{a}"
>>> loaded_texts(doc, "main.tex", {"my.cls": "C", "a.sty": "A"}, 8, 10**6)
[('my.cls', 'C'), ('a.sty', 'A')]
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping

from arxiv2lm.latex import includes, macros

_LOAD = re.compile(
    "|".join(
        [
            r"\\(?P<cls>documentclass|LoadClass|LoadClassWithOptions)(?![A-Za-z@])",
            r"\\(?P<pkg>usepackage|RequirePackage|RequirePackageWithOptions)(?![A-Za-z@])",
        ]
    )
)
# options (bounded, so a `[` that never closes costs a bounded look), then the names
_NAMES = re.compile(r"\s*(?:\[[^\]]{0,500}\]\s*)?\{([^{}]{0,500})\}")


def _loads(text: str) -> list[tuple[str, str]]:
    """(name, extension) for each class and package `text` loads, in order."""
    out: list[tuple[str, str]] = []
    for m in _LOAD.finditer(text):
        names = _NAMES.match(text, m.end())
        if names is None:
            continue
        ext = ".cls" if m.group("cls") else ".sty"
        out += [(n.strip(), ext) for n in names.group(1).split(",") if n.strip()]
    return out


def loaded_texts(
    doc: str, main: str, files: Mapping[str, str], max_depth: int, max_chars: int
) -> list[tuple[str, str]]:
    """(path, text) of the local .cls/.sty files `doc` (the main file `main` with its includes
    inlined) loads, transitively, dependencies first.

    Raises `includes.TooLarge` when their inlined `\\input`s pass `max_chars`.
    """
    base = posixpath.dirname(main)
    seen = {main}
    out: list[tuple[str, str]] = []

    def visit(text: str, depth: int) -> None:
        for name, ext in _loads(text):
            path = includes.resolve(name if name.endswith(ext) else name + ext, base, files)
            if path is None or path in seen or not path.endswith(ext):
                continue
            seen.add(path)
            body = includes.expand_includes(path, files, max_depth, max_chars).text
            if depth < max_depth:
                visit(body, depth + 1)
            out.append((path, body))

    visit(doc, 0)
    return out


def collect(
    table: macros.Macros, doc: str, main: str, files: Mapping[str, str], max_depth: int,
    max_chars: int,
) -> macros.Macros:  # fmt: skip
    """Add the definitions of the local files `doc` loads to `table` (see `loaded_texts`)."""
    for path, text in loaded_texts(doc, main, files, max_depth, max_chars):
        skip = macros.CONVERTED if path.endswith(".cls") else frozenset()
        macros.collect(text, table, skip=skip, code=False)
    return table
