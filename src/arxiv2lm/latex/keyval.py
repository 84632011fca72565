"""`key=value` lists as packages read them (acro, glossaries, amsrefs, biblatex names).

>>> pairs("a = 1, b={x, y}, c")
[('a', '1'), ('b', 'x, y')]
"""

from __future__ import annotations

from arxiv2lm.latex.scan import read_group


def _unbrace(value: str) -> str:
    """`{x, y}` -> `x, y` when the braces enclose the whole value."""
    if value.startswith("{") and read_group(value, 0) == (value[1:-1], len(value)):
        return value[1:-1].strip()
    return value


def pairs(text: str) -> list[tuple[str, str]]:
    """(key, value) of each `key=value` item in order; commas inside braces do not split,
    items without `=` are skipped, a value's enclosing braces are removed."""
    items, depth, start = [], 0, 0
    for j, c in enumerate(text):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            items.append(text[start:j])
            start = j + 1
    items.append(text[start:])
    out = []
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            out.append((key.strip(), _unbrace(value.strip())))
    return out


def keyvals(text: str) -> dict[str, str]:
    """`pairs` as a dict: a repeated key keeps its last value."""
    return dict(pairs(text))
