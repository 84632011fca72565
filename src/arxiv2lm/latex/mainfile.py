"""Pick a project's main TeX file, and say which rule decided.

A candidate is a complete document: a .tex/.ltx/.latex file with `\\documentclass` (or
`\\documentstyle`) and `\\begin{document}`, not `%auto-ignore`d, or a wrapper (a file without
`\\documentclass` that includes a candidate from its own folder or below:
`\\def\\isarxiv{1}\\input{paper}`). A candidate that another candidate reaches through
`\\input`/`\\include`/... (or the paper's own include macro) is never the main, whatever its
name (`paper.tex` that does `\\include{main}` is the main, not `main.tex`). Files that
include each other (a child that does `\\include{main}` back) count as one: a cycle demotes
none of them.

Content decides; names break only exact ties. Rules, first that applies wins:
`readme_toplevel` (00README.json / 00README.XXX), `single_candidate`, then among the roots
left: `not_latexdiff` (a latexdiff output is never the paper), `fuller_version` (a root whose
includes are all included by another root too is a shorter version of it), `tex_root` (the
root most child files name in `%!TEX root = x.tex`), `top_level` (arXiv compiles from the
top folder: a copy in `old/` or `images/` loses), `bbl_stem` (a .bbl of the same stem),
`has_abstract`, `largest` (the text with its includes inlined), `not_template` (no
template-ish name), `preferred_name` (main/ms/paper...), `path_order`. Without candidates:
`documentclass_only`, then `plain_tex` (largest TeX file no other file includes).

>>> find_main({"a.tex": "\\\\documentclass{article}\\\\begin{document}x"}, {})
('a.tex', 'single_candidate')
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

from arxiv2lm.latex.includes import TEX_EXTS, include_macros, included_files, resolve
from arxiv2lm.ledger import Drop

_DOCCLASS = re.compile(r"\\document(?:class|style)(?![A-Za-z@])")
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_TEX_ROOT = re.compile(r"^\s*%\s*!\s*TeX\s+root\s*=\s*(\S+)", re.I | re.M)
_LATEXDIFF = re.compile(r"\\DIF(?:add|del)")  # latexdiff's \DIFadd{}, \DIFdelbegin, \DIFaddFL{}
_ABSTRACT = re.compile("|".join([r"\\begin\s*\{abstract\}", r"\\abstract(?![A-Za-z@])\s*\{"]))
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


def _edges(tex: Mapping[str, str]) -> dict[str, set[str]]:
    """path -> the project files it includes (resolved; itself excluded), include macros too."""
    macros = include_macros(tex.values())
    out: dict[str, set[str]] = {}
    for path, text in tex.items():
        out[path] = included_files(text, posixpath.dirname(path), tex, macros) - {path}
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


def _wrappers(
    complete: list[str],
    tex: Mapping[str, str],
    edges: Mapping[str, set[str]],
    comp: Mapping[str, int],
) -> set[str]:
    """Files without `\\documentclass` that include a complete document or a wrapper from
    their own folder or below (`\\def\\isarxiv{1}\\input{paper}`). Upward (`\\input{../main}`
    from `old/notes.tex`) is a stray child, and so is a file the document includes back."""
    includers: dict[str, list[str]] = {p: [] for p in edges}
    for path, targets in edges.items():
        for target in targets:
            includers[target].append(path)
    found: set[str] = set()
    todo = list(complete)
    while todo:
        inner = todo.pop()
        for outer in includers[inner]:
            folder = posixpath.dirname(outer)
            below = not folder or inner.startswith(folder + "/")
            if (
                below
                and comp[outer] != comp[inner]
                and outer not in found
                and not _DOCCLASS.search(tex[outer])
            ):
                found.add(outer)
                todo.append(outer)
    return found


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
    complete = [p for p in sorted(tex) if _DOCCLASS.search(tex[p]) and _BEGIN_DOC.search(tex[p])]
    cands = sorted(set(complete) | _wrappers(complete, tex, edges, comp))
    # only a candidate can demote a candidate: a stray child doing `\\input{main}` cannot
    roots = _not_included(cands, cands, edges, comp)
    if len(roots) == 1:
        return roots[0], "single_candidate"
    if roots:
        return _break_tie(roots, tex, raw, set(texts), edges)
    with_class = [p for p in sorted(tex) if _DOCCLASS.search(tex[p])]
    with_class = _not_included(with_class, tex, edges, comp)
    if with_class:
        return max(with_class, key=lambda p: (len(tex[p]), p)), "documentclass_only"
    plain = _not_included([p for p in sorted(tex) if tex[p].strip()], tex, edges, comp)
    if not plain:
        return Drop("no_main_tex", "every TeX file is empty")
    return max(plain, key=lambda p: (len(tex[p]), p)), "plain_tex"


def _reach(path: str, edges: Mapping[str, set[str]]) -> set[str]:
    """Every file `path` includes, directly or through others (itself excluded)."""
    seen: set[str] = set()
    todo = list(edges[path])
    while todo:
        p = todo.pop()
        if p not in seen and p != path:
            seen.add(p)
            todo.extend(edges[p])
    return seen


def _fuller(pool: list[str], reach: Mapping[str, set[str]]) -> list[str]:
    """`pool` less each root that includes files, all of them included by a root that
    includes more: `main.tex` without the appendix beside `arxiv.tex` that has it all."""
    return [p for p in pool if not (reach[p] and any(reach[p] < reach[q] for q in pool))]


def _votes(pool: list[str], tex: Mapping[str, str], raw: Mapping[str, str]) -> list[str]:
    """The roots of `pool` that most child files name in `%!TEX root`, or [] when the
    most-named file is no root of `pool` (missing, included, or a shorter version): a
    stale comment must not beat the project's structure, nor one child eight others."""
    votes: Counter[str] = Counter()
    for path in sorted(tex):
        if _DOCCLASS.search(tex[path]):
            continue  # only a child's comment counts
        m = _TEX_ROOT.search(raw.get(path, "")[:2000])
        if m:
            name = m.group(1)
            target = resolve(name, posixpath.dirname(path), tex)
            target = target or posixpath.normpath(posixpath.join(posixpath.dirname(path), name))
            if target != path:
                votes[target] += 1
    if not votes:
        return []
    most = max(votes.values())
    return [p for p in pool if votes[p] == most]


