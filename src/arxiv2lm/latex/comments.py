"""Remove TeX comments the way TeX reads them, leaving verbatim material untouched.

`%` starts a comment unless escaped (`\\%`); the comment eats its newline, so a line ending
in `%` joins the next one (and the next line's leading blanks, as TeX skips them). A line that
is only a comment disappears with its newline. `comment` environments and `\\iffalse...\\fi`
blocks are removed (`conditionals.strip_literal`: nesting-aware; a block that holds an `\\ifX`
declared in another file is left to the whole-document pass); verbatim-like environments,
`\\verb|..|` and `\\url{..}` keep their `%`.

>>> strip_comments("50\\\\% of cases% note\\nmore")
'50\\\\% of casesmore'
"""

from __future__ import annotations

import re

VERBATIM_ENVS = ("verbatim", "verbatim*", "Verbatim", "lstlisting", "minted", "alltt", "code")
_VERB_BEGIN = re.compile(r"\\begin\{(" + "|".join(re.escape(e) for e in VERBATIM_ENVS) + r")\}")
# Inside one line: things that may hide a `%`, an escaped char, or a real comment start.
_LINE_TOKENS = re.compile(
    "|".join(
        [
            r"\\verb\*?([^A-Za-z\s*])(?:.*?)\1",  # \verb|..%..|
            r"\\(?:url|href|path)\{[^}\n]*\}",  # \url{..%..}
            r"\\.",  # \% \\ and other escapes
            r"%",  # a comment
        ]
    )
)
# The same tokens up to the first `%` they leave, in one possessive match (no backtracking)
# for a line without `\verb`: Python 3.11's re fails on a backreference inside `*+`.
_COMMENT_START = re.compile(r"(?:[^\\%]++|\\(?:url|href|path)\{[^}\n]*\}|\\.)*+%")
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?(?:\\end\{comment\}|\Z)", re.S)


def _comment_start(line: str) -> int:
    """Index of the `%` that starts a comment in `line`, or -1."""
    if "\\verb" not in line:
        m = _COMMENT_START.match(line)  # 5x faster than the token loop
        return -1 if m is None else m.end() - 1
    for m in _LINE_TOKENS.finditer(line):
        if m.group(0) == "%":
            return m.start()
    return -1


def _strip_lines(text: str) -> str:
    out: list[str] = []
    lines = text.split("\n")
    joining = False  # previous line ended inside a comment: TeX eats this line's indent
    verb_end: str | None = None
    for line in lines:
        # the common line: no `%`, no environment, after a line that kept its newline
        if verb_end is None and not joining and "%" not in line and "\\begin{" not in line:
            out.append(line + "\n")
            continue
        if verb_end is not None:
            out.append(line + "\n")
            if verb_end in line:
                verb_end = None
            continue
        if joining:
            line = line.lstrip(" \t")
            if not line:  # a blank line after `...%` is still a paragraph break
                out.append("\n\n")
                joining = False
                continue
        m = _VERB_BEGIN.search(line) if "\\begin{" in line else None
        if m:
            end = "\\end{" + m.group(1) + "}"
            head = line[: m.start()]
            cut = _comment_start(head) if "%" in head else -1
            if cut < 0:
                out.append(line + "\n")
                verb_end = None if end in line[m.end() :] else end
                joining = False
                continue
        cut = _comment_start(line) if "%" in line else -1
        if cut < 0:
            out.append(line + "\n")
            joining = False
        else:
            out.append(line[:cut])
            joining = True
    result = "".join(out)
    # the last split piece had no newline of its own: take back the one added for it
    return result[:-1] if not joining and result.endswith("\n") else result


def strip_comments(text: str) -> str:
    """Remove `%` comments, comment environments and `\\iffalse` blocks from TeX source."""
    # here, not at the top: conditionals reads VERBATIM_ENVS from this module
    from arxiv2lm.latex.conditionals import strip_literal

    text = _strip_lines(text) if "%" in text else text
    if "\\begin{comment}" in text:
        text = _COMMENT_ENV.sub("", text)
    return strip_literal(text)
