"""Turn one expanded, comment-free LaTeX document into plain text with verbatim math.

Output conventions (stable; later stages and the tokenizer rely on them):
- `# Title`, then `## Abstract` and the abstract, then the body; `\\section` -> `## X`,
  `\\subsection` -> `### X`, `\\subsubsection` -> `#### X`, `\\paragraph`/`\\subparagraph`
  -> `##### X`, `\\chapter`/`\\part` -> `# X`; each heading on its own line.
- `\\cite...{}` -> `[CITE]`; `\\ref`, `\\eqref`, `\\autoref`, `\\cref`, ... -> `[REF]`;
  `\\footnote{x}` -> ` (x)`; `\\label` removed; `\\url{u}` -> `u`; `\\href{u}{t}` -> `t`.
- Math verbatim (see `mathmode`): `$...$` inline, `$$...$$` display.
- Floats (figure/table/algorithm) -> `Figure: caption` / `Table: caption` paragraphs.
- Theorem-like environments -> `Theorem 1 (name). ...` from `\\newtheorem`; `proof` ->
  `Proof. ...`; list items -> lines starting `- `; tabular rows -> lines, cells ` | `.
- Text accents and ligatures -> Unicode; `\\$` stays `\\$` so a bare `$` is always math.
- Unknown commands are kept (`\\foo{x}` -> `\\foo x`): text is never silently deleted.

>>> to_text("\\\\begin{document}\\\\section{Intro}Caf\\\\'e \\\\cite{k}.\\\\end{document}")
'## Intro\\n\\nCafé [CITE].'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from arxiv2lm.latex import mathmode
from arxiv2lm.latex.scan import read_arg, read_group, read_optional
from arxiv2lm.latex.textrules import (
    ACCENTS,
    DOTLESS,
    DROP_ARGS,
    DROP_ENVS,
    DROP_WORDS,
    FLOATS,
    HEADINGS,
    LBRACE,
    LIST_ENVS,
    RBRACE,
    SYMBOLS,
    THEOREM_DEFAULTS,
    TILDE,
    UNWRAP,
    UNWRAP_ENVS,
    WORDS,
    finish,
)

_CS = re.compile(r"\\(?:([A-Za-z]+)(\*?)|(.))", re.S)
_BEGIN_DOC = re.compile(r"\\begin\s*\{document\}")
_END_DOC = re.compile(r"\\end\s*\{document\}")
_TITLE = re.compile(r"\\(?:title|icmltitle)(?![A-Za-z@])\s*(?:\[[^\]]*\])?")
_ABSTRACT_ENV = re.compile(r"\\begin\{abstract\}(.*?)\\end\{abstract\}", re.S)
_ABSTRACT_CMD = re.compile(r"\\abstract(?![A-Za-z@])")
_APPENDIX = re.compile(r"\\appendix(?![A-Za-z@])|\\begin\{appendix\}|\\begin\{appendices\}")
_BIBLIO = re.compile(
    "|".join(
        [
            r"\\begin\{thebibliography\}.*?(?:\\end\{thebibliography\}|\Z)",
            r"\\bibliography\s*\{[^{}]*\}",
            r"\\printbibliography(?:\[[^\]]*\])?",
        ]
    ),
    re.S,
)
_NEWTHEOREM = re.compile(r"\\newtheorem(\*?)\s*\{([^{}]+)\}\s*(?:\[[^\]]*\])?\s*\{([^{}]+)\}")
_DECLARETHEOREM = re.compile(r"\\declaretheorem(\*?)\s*(?:\[([^\]]*)\])?\s*\{([^{}]+)\}")
_CAPTION = re.compile(r"\\(?:sub|table)?caption(?:of)?(?![A-Za-z@])\*?")


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


def _env_span(s: str, name: str, start: int) -> tuple[int, int] | None:
    return mathmode._env_end(s, name, start)


class _Converter:
    def __init__(self, theorems: dict[str, tuple[str, bool]], keep_bib: bool) -> None:
        self.theorems = theorems
        self.keep_bib = keep_bib
        self.counters: dict[str, int] = {}

    def conv(self, s: str) -> str:
        if "\\" not in s:
            return s
        out: list[str] = []
        pos = 0
        n = len(s)
        while pos < n:
            m = _CS.search(s, pos)
            if m is None:
                break
            out.append(s[pos : m.start()])
            word, star, sym = m.groups()
            text, pos = self.command(s, m.end(), word, star, sym)
            out.append(text)
        out.append(s[pos:])
        return "".join(out)

    def command(
        self, s: str, i: int, word: str | None, star: str, sym: str | None
    ) -> tuple[str, int]:
        """(replacement, position after) for the control sequence ending at `s[i]`."""
        if word is None:
            return self.symbol(s, i, sym or "")
        if word in WORDS:
            return WORDS[word], i
        if word in DROP_WORDS:
            return "", i
        if word in ACCENTS:
            return self.accent(s, i, word)
        handler: Callable[[str, int, str], tuple[str, int]] | None = self.HANDLERS.get(word)
        if handler is not None:
            return handler(self, s, i, word)
        if word in DROP_ARGS:
            return "", self.skip_args(s, i, DROP_ARGS[word])
        if word in UNWRAP:
            return self.unwrap(s, i, UNWRAP[word])
        if word in HEADINGS:
            return self.heading(s, i, HEADINGS[word])
        if "cite" in word:
            return "[CITE]", self.skip_args(s, i, 1)
        if word.endswith("ref") and word not in ("href", "hyperref"):
            return "[REF]", self.skip_args(s, i, 1)
        return self.unknown(s, i, "\\" + word + star)

    def unknown(self, s: str, i: int, cmd: str) -> tuple[str, int]:
        """Keep an unknown command and its adjacent `{..}` arguments (converted) verbatim."""
        out = [cmd]
        while i < len(s) and s[i] == "{":
            g = read_group(s, i)
            if g is None:
                break
            out.append(LBRACE + self.conv(g[0]) + RBRACE)
            i = g[1]
        return "".join(out), i

    def skip_args(self, s: str, i: int, nargs: int) -> int:
        while (o := read_optional(s, i)) is not None:
            i = o[1]
        for _ in range(nargs):
            g = read_group(s, i)
            if g is None:
                break
            i = g[1]
        return i

    def unwrap(self, s: str, i: int, keep: tuple[int, int]) -> tuple[str, int]:
        """Keep argument `keep[0]` of `keep[1]` brace arguments (optional ones skipped)."""
        which, nargs = keep
        kept = ""
        for k in range(nargs):
            while (o := read_optional(s, i)) is not None:
                i = o[1]
            g = read_group(s, i) if k else read_arg(s, i)
            if g is None:
                break
            if k == which:
                kept = g[0]
            i = g[1]
        return self.conv(kept), i

    def symbol(self, s: str, i: int, sym: str) -> tuple[str, int]:
        if sym in ACCENTS:
            return self.accent(s, i, sym)
        if sym == "\\":  # `\\*[2mm]`: the star and the spacing are layout only
            i += s.startswith("*", i)
            o = read_optional(s, i)
            i = o[1] if o else i
        return SYMBOLS.get(sym, "\\" + sym), i

    def accent(self, s: str, i: int, acc: str) -> tuple[str, int]:
        a = read_arg(s, i)
        if a is None or a[0].startswith(mathmode.PH_OPEN):
            return "", i  # nothing to accent (or math): drop the accent, keep what follows
        base = self.conv(a[0]) if "\\" in a[0] else a[0]
        base = DOTLESS.get(base[:1], base[:1]) + base[1:]
        if not base:  # `\~{}` is a tilde, `\^{}` a caret; other bare accents vanish
            return {"~": TILDE, "^": "^"}.get(acc, ""), a[1]
        return base[0] + ACCENTS[acc] + base[1:], a[1]

    def heading(self, s: str, i: int, marks: str) -> tuple[str, int]:
        title, i = self.unwrap(s, i, (0, 1))
        title = " ".join(title.split())
        return (f"\n\n{marks} {title}\n\n" if title else "\n\n"), i

    def footnote(self, s: str, i: int, _w: str) -> tuple[str, int]:
        text, i = self.unwrap(s, i, (0, 1))
        return (f" ({text.strip()})" if text.strip() else ""), i

    def item(self, s: str, i: int, _w: str) -> tuple[str, int]:
        o = read_optional(s, i)
        if o is not None:
            return "\n- " + self.conv(o[0]).strip() + " ", o[1]
        return "\n- ", i

    def caption(self, s: str, i: int, word: str) -> tuple[str, int]:
        text, i = self.unwrap(s, i, (1, 2) if word == "captionof" else (0, 1))
        return "\n\n" + text.strip() + "\n\n", i

    def begin(self, s: str, i: int, _w: str) -> tuple[str, int]:
        g = read_group(s, i)
        if g is None:
            return "", i
        name, start = g[0].strip(), g[1]
        span = _env_span(s, name, start)
        if span is None:
            return "", start  # unmatched: drop the \begin, keep the text
        body, after = s[start : span[0]], span[1]
        return self.environment(name, body), after

    def environment(self, name: str, body: str) -> str:
        base = name.rstrip("*")
        if base in FLOATS:
            caps = []
            for m in _CAPTION.finditer(body):
                i = m.end()
                if "captionof" in m.group(0):  # \captionof{figure}{text}
                    kind = read_group(body, i)
                    i = kind[1] if kind else i
                o = read_optional(body, i)
                g = read_group(body, o[1] if o else i)
                if g is not None:
                    caps.append(f"{FLOATS[base]}: " + " ".join(self.conv(g[0]).split()))
            return "".join(f"\n\n{c}\n\n" for c in caps)
        if base == "thebibliography":
            if not self.keep_bib:
                return ""
            body = body.replace("\\bibitem", "\n\\item").replace("\\newblock", " ")
            return "\n\n" + self.conv(re.sub(r"\\item\s*\{[^{}]*\}", r"\\item", body)) + "\n\n"
        if base in DROP_ENVS:
            return ""
        if base in ("tabular", "tabularx", "tabulary", "longtable", "supertabular"):
            two = base in ("tabularx", "tabulary") or name == "tabular*"
            i = self.skip_args(body, 0, 2 if two else 1)
            rows = self.conv(body[i:].replace("&", " | "))
            return "\n" + rows + "\n"
        if base == "proof":
            o = read_optional(body, 0)
            label = self.conv(o[0]).strip() if o else "Proof"
            return f"\n\n{label}. " + self.conv(body[o[1] :] if o else body).strip() + "\n\n"
        if name in self.theorems or base in self.theorems:
            label, numbered = self.theorems.get(name) or self.theorems[base]
            if numbered:
                self.counters[label] = self.counters.get(label, 0) + 1
                label = f"{label} {self.counters[label]}"
            o = read_optional(body, 0)
            if o:
                label += f" ({' '.join(self.conv(o[0]).split())})"
                body = body[o[1] :]
            return f"\n\n{label}. " + self.conv(body).strip() + "\n\n"
        if base in LIST_ENVS:
            o = read_optional(body, 0)
            return "\n" + self.conv(body[o[1] :] if o else body) + "\n"
        if base in UNWRAP_ENVS:
            body = body[self.skip_args(body, 0, UNWRAP_ENVS[base]) :]
        return "\n" + self.conv(body) + "\n"

    def end(self, s: str, i: int, _w: str) -> tuple[str, int]:
        g = read_group(s, i)
        return "", (g[1] if g else i)

    HANDLERS: dict[str, Callable[[_Converter, str, int, str], tuple[str, int]]] = {
        "footnote": footnote,
        "footnotetext": footnote,
        "item": item,
        "caption": caption,
        "captionof": caption,
        "subcaption": caption,
        "begin": begin,
        "end": end,
    }


def _title(doc: str) -> str | None:
    m = _TITLE.search(doc)
    if m is None:
        return None
    g = read_group(doc, m.end())
    return g[0] if g else None


def _abstract(doc: str) -> tuple[str | None, str]:
    """(abstract source, doc without it)."""
    m = _ABSTRACT_ENV.search(doc)
    if m:
        return m.group(1), doc[: m.start()] + doc[m.end() :]
    c = _ABSTRACT_CMD.search(doc)
    g = read_group(doc, c.end()) if c else None
    if c and g:
        return g[0], doc[: c.start()] + doc[g[1] :]
    return None, doc


def to_text(
    doc: str,
    keep_title: bool = True,
    keep_abstract: bool = True,
    keep_appendix: bool = True,
    keep_bibliography: bool = False,
) -> str:
    """Plain text of a full LaTeX document (preamble and all), per the module conventions."""
    theorems = theorem_names(doc)
    title = _title(doc)
    abstract, doc = _abstract(doc)
    b = _BEGIN_DOC.search(doc)
    body = doc[b.end() :] if b else doc
    e = _END_DOC.search(body)
    body = body[: e.start()] if e else body
    if not keep_appendix:
        a = _APPENDIX.search(body)
        body = body[: a.start()] if a else body
    if not keep_bibliography:
        body = _BIBLIO.sub("", body)
    conv = _Converter(theorems, keep_bibliography)
    parts: list[str] = []
    for src, wrap in (
        (title if keep_title else None, "# {}"),
        (abstract if keep_abstract else None, "## Abstract\n\n{}"),
    ):
        if src:
            t, spans = mathmode.protect(src)
            text = mathmode.restore(finish(conv.conv(t)), spans).strip()
            if "\n" not in wrap:
                text = " ".join(text.split())
            if text:
                parts.append(wrap.format(text))
    t, spans = mathmode.protect(body)
    parts.append(mathmode.restore(finish(conv.conv(t)), spans))
    # accents were built from combining marks: compose them
    return unicodedata.normalize("NFC", "\n\n".join(p.strip() for p in parts if p.strip()))
