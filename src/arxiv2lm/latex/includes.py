"""Inline `\\input`, `\\include`, `\\subfile`, `\\import` recursively, cycle-safe and capped.

Files are given as a mapping of project-relative path -> comment-free text, so a commented
`\\input` is never followed. A name resolves against the including file's folder first, then
the project root, with or without a `.tex` extension. A missing file leaves nothing.

>>> r = expand_includes("main.tex", {"main.tex": "A \\\\input{b} C", "b.tex": "B"}, 8, 10**6)
>>> r.text, r.resolved, r.missing
('A B C', 1, 0)
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

TEX_EXTS = (".tex", ".ltx", ".latex")
_INCLUDE = re.compile(
    "|".join(
        [
            r"\\(?P<cmd>input|include|subfile)(?![A-Za-z@])\s*\{(?P<arg>[^{}]*)\}",
            r"\\input(?![A-Za-z@])[ \t]+(?P<bare>[^\s{}\\%]+)",
            r"\\(?P<icmd>import|subimport|inputfrom|subinputfrom|includefrom|subincludefrom)"
            r"\*?\s*\{(?P<dir>[^{}]*)\}\s*\{(?P<file>[^{}]*)\}",
        ]
    )
)
_INCLUDEONLY = re.compile(r"\\includeonly\s*\{([^{}]*)\}")
_BODY = re.compile(r"\\begin\s*\{document\}(.*?)(?:\\end\s*\{document\}|\Z)", re.S)


def _body_of(text: str) -> str:
    """A standalone/subfiles child brings its own preamble: keep only its document body."""
    m = _BODY.search(text) if "\\begin" in text else None
    return m.group(1) if m else text


class TooLarge(Exception):
    """The expanded document passed the size cap."""


@dataclass
class IncludeResult:
    text: str
    resolved: int
    missing: int


def resolve(name: str, base_dir: str, files: Mapping[str, str]) -> str | None:
    """Project path that `name` (as written in an include) refers to, or None."""
    name = name.strip().strip('"')
    if not name:
        return None
    for folder in (base_dir, ""):
        stem = posixpath.normpath(posixpath.join(folder, name)).lstrip("/")
        stem = stem[2:] if stem.startswith("./") else stem
        for cand in (stem, *(stem + ext for ext in TEX_EXTS)):
            if cand in files:
                return cand
    return None


def expand_includes(
    main: str, files: Mapping[str, str], max_depth: int, max_chars: int
) -> IncludeResult:
    """Inline every include reachable from `main`; raise TooLarge past `max_chars`."""
    counts = {"resolved": 0, "missing": 0, "chars": 0}
    only_m = _INCLUDEONLY.search(files.get(main, ""))
    only = {x.strip() for x in only_m.group(1).split(",")} if only_m else None

    def expand(path: str, stack: tuple[str, ...]) -> str:
        text = files[path] if path == main else _body_of(files[path])
        counts["chars"] += len(text)
        if counts["chars"] > max_chars:
            raise TooLarge(f"expanded text passed {max_chars} chars")
        base = posixpath.dirname(path)
        out: list[str] = []
        pos = 0
        for m in _INCLUDE.finditer(text):
            out.append(text[pos : m.start()])
            pos = m.end()
            if m.group("icmd"):
                folder = m.group("dir")
                if m.group("icmd").startswith("sub"):
                    folder = posixpath.join(base, folder)
                target = resolve(m.group("file"), folder, files)
            else:
                arg = m.group("arg") if m.group("arg") is not None else m.group("bare")
                stem = posixpath.splitext(arg.strip())[0]
                if m.group("cmd") == "include" and only is not None and stem not in only:
                    continue  # excluded by \includeonly
                target = resolve(arg, base, files)
            if target is None:
                counts["missing"] += 1
            elif target in stack or len(stack) > max_depth:
                continue  # a cycle or too deep: TeX would fail; keep what we have
            else:
                counts["resolved"] += 1
                out.append(expand(target, (*stack, target)))
        out.append(text[pos:])
        return "".join(out)

    text = expand(main, (main,))
    return IncludeResult(text, counts["resolved"], counts["missing"])
