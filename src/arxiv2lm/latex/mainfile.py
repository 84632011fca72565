"""Pick a project's main TeX file, and say which rule decided.

Rules, first that applies wins: `readme_toplevel` (00README.json / 00README.XXX), `tex_root`
(`%!TEX root = x.tex`), then among candidates (a .tex/.ltx/.latex file with `\\documentclass`
or `\\documentstyle` and `\\begin{document}`, not `%auto-ignore`d, not included by another
file): `single_candidate`, then tie-breaks `bbl_stem` (a .bbl of the same stem),
`not_template` (no template-ish name), `preferred_name` (main/ms/paper...), `largest`.
Without candidates: `documentclass_only`, then `plain_tex` (largest non-included TeX file).

>>> find_main({"a.tex": "\\\\documentclass{article}\\\\begin{document}x"}, {})
('a.tex', 'single_candidate')
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping

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


def _included(texts: Mapping[str, str]) -> set[str]:
    out: set[str] = set()
    for path, text in texts.items():
        for m in _INCLUDE.finditer(text):
            name = m.group("file") or m.group("arg") or m.group("bare") or ""
            target = resolve(name, posixpath.dirname(path), texts)
            if target and target != path:
                out.add(target)
    return out


def find_main(
    texts: Mapping[str, str], raw: Mapping[str, str], readmes: Mapping[str, str] | None = None
) -> tuple[str, str] | Drop:
    """(main path, rule) from comment-free `texts` and `raw` texts (for magic comments)."""
    top, ignored = _readme_main(readmes or {})
    if top and top in texts:
        return top, "readme_toplevel"
    tex = {
        p: t
        for p, t in texts.items()
        if is_tex(p) and p not in ignored and not raw.get(p, "").lstrip().startswith("%auto-ignore")
    }
    if not tex:
        return Drop("no_main_tex", "no .tex/.ltx/.latex file")
    for path in sorted(tex):
        if _DOCCLASS.search(tex[path]):
            continue  # only a child file's `%!TEX root` names another file's role
        m = _TEX_ROOT.search(raw.get(path, "")[:2000])
        root = resolve(m.group(1), posixpath.dirname(path), tex) if m else None
        if root and root != path:
            return root, "tex_root"
    included = _included(tex)
    with_class = [p for p in sorted(tex) if _DOCCLASS.search(tex[p]) and p not in included]
    cands = [p for p in with_class if _BEGIN_DOC.search(tex[p])]
    if len(cands) == 1:
        return cands[0], "single_candidate"
    if cands:
        return _break_tie(cands, tex, set(texts))
    if with_class:
        return max(with_class, key=lambda p: (len(tex[p]), p)), "documentclass_only"
    plain = [p for p in sorted(tex) if p not in included and tex[p].strip()]
    if not plain:
        return Drop("no_main_tex", "every TeX file is empty or included by another")
    return max(plain, key=lambda p: (len(tex[p]), p)), "plain_tex"


def _break_tie(cands: list[str], tex: Mapping[str, str], all_paths: set[str]) -> tuple[str, str]:
    def stem(p: str) -> str:
        return posixpath.splitext(p)[0]

    def name(p: str) -> str:
        return posixpath.basename(stem(p))

    tests: list[tuple[str, Callable[[str], bool]]] = [
        ("bbl_stem", lambda p: stem(p) + ".bbl" in all_paths),
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
