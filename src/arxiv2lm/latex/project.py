"""One paper's files in, text and statistics out: the `extract` stage's pure core.

Steps: decode every file (`encoding`), strip comments (`comments`), pick the main file
(`mainfile`), inline includes (`includes`), collect macros from local .sty files and the
document and expand them (`macros`), then convert to text (`totext`).

>>> doc = b"\\\\documentclass{article}\\\\begin{document}Hi\\\\end{document}"
>>> r = extract_paper(["main.tex"], [doc], params)          # doctest: +SKIP
>>> r.text, r.main_rule                                         # doctest: +SKIP
('Hi', 'single_candidate')
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa

from arxiv2lm import pool
from arxiv2lm.latex import (
    comments,
    conditionals,
    encoding,
    ensuremath,
    includes,
    macros,
    mainfile,
    packages,
    totext,
)
from arxiv2lm.ledger import Drop
from arxiv2lm.params import ExtractParams

COMMENTED_EXTS = (".tex", ".ltx", ".latex", ".sty", ".bbl", ".cls", ".def")
_WITHDRAWN = re.compile(r"withdrawn|withdraw this (?:paper|article|manuscript)", re.I)
WITHDRAWN_MAX_BYTES = 2000  # an arXiv withdrawal notice is a few lines
_BIBCMD = re.compile(
    "|".join([r"\\bibliography\s*\{[^{}]*\}", r"\\printbibliography(?:\[[^\]]*\])?"])
)


DOCS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("text", pa.string()),
        ("main_file", pa.string()),
        ("main_rule", pa.string()),
        ("encoding", pa.string()),
        ("inputs_resolved", pa.int64()),
        ("inputs_missing", pa.int64()),
        ("macros_defined", pa.int64()),
        ("bytes_in", pa.int64()),
        ("chars_out", pa.int64()),
    ]
)


@dataclass(frozen=True)
class ExtractResult:
    text: str
    main_file: str
    main_rule: str
    encoding: str
    inputs_resolved: int
    inputs_missing: int
    macros_defined: int
    macro_expansions: int
    expansions_capped: bool
    # uses of macros the expander cannot run (drawing, package internals, past a cap),
    # removed with their arguments, or leaving only the arguments they print (`opaque`)
    macros_dropped_unexpandable: int
    figures_uncaptioned: int
    bytes_in: int
    chars_out: int

    def row(self, paper_id: str, domain: str) -> dict[str, str | int]:
        """This paper's row (DOCS_SCHEMA) in its chunk's `data/extract/parts/<chunk>.parquet`."""
        fields = DOCS_SCHEMA.names[2:]
        return {"id": paper_id, "domain": domain} | {f: getattr(self, f) for f in fields}


def _is_readme(path: str) -> bool:
    return posixpath.basename(path).upper().startswith("00README")


def _inline_bbl(doc: str, main: str, files: Mapping[str, str]) -> str:
    """Replace `\\bibliography{..}` (biblatex: `\\printbibliography`) by the main file's .bbl,
    as BibTeX (biber) output would."""
    bbl = files.get(posixpath.splitext(main)[0] + ".bbl")
    if bbl is None:
        return doc
    return _BIBCMD.sub(lambda _m: bbl, doc, count=1)


class _CommentFree(Mapping[str, str]):
    """Each file's text without comments, stripped when first read: a .cls, or a .bbl the
    document neither inputs nor inlines, is never read (12% of a paper's strip time)."""

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self._done: dict[str, str] = {}

    def __getitem__(self, path: str) -> str:
        text = self._done.get(path)
        if text is None:
            text = self._done[path] = comments.strip_comments(self._raw[path])
        return text

    def __contains__(self, path: object) -> bool:
        return path in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def extract_paper(
    paths: list[str], contents: list[bytes], params: ExtractParams
) -> ExtractResult | Drop:
    """Text of one paper's LaTeX project, or a Drop (`no_main_tex`, `bad_encoding`, `withdrawn`,
    `too_large`)."""
    raw: dict[str, str] = {}
    encodings: dict[str, str] = {}
    undecodable: dict[str, str] = {}  # left out: an \input of one counts as missing
    own = [encoding.declared(data) for data in contents]  # each file's, read once
    hint = encoding.hint_of(own)
    for path, data, declared in zip(paths, contents, own, strict=True):
        try:
            raw[path], encodings[path] = encoding.decode(data, hint, declared)
        except encoding.Undecodable as exc:
            undecodable[path] = str(exc)
    bytes_in = sum(len(c) for c in contents)
    files = _CommentFree({p: t for p, t in raw.items() if p.lower().endswith(COMMENTED_EXTS)})
    readmes = {p: t for p, t in raw.items() if _is_readme(p)}
    found = mainfile.find_main(files, raw, readmes)
    if isinstance(found, Drop):
        bad_tex = [f"{p}: {why}" for p, why in undecodable.items() if mainfile.is_tex(p)]
        return Drop("bad_encoding", bad_tex[0]) if bad_tex else found
    main, rule = found
    if bytes_in <= WITHDRAWN_MAX_BYTES and _WITHDRAWN.search(files[main]):
        return Drop("withdrawn", f"{bytes_in} bytes mentioning withdrawal")
    max_chars = int(params.max_expanded_mb * 1_000_000)
    try:
        inc = includes.expand_includes(main, files, params.max_input_depth, max_chars)
    except includes.TooLarge as exc:
        return Drop("too_large", str(exc))
    styles = (files[p] for p in sorted(files) if p.lower().endswith(".sty"))
    doc = conditionals.evaluate(inc.text, conditionals.declared(styles)).text
    if params.keep_bibliography:
        doc = _inline_bbl(doc, main, files)
    table = macros.Macros()
    try:
        packages.collect(table, doc, main, files, params.max_input_depth, max_chars)
        doc = macros.collect_and_remove(doc, table)
        exp = macros.expand(doc, table, params.max_macro_expansions, max_chars)
    except includes.TooLarge as exc:
        return Drop("too_large", str(exc))
    if len(exp.text) > max_chars:
        return Drop("too_large", f"macro expansion passed {max_chars} chars")
    converted = totext.convert(
        ensuremath.resolve(exp.text),
        keep_title=params.keep_title,
        keep_abstract=params.keep_abstract,
        keep_appendix=params.keep_appendix,
        keep_bibliography=params.keep_bibliography,
    )
    text = converted.text
    if not text.strip():
        return Drop("empty_text", f"{main} has no text after conversion")
    return ExtractResult(
        text=text,
        main_file=main,
        main_rule=rule,
        encoding=encodings[main],
        inputs_resolved=inc.resolved,
        inputs_missing=inc.missing,
        macros_defined=len(table),
        macro_expansions=exp.expansions,
        expansions_capped=exp.capped,
        macros_dropped_unexpandable=exp.dropped,
        bytes_in=bytes_in,
        chars_out=len(text),
        figures_uncaptioned=converted.figures_uncaptioned,
    )


def extract_guarded(
    item: tuple[str, list[str], list[bytes]], params: ExtractParams
) -> tuple[str, ExtractResult | Drop]:
    """(id, `extract_paper` result) with the paper's time limit; picklable for a pool."""
    paper_id, paths, contents = item
    try:
        result = pool.call_with_timeout(
            lambda _: extract_paper(paths, contents, params), None, params.timeout_s
        )
    except pool.ItemTimeout:
        result = Drop("timeout", f"over {params.timeout_s}s")
    except RecursionError:
        result = Drop("too_deep", "LaTeX nesting deeper than the Python stack")
    except Exception as err:  # noqa: BLE001 - a bug met by one paper must not stop the stage
        result = Drop("extract_error", f"{type(err).__name__}: {err}"[:300])
    return paper_id, result
