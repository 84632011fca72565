"""Inline `\\input`, `\\include`, `\\subfile`, `\\import` recursively, cycle-safe and capped.

Files are given as a mapping of project-relative path -> comment-free text, so a commented
`\\input` is never followed. A name resolves against the including file's folder first, then
the project root, with or without a `.tex` extension. A missing file leaves nothing.

A paper's own include macros (`\\newcommand{\\sect}[1]{\\input{sections/#1}}`) are includes
too: a use is replaced by the macro's body, whose includes are then inlined (a later macro
expansion would come too late to read the file). An included complete document (a
wrapper's inner paper, a subfiles child, a standalone figure) keeps its body where it was
included; inside the outer body, its preamble (definitions, `\\title`, `\\author`) moves to
the front of the text: the outer document's own definitions and `\\title` come later and win
a clash (as later ones do in `macros.collect` and for the title), and among included
documents the innermost comes last. Before the outer `\\begin{document}` (a wrapper such
as `\\def\\isarxiv{1}\\input{paper}`), the file is inlined whole, as TeX reads it.

>>> r = expand_includes("main.tex", {"main.tex": "A \\\\input{b} C", "b.tex": "B"}, 8, 10**6)
>>> r.text, r.resolved, r.missing
('A B C', 1, 0)
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from arxiv2lm.latex.scan import read_group
from arxiv2lm.latex.templates import substitute

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
_INCLUDE_CMDS = frozenset(
    {"input", "include", "subfile", "import", "subimport", "inputfrom", "subinputfrom",
     "includefrom", "subincludefrom"}
)  # fmt: skip
# a definition whose body holds an include: `\newcommand{\x}[1]{..}`, `\def\x#1{..}`
_MACRO_DEF = re.compile(
    "|".join(
        [
            r"\\(?:newcommand|renewcommand|providecommand|DeclareRobustCommand)\*?\s*"
            r"(?:\{\s*\\(?P<name>[A-Za-z]+)\s*\}|\\(?P<bare>[A-Za-z]+))"
            r"\s*(?:\[\s*(?P<n>[0-9])\s*\])?\s*(?=\{)",
            r"\\[gex]?def\s*\\(?P<dname>[A-Za-z]+)\s*(?P<params>(?:#[1-9])*)\s*(?=\{)",
        ]
    )
)
# text right before a macro's name that makes it a definition, not a use
_DEF_HEAD = re.compile(
    r"\\(?:newcommand|renewcommand|providecommand|DeclareRobustCommand|[gex]?def|let)\*?"
    r"\s*\{?\s*$"
)
_CONDITIONAL = re.compile(r"\\(?:if[A-Za-z]*|else|fi)(?![A-Za-z@])")  # \ifdefined, \ifx, \else
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_END_DOC = re.compile(r"\\end\s*\{document\}")
_DOCCLASS = re.compile(r"\\document(?:class|style)\s*(?:\[[^\]]*\])?\s*\{[^{}]*\}")
_INCLUDEONLY = re.compile(r"\\includeonly\s*\{([^{}]*)\}")


class TooLarge(Exception):
    """The expanded document passed the size cap."""


@dataclass
class IncludeResult:
    text: str
    resolved: int
    missing: int


@dataclass(frozen=True)
class IncludeMacro:
    """A macro of the paper whose body includes a file: `nargs` arguments, `#1`.. in body."""

    nargs: int
    body: str


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


def collect_include_macros(text: str, into: dict[str, IncludeMacro]) -> dict[str, IncludeMacro]:
    """Add the definitions in `text` whose body includes a file to `into` (later ones win).

    >>> collect_include_macros("\\\\newcommand{\\\\sect}[1]{\\\\input{s/#1}}", {})
    {'sect': IncludeMacro(nargs=1, body='\\\\input{s/#1}')}
    """
    if not any(w in text for w in ("input", "include", "subfile", "import")):
        return into
    if not _INCLUDE.search(text):
        return into  # a body that includes is part of the text: no include, no such body
    for m in _MACRO_DEF.finditer(text):
        name = m.group("name") or m.group("bare") or m.group("dname")
        body = read_group(text, m.end())
        if name in _INCLUDE_CMDS or body is None or not _INCLUDE.search(body[0]):
            continue
        nargs = int(m.group("n") or 0) if m.group("dname") is None else len(m.group("params")) // 2
        into[name] = IncludeMacro(nargs, body[0])
    return into


@functools.lru_cache(maxsize=64)
def _pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    if not names:
        return _INCLUDE
    calls = "|".join(re.escape(n) for n in names)
    return re.compile(_INCLUDE.pattern + r"|\\(?P<mcall>" + calls + r")(?![A-Za-z@])")


@dataclass(frozen=True)
class _Include:
    start: int
    end: int
    cmd: str  # input | include | subfile | import | ...
    name: str  # as written
    target: str | None  # None: no such file


@dataclass(frozen=True)
class _Call:
    start: int
    end: int
    body: str  # the macro's body with its arguments put in


def _scan(
    text: str, base: str, files: Mapping[str, str], macros: Mapping[str, IncludeMacro] | None
) -> Iterator[_Include | _Call]:
    """The includes and include-macro uses of `text`, in order. `macros` may grow while the
    caller consumes this (an inlined file defines one): each search uses the current set."""
    pos = 0
    while True:
        m = _pattern(tuple(sorted(macros or ()))).search(text, pos)
        if m is None:
            return
        pos = m.end()
        call = m.groupdict().get("mcall")
        if call:
            mac = (macros or {})[call]
            args: list[str] = []
            end = m.end()
            while len(args) < mac.nargs and (g := read_group(text, end)) is not None:
                args.append(g[0])
                end = g[1]
            head = text[max(0, m.start() - 40) : m.start()]
            if len(args) == mac.nargs and not _DEF_HEAD.search(head):
                pos = end
                yield _Call(m.start(), end, substitute(mac.body, args))
            continue
        if m.group("icmd"):
            folder, name, cmd = m.group("dir"), m.group("file"), m.group("icmd")
            folder = posixpath.join(base, folder) if cmd.startswith("sub") else folder
        else:
            name = m.group("arg") if m.group("arg") is not None else m.group("bare")
            folder, cmd = base, m.group("cmd") or "input"
        if "#" in name:
            continue  # a macro's parameter, inside a definition: not a file
        yield _Include(m.start(), m.end(), cmd, name, resolve(name, folder, files))


def included_files(
    text: str, base: str, files: Mapping[str, str], macros: Mapping[str, IncludeMacro]
) -> set[str]:
    """The project files `text` (in folder `base`) includes, directly or through a macro."""
    out: set[str] = set()
    for ev in _scan(text, base, files, macros):
        if isinstance(ev, _Call):
            out.update(included_files(ev.body, base, files, {}))
        elif ev.target is not None:
            out.add(ev.target)
    return out


class _Expander:
    def __init__(self, main: str, files: Mapping[str, str], max_depth: int, max_chars: int):
        self.main, self.files = main, files
        self.max_depth, self.max_chars = max_depth, max_chars
        self.resolved = self.missing = self.chars = 0
        self.macros: dict[str, IncludeMacro] = {}
        self.in_body = False  # has the text so far passed `\begin{document}`?
        self.hoisted: list[str] = []  # preambles of complete documents included in the body
        only = _INCLUDEONLY.search(files.get(main, ""))
        self.only = {x.strip() for x in only.group(1).split(",")} if only else None

    def file(self, path: str, stack: tuple[str, ...]) -> str:
        text = self.files[path]
        self.chars += len(text)
        if self.chars > self.max_chars:
            raise TooLarge(f"expanded text passed {self.max_chars} chars")
        collect_include_macros(text, self.macros)
        b = _BEGIN_DOC.search(text) if path != self.main and self.in_body else None
        if b is None:
            return self.text(text, path, stack, calls=True)
        preamble = _DOCCLASS.sub("", text[: b.start()], count=1)
        e = _END_DOC.search(text, b.end())
        body = text[b.end() : e.start() if e else len(text)]
        preamble = self.text(preamble, path, stack, calls=True)
        if preamble.strip():
            self.hoisted.append(preamble.strip())
        return self.text(body, path, stack, calls=True)

    def text(self, text: str, path: str, stack: tuple[str, ...], calls: bool) -> str:
        out: list[str] = []
        pos = 0
        for ev in _scan(text, posixpath.dirname(path), self.files, self.macros if calls else {}):
            out.append(self.literal(text[pos : ev.start]))
            pos = ev.end
            if isinstance(ev, _Call) and _CONDITIONAL.search(ev.body):
                out.append(self.alternatives(ev.body, path, stack))
            elif isinstance(ev, _Call):
                out.append(self.text(ev.body, path, stack, calls=False))
            elif (inlined := self.include(ev, stack)) is not None:
                out.append(inlined)
            elif ev.target is None:
                self.missing += 1
        out.append(self.literal(text[pos:]))
        return "".join(out)

    def include(self, ev: _Include, stack: tuple[str, ...]) -> str | None:
        """The text `ev` brings, "" when TeX would skip it, None when its file is missing."""
        stem = posixpath.splitext(ev.name.strip())[0]
        if ev.cmd == "include" and self.only is not None and stem not in self.only:
            return ""  # excluded by \includeonly
        if ev.target is None:
            return None
        if ev.target in stack or len(stack) > self.max_depth:
            return ""  # a cycle or too deep: TeX would fail; keep what we have
        self.resolved += 1
        return self.file(ev.target, (*stack, ev.target))

    def alternatives(self, body: str, path: str, stack: tuple[str, ...]) -> str:
        """A macro choosing its file with a conditional (`\\ifdefined\\x\\input{../#1}\\else
        \\input{#1}\\fi`): the first file that exists, and nothing of the conditional."""
        for ev in _scan(body, posixpath.dirname(path), self.files, {}):
            if isinstance(ev, _Include) and (inlined := self.include(ev, stack)) is not None:
                return inlined
        self.missing += 1
        return ""

    def literal(self, segment: str) -> str:
        if not self.in_body and "\\begin" in segment and _BEGIN_DOC.search(segment):
            self.in_body = True
        return segment


def expand_includes(
    main: str, files: Mapping[str, str], max_depth: int, max_chars: int
) -> IncludeResult:
    """Inline every include reachable from `main`; raise TooLarge past `max_chars`."""
    ex = _Expander(main, files, max_depth, max_chars)
    text = ex.file(main, (main,))
    if ex.hoisted:  # in front: the outer document's own definitions come later, and win
        text = "\n".join(ex.hoisted) + "\n" + text
    return IncludeResult(text, ex.resolved, ex.missing)


def include_macros(texts: Iterable[str]) -> dict[str, IncludeMacro]:
    """Every include macro the given texts define (for the main-file choice)."""
    out: dict[str, IncludeMacro] = {}
    for text in texts:
        collect_include_macros(text, out)
    return out
