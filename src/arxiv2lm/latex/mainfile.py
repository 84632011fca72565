"""Pick a project's main TeX file, and say which rule decided.

A candidate is a .tex/.ltx/.latex file with `\\documentclass` (or `\\documentstyle`) and
`\\begin{document}`, not `%auto-ignore`d. A candidate that another candidate reaches through
`\\input`/`\\include`/... is never the main, whatever its name (`paper.tex` that does
`\\include{main}` is the main, not `main.tex`). Files that include each other (a child that
does `\\include{main}` back) count as one: a cycle demotes none of them. Content decides
before names.

Rules, first that applies wins: `readme_toplevel` (00README.json / 00README.XXX),
`tex_root` (the candidate most child files name in `%!TEX root = x.tex`), `single_candidate`,
then tie-breaks `bbl_stem` (a .bbl of the same stem), `includes_files` (it includes other
files), `not_template` (no template-ish name), `preferred_name` (main/ms/paper...),
`largest`. Without candidates: `documentclass_only`, then `plain_tex` (largest TeX file
no other file includes).

>>> find_main({"a.tex": "\\\\documentclass{article}\\\\begin{document}x"}, {})
('a.tex', 'single_candidate')
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from arxiv2lm.latex.includes import _INCLUDE, TEX_EXTS, resolve
from arxiv2lm.ledger import Drop

_DOCCLASS = re.compile(r"\\document(?:class|style)(?![A-Za-z@])")
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_TEX_ROOT = re.compile(r"^\s*%\s*!\s*TeX\s+root\s*=\s*(\S+)", re.I | re.M)
_TEMPLATE = re.compile(
    r"templ|sample|example|rebuttal|cover|letter|response|reply|supp|poster|slides|"
    r"talk|review|referee|answer|instruction|guide|author|readme|old|backup|draft|copy"
    r"|formatting",
    re.I,
)
_PREFERRED = re.compile(r"^(main|ms|paper|article|manuscript|arxiv)", re.I)


def is_tex(path: str) -> bool:
    return path.lower().endswith(TEX_EXTS)


def _readme_main(readmes: Mapping[str, str]) -> tuple[str | None, set[str]]:
    """(toplevel file, ignored files) from 00README.json / 00README.XXX directives."""
    top: str | None = None
    ignored: set[str] = set()
    for path, text in readmes.items():
        if path.lower().endswith(".json"):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError:
                continue
            for src in doc.get("sources", []) if isinstance(doc, dict) else []:
                if not isinstance(src, dict):
                    continue
                usage = str(src.get("usage", "")).lower()
                name = str(src.get("filename", ""))
                if usage in ("toplevel", "toplevelfile"):
                    top = top or name
                elif usage == "ignore":
                    ignored.add(name)
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[1].lower() == "toplevelfile":
                    top = top or parts[0]
                elif len(parts) == 2 and parts[1].lower() == "ignore":
                    ignored.add(parts[0])
    return top, ignored


def _edges(texts: Mapping[str, str]) -> dict[str, set[str]]:
    """path -> the project files it includes (resolved; itself excluded)."""
    out: dict[str, set[str]] = {}
    for path, text in texts.items():
        targets: set[str] = set()
        for m in _INCLUDE.finditer(text):
            name = m.group("file") or m.group("arg") or m.group("bare") or ""
            target = resolve(name, posixpath.dirname(path), texts)
            if target and target != path:
                targets.add(target)
        out[path] = targets
    return out


def _components(edges: Mapping[str, set[str]]) -> dict[str, int]:
    """path -> its strongly connected component: files that include each other share one.

    Kosaraju's two passes, iterative, so a chain of thousands of `\\input`s cannot reach
    Python's recursion limit.
    """
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(edges):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(sorted(edges[start])))]
        while stack:
            node, todo = stack[-1]
            nxt = next((n for n in todo if n not in seen), None)
            if nxt is None:
                stack.pop()
                order.append(node)
            else:
                seen.add(nxt)
                stack.append((nxt, iter(sorted(edges[nxt]))))
    includers: dict[str, list[str]] = {p: [] for p in edges}
    for path, targets in edges.items():
        for target in targets:
            includers[target].append(path)
    comp: dict[str, int] = {}
    for start in reversed(order):
        if start in comp:
            continue
        comp[start] = cid = len(comp)
        back = [start]
        while back:
            for m in includers[back.pop()]:
                if m not in comp:
                    comp[m] = cid
                    back.append(m)
    return comp


def _not_included(
    group: list[str], by: Iterable[str], edges: Mapping[str, set[str]], comp: Mapping[str, int]
) -> list[str]:
    """The files of `group` that no file of `by` includes, directly or through others.

    Files that include each other (a child doing `\\include{main}` back) are one unit:
    none of them excludes another, so a cycle never empties the project. Linear in files
    and includes.
    """
    todo = [t for y in by for t in edges[y] if comp[t] != comp[y]]
    below: set[str] = set()  # everything a file of `by` includes from outside its own cycle
    while todo:
        path = todo.pop()
        if path not in below:
            below.add(path)
            todo.extend(edges[path])
    return [x for x in group if x not in below]


def _tex_root(tex: Mapping[str, str], raw: Mapping[str, str], roots: list[str]) -> str | None:
    """The root candidate most child files name in `%!TEX root`, or None.

    Only a child's comment counts (a file with `\\documentclass` is no child), and only a
    named file that is a root candidate: a stale comment naming an included file or a
    missing one must not beat the project's structure.
    """
    votes: Counter[str] = Counter()
    allowed = set(roots)
    for path in sorted(tex):
        if _DOCCLASS.search(tex[path]):
            continue
        m = _TEX_ROOT.search(raw.get(path, "")[:2000])
        root = resolve(m.group(1), posixpath.dirname(path), tex) if m else None
        if root in allowed and root != path:
            votes[root] += 1
    return max(sorted(votes), key=lambda p: votes[p]) if votes else None


def find_main(
    texts: Mapping[str, str], raw: Mapping[str, str], readmes: Mapping[str, str] | None = None
) -> tuple[str, str] | Drop:
    """(main path, rule) from comment-free `texts` and `raw` texts (for magic comments)."""
    top, ignored = _readme_main(readmes or {})
    if top and top in texts:
        return top, "readme_toplevel"
    tex = {  # by key: `texts` may strip a file (a .cls, a .bbl) only when it is read
        p: texts[p]
        for p in texts
        if is_tex(p) and p not in ignored and not raw.get(p, "").lstrip().startswith("%auto-ignore")
    }
    if not tex:
        return Drop("no_main_tex", "no .tex/.ltx/.latex file")
    edges = _edges(tex)
    comp = _components(edges)
    cands = [p for p in sorted(tex) if _DOCCLASS.search(tex[p]) and _BEGIN_DOC.search(tex[p])]
    # only a candidate can demote a candidate: a stray child doing `\\input{main}` cannot
    roots = _not_included(cands, cands, edges, comp)
    root = _tex_root(tex, raw, roots)
    if root is not None:
        return root, "tex_root"
    if len(roots) == 1:
        return roots[0], "single_candidate"
    if roots:
        return _break_tie(roots, tex, set(texts), edges)
    with_class = [p for p in sorted(tex) if _DOCCLASS.search(tex[p])]
    with_class = _not_included(with_class, tex, edges, comp)
    if with_class:
        return max(with_class, key=lambda p: (len(tex[p]), p)), "documentclass_only"
    plain = _not_included([p for p in sorted(tex) if tex[p].strip()], tex, edges, comp)
    if not plain:
        return Drop("no_main_tex", "every TeX file is empty")
    return max(plain, key=lambda p: (len(tex[p]), p)), "plain_tex"


def _break_tie(
    cands: list[str], tex: Mapping[str, str], all_paths: set[str], edges: Mapping[str, set[str]]
) -> tuple[str, str]:
    """Content first (a .bbl built from it, files it includes), names only after."""

    def stem(p: str) -> str:
        return posixpath.splitext(p)[0]

    def name(p: str) -> str:
        return posixpath.basename(stem(p))

    tests: list[tuple[str, Callable[[str], bool]]] = [
        ("bbl_stem", lambda p: stem(p) + ".bbl" in all_paths),
        ("includes_files", lambda p: bool(edges.get(p))),
        ("not_template", lambda p: not _TEMPLATE.search(name(p))),
        ("preferred_name", lambda p: bool(_PREFERRED.match(name(p)))),
    ]
    pool = cands
    for rule, test in tests:
        kept = [p for p in pool if test(p)]
        if len(kept) == 1:
            return kept[0], rule
        if kept:
            pool = kept
    return max(pool, key=lambda p: (len(tex[p]), p)), "largest"
