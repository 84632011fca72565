"""The parts of a document around its text: title, abstract, theorem names, body, appendix.

>>> title("\\\\title{Draft}\\\\title{Final}")
'Final'
"""

from __future__ import annotations

import re

from arxiv2lm.latex.scan import read_group
from arxiv2lm.latex.textrules import THEOREM_DEFAULTS

BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_END_DOC = re.compile(r"\\end\s*\{document\}")
_TITLE = re.compile(r"\\(?:title|icmltitle)(?![A-Za-z@])\s*(?:\[[^\]]*\])?")
_ABSTRACT_ENV = re.compile(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", re.S)
_ABSTRACT_CMD = re.compile(r"\\abstract(?![A-Za-z@])")
_APPENDIX = re.compile(r"\\appendix(?![A-Za-z@])|\\begin\{appendix\}|\\begin\{appendices\}")
_NEWTHEOREM = re.compile(r"\\newtheorem(\*?)\s*\{([^{}]+)\}\s*(?:\[[^\]]*\])?\s*\{([^{}]+)\}")
_DECLARETHEOREM = re.compile(r"\\declaretheorem(\*?)\s*(?:\[([^\]]*)\])?\s*\{([^{}]+)\}")


def theorem_names(text: str) -> dict[str, tuple[str, bool]]:
    """env name -> (label, numbered) from `\\newtheorem`, `\\declaretheorem` and defaults."""
    names = dict(THEOREM_DEFAULTS)
    for star, env, label in _NEWTHEOREM.findall(text):
        names[env.strip()] = (label.strip(), not star)
    for star, opts, env in _DECLARETHEOREM.findall(text):
        m = re.search(r"name\s*=\s*\{?([^,\]{}]+)", opts)
        label = m.group(1).strip() if m else env.strip().capitalize()
        names[env.strip()] = (label, not star and "numbered=no" not in opts.replace(" ", ""))
    return names


def title(doc: str) -> str | None:
    """The last `\\title{..}`, as LaTeX prints the last one given."""
    found = None
    for m in _TITLE.finditer(doc):
        g = read_group(doc, m.end())
        found = g[0] if g else found
    return found


def abstract(doc: str) -> tuple[str | None, str]:
    """(abstract source, doc without it)."""
    m = _ABSTRACT_ENV.search(doc)
    if m:
        return m.group(1), doc[: m.start()] + doc[m.end() :]
    c = _ABSTRACT_CMD.search(doc)
    g = read_group(doc, c.end()) if c else None
    if c and g:
        return g[0], doc[: c.start()] + doc[g[1] :]
    return None, doc


def body(doc: str, keep_appendix: bool) -> str:
    """The text between `\\begin{document}` and `\\end{document}`, cut at the appendix."""
    b = BEGIN_DOC.search(doc)
    text = doc[b.end() :] if b else doc
    e = _END_DOC.search(text)
    text = text[: e.start()] if e else text
    if not keep_appendix:
        a = _APPENDIX.search(text)
        text = text[: a.start()] if a else text
    return text