def _break_tie(
    roots: list[str],
    tex: Mapping[str, str],
    raw: Mapping[str, str],
    all_paths: set[str],
    edges: Mapping[str, set[str]],
) -> tuple[str, str]:
    """Content first (versions, votes, folder, .bbl, abstract, size), names only after."""
    reach = {p: _reach(p, edges) for p in roots}

    def doc(p: str) -> Iterable[str]:  # the text of `p` with everything it includes
        return (tex[f] for f in sorted(reach[p] | {p}))

    def keep(test: Callable[[str], bool]) -> Callable[[list[str]], list[str]]:
        return lambda pool: [p for p in pool if test(p)]

    def stem(p: str) -> str:
        return posixpath.splitext(p)[0]

    def name(p: str) -> str:
        return posixpath.basename(stem(p))

    def shallowest(pool: list[str]) -> list[str]:
        depth = min(p.count("/") for p in pool)
        return [p for p in pool if p.count("/") == depth]

    def largest(pool: list[str]) -> list[str]:
        size = {p: sum(map(len, doc(p))) for p in pool}
        return [p for p in pool if size[p] == max(size.values())]

    rules: list[tuple[str, Callable[[list[str]], list[str]]]] = [
        ("not_latexdiff", keep(lambda p: not _LATEXDIFF.search(tex[p]))),
        ("fuller_version", lambda pool: _fuller(pool, reach)),
        ("tex_root", lambda pool: _votes(pool, tex, raw)),
        ("top_level", shallowest),
        ("bbl_stem", keep(lambda p: stem(p) + ".bbl" in all_paths)),
        ("has_abstract", keep(lambda p: any(_ABSTRACT.search(t) for t in doc(p)))),
        ("largest", largest),
        ("not_template", keep(lambda p: not _TEMPLATE.search(name(p)))),
        ("preferred_name", keep(lambda p: bool(_PREFERRED.match(name(p))))),
    ]
    pool = roots
    for rule, narrow in rules:
        kept = narrow(pool)
        if len(kept) == 1:
            return kept[0], rule
        if kept:
            pool = kept
    return pool[0], "path_order"
