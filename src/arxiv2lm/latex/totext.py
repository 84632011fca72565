"""Turn one expanded, comment-free LaTeX document into plain text with verbatim math.

Output conventions (stable; later stages and the tokenizer rely on them):
- `# Title`, then `## Abstract` and the abstract, then the body; `\\section` -> `## X`,
  `\\subsection` -> `### X`, `\\subsubsection` -> `#### X`, `\\paragraph`/`\\subparagraph`
  -> `##### X`, `\\chapter`/`\\part` -> `# X`; each heading on its own line.
- `\\cite...{}`, `\\Citet{}` -> `[CITE]`; `\\ref`, `\\eqref`, `\\autoref`, `\\cref`, `\\vref`,
  `\\nameref`, `\\crefrange`, ... -> `[REF]`; `\\footnote{x}` -> ` (x)`; `\\url{u}` -> `u`;
  `\\href{u}{t}`, `\\hyperref[l]{t}`, `\\hyperlink{l}{t}` -> `t`; knowledge's `\\kl{x}`,
  `\\intro{x}` -> `x`; `\\enquote{x}`, `\\say{x}` -> `“x”`.
- Gone without a trace (and without joining the words around them): `\\label`, `\\index`,
  `\\glossary`, `\\phantomsection`, `\\printindex`, layout (`\\noindent`, `\\centering`,
  `\\vspace*{..}`, `\\newpage`; `\\linebreak[n]` and `\\pagebreak[n]` end the line), and margin
  notes (`\\marginpar`, `\\marginnote`, `\\todo`): asides, not running text.
- Acronyms and glossary terms as printed (see `acronyms`); siunitx quantities as text (see
  `siunitx`); bibliographies of every form follow `keep_bibliography` (see `bibliography`).
- Math verbatim (see `mathmode`): `$...$` inline, `$$...$$` display.
- Floats (figure/table/algorithm) -> `Figure: caption` / `Table: caption` paragraphs; a figure
  with no caption leaves nothing and is counted (`Conversion.figures_uncaptioned`).
- Theorem-like environments -> `Theorem 1 (name). ...` from `\\newtheorem`; `proof` ->
  `Proof. ...`; list items -> lines starting `- `; tabular rows -> lines, cells ` | `.
- Text accents, ligatures, textcomp symbols and special letters (`\\th`, `\\ng`) -> Unicode;
  `\\$` stays `\\$` so a bare `$` is always math. Of two `\\title`s the last one wins.
- Unknown commands are kept (`\\foo{x}` -> `\\foo x`): text is never silently deleted.

>>> to_text("\\\\begin{document}\\\\section{Intro}Caf\\\\'e \\\\cite{k}.\\\\end{document}")
'## Intro\\n\\nCafé [CITE].'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from arxiv2lm.latex import acronyms, bibliography, frontmatter, mathmode, siunitx
from arxiv2lm.latex.scan import read_arg, read_group, read_optional
from arxiv2lm.latex.textrules import (
    ACCENTS,
    BREAKS,
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
    TILDE,
    UNWRAP,
    UNWRAP_ENVS,
    WORDS,
    finish,
)

_CS = re.compile(r"\\(?:([A-Za-z]+)(\*?)|(.))", re.S)
_CAPTION = re.compile(r"\\(?:sub|table)?caption(?:of)?(?![A-Za-z@])\*?")


def _env_span(s: str, name: str, start: int) -> tuple[int, int] | None:
    return mathmode._env_end(s, name, start)


@dataclass(frozen=True)
class Conversion:
    text: str
    figures_uncaptioned: int  # figures with no caption, of which nothing is kept


class _Converter:
    def __init__(
        self,
        theorems: dict[str, tuple[str, bool]],
        keep_bib: bool,
        terms: dict[str, acronyms.Term] | None = None,
        units: dict[str, str] | None = None,
    ) -> None:
        self.theorems = theorems
        self.keep_bib = keep_bib
        self.counters: dict[str, int] = {}
        self.glossary = acronyms.Glossary(terms or {})
        self.units = siunitx.UNITS if units is None else units
        self.figures_uncaptioned = 0
        self.spans: list[str] = []
        self.pending: set[int] = set()  # math spans whose glossary uses are not printed yet

    def conv(self, s: str) -> str:
        if self.pending:  # (rare: a paper with glossary terms in math)
            return self.conv_with_math(s)
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

    def conv_with_math(self, s: str) -> str:
        """`conv`, printing the glossary terms of the math in the text as it is read."""
        out: list[str] = []
        pos = 0
        while (m := _CS.search(s, pos)) is not None:
            out.append(self.plain(s[pos : m.start()]))
            word, star, sym = m.groups()
            text, pos = self.command(s, m.end(), word, star, sym)
            out.append(text)
        out.append(self.plain(s[pos:]))
        return "".join(out)

    def plain(self, s: str) -> str:
        """Text kept as it is; the math in it that uses glossary terms is resolved now, so
        first uses follow the reading order (see `with_math`)."""
        if self.pending and mathmode.PH_OPEN in s:
            for m in mathmode.PLACEHOLDER.finditer(s):
                k = int(m.group(1))
                if k in self.pending:
                    self.pending.discard(k)
                    math = acronyms.in_math(self.spans[k], self.glossary, self.conv)
                    # a term's own math, inside this math: without its `$`
                    bare = [sp.strip().strip("$") for sp in self.spans]
                    self.spans[k] = mathmode.restore(math, bare)
        return s

    def with_math(self, spans: list[str]) -> None:
        """The math spans the text's placeholders stand for: those that use glossary terms
        (`\\gls` in `\\text{..}`) print them as the text does."""
        self.spans = spans
        if self.glossary.terms:
            self.pending = {k for k, sp in enumerate(spans) if acronyms.uses_in(sp)}

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
        if word in BREAKS:
            o = read_optional(s, i)
            return BREAKS[word], (o[1] if o else i)
        if word in acronyms.COMMANDS:
            return self.glossary.command(word, s, i, self.conv)
        if word in siunitx.COMMANDS:
            got = siunitx.command(word, s, i, self.units, self.conv)
            if got is not None:
                return got
        handler: Callable[[str, int, str], tuple[str, int]] | None = self.HANDLERS.get(word)
        if handler is not None:
            return handler(self, s, i, word)
        if word in DROP_ARGS:
            return "", self.skip_args(s, i, DROP_ARGS[word])
        if word in UNWRAP:
            return self.unwrap(s, i, UNWRAP[word])
        if word in HEADINGS:
            return self.heading(s, i, HEADINGS[word])
        if "cite" in word.lower():  # \citep, \Citet, \parencite, \Textcite, ...
            return "[CITE]", self.skip_args(s, i, 1)
        if word.endswith("ref") and word not in ("href", "hyperref"):
            return "[REF]", self.skip_args(s, i, 1)
        if word.endswith("refrange"):  # cleveref, varioref: `\crefrange{a}{b}`
            return "[REF]", self.skip_args(s, i, 2)
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

    def quote(self, s: str, i: int, _w: str) -> tuple[str, int]:
        """csquotes' `\\enquote{x}`, dirtytalk's `\\say{x}` -> “x”."""
        text, i = self.unwrap(s, i, (0, 1))
        return "“" + text + "”", i

    def item(self, s: str, i: int, _w: str) -> tuple[str, int]:
        o = read_optional(s, i)
        label = "" if o is None else self.conv(o[0]).strip()
        label += " " if label else ""
        i = i if o is None else o[1]
        while s.startswith((" ", "\t"), i):  # TeX skips the blanks after `\item`
            i += 1
        return "\n- " + label, i

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
            if not caps and FLOATS[base] == "Figure":
                self.figures_uncaptioned += 1
            return "".join(f"\n\n{c}\n\n" for c in caps)
        if base in bibliography.LIST_ENVS or base == "biblist":
            if not self.keep_bib:
                return ""
            if base == "biblist":
                return "\n\n" + self.conv(bibliography.amsrefs(body)) + "\n\n"
            return "\n\n" + self.conv(bibliography.items(body, base)) + "\n\n"
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

    def bib_entry(self, s: str, i: int, word: str) -> tuple[str, int]:
        """An entry of a hand-set reference list with no environment (`\\reference ...`)."""
        if not self.keep_bib:
            return "", i
        return "\n- ", bibliography.entry_start(s, i, word)

    def refsection(self, s: str, i: int, _w: str) -> tuple[str, int]:
        """biblatex `.bbl` data, inlined for `\\printbibliography`."""
        tex, i = bibliography.biblatex(s, i)
        return ("\n\n" + self.conv(tex) + "\n\n" if self.keep_bib else ""), i

    HANDLERS: dict[str, Callable[[_Converter, str, int, str], tuple[str, int]]] = {
        "footnote": footnote,
        "footnotetext": footnote,
        "item": item,
        "enquote": quote,
        "say": quote,
        "caption": caption,
        "captionof": caption,
        "subcaption": caption,
        "begin": begin,
        "end": end,
        "reference": bib_entry,
        "refpar": bib_entry,
        "refsection": refsection,
    }


def to_text(
    doc: str,
    keep_title: bool = True,
    keep_abstract: bool = True,
    keep_appendix: bool = True,
    keep_bibliography: bool = False,
) -> str:
    """Plain text of a full LaTeX document (preamble and all), per the module conventions."""
    return convert(doc, keep_title, keep_abstract, keep_appendix, keep_bibliography).text


def convert(
    doc: str,
    keep_title: bool = True,
    keep_abstract: bool = True,
    keep_appendix: bool = True,
    keep_bibliography: bool = False,
) -> Conversion:
    """`to_text`'s text with what the conversion counted."""
    # preamble and document protected apart (a stray `$` of the preamble pairs with nothing
    # of the text), into one list of spans: a term defined in the preamble may hold math
    spans: list[str] = []
    b = frontmatter.BEGIN_DOC.search(doc)
    cut = b.start() if b else 0
    doc = mathmode.protect(doc[:cut], spans)[0] + mathmode.protect(doc[cut:], spans)[0]
    theorems = frontmatter.theorem_names(doc)
    conv = _Converter(theorems, keep_bibliography, acronyms.collect(doc), siunitx.collect(doc))
    conv.with_math(spans)
    title = frontmatter.title(doc)
    abstract, doc = frontmatter.abstract(doc)
    body = frontmatter.body(doc, keep_appendix)
    body = bibliography.clean_bbl(body) if keep_bibliography else bibliography.drop(body)
    parts: list[str] = []
    for src, wrap in (
        (title if keep_title else None, "# {}"),
        (abstract if keep_abstract else None, "## Abstract\n\n{}"),
    ):
        if src:
            text = mathmode.restore(finish(conv.conv(src)), spans).strip()
            if "\n" not in wrap:
                text = " ".join(text.split())
            if text:
                parts.append(wrap.format(text))
    parts.append(mathmode.restore(finish(conv.conv(body)), spans))
    # accents were built from combining marks: compose them
    text = nfc("\n\n".join(p.strip() for p in parts if p.strip()))
    return Conversion(text, conv.figures_uncaptioned)


def nfc(text: str) -> str:
    """`text` in NFC, line by line, the ASCII lines as they are: a newline is a starter that
    composes with nothing, so NFC of the whole is NFC of each line joined, and ASCII is NFC
    (4x faster on papers: most lines are ASCII, and NFC of a line with a mark is slow).

    >>> nfc("Cafe\\u0301\\nx") == "Caf\\u00e9\\nx"
    True
    """
    if text.isascii():
        return text
    lines = text.split("\n")
    return "\n".join([s if s.isascii() else unicodedata.normalize("NFC", s) for s in lines])
