r"""LaTeX commands worth a token of their own, mined from the text by frequency.

>>> mine_latex_symbols([r"$\frac{a}{b} + \frac{c}{d}$ \begin{align} x \end{align}"], 3)
['\\begin{align}', '\\end{align}', '\\frac']

Commands are ranked by the characters a symbol of their own would save, count x (length
- 1): on real papers that beats ranking by count alone (bench/tokenizer_study.py: fewer
tokens per math segment at every vocabulary size), since a frequent short `\,` or `\i`
would have been one or two pieces anyway. Mined symbols become SentencePiece
`user_defined_symbols`: always one piece, never split or merged across. Environment
openers and closers count as one symbol each (`\begin{align}`), so a bare `\begin` is
only counted where no `{name}` follows. A short command is also matched as a prefix of a
longer one that is not a symbol itself (`\in` inside `\infty`); that costs a little
compression, never exactness.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

# Order matters: the environment alternatives must be tried before the bare control word.
_SYMBOL_ALTERNATIVES = [
    r"\\begin\{[A-Za-z]+\*?\}",  # \begin{align*}
    r"\\end\{[A-Za-z]+\*?\}",  # \end{align*}
    r"\\[A-Za-z]+",  # \frac, \alpha, \mathbb
]
SYMBOL_RE = re.compile("|".join(_SYMBOL_ALTERNATIVES))

# Longer "symbols" are almost always one-off macro names; they would waste vocabulary.
MAX_SYMBOL_CHARS = 24


def count_latex_symbols(texts: Iterable[str]) -> Counter[str]:
    """Occurrences of each control word / environment opener or closer in `texts`."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(m for m in SYMBOL_RE.findall(text) if len(m) <= MAX_SYMBOL_CHARS)
    return counts


def top_symbols(counts: Counter[str], n: int) -> list[str]:
    """The `n` most frequent, by count descending then name: deterministic for ties."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked[: max(n, 0)]]


def top_by_saving(counts: Counter[str], n: int) -> list[str]:
    r"""The `n` commands that save the most characters as one piece: count x (length - 1)
    descending, then name.

    >>> top_by_saving(Counter({r"\i": 9, r"\alpha": 2}), 1)
    ['\\alpha']
    """
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1] * (len(kv[0]) - 1), kv[0]))
    return [name for name, _ in ranked[: max(n, 0)]]


def mine_latex_symbols(texts: Iterable[str], n: int) -> list[str]:
    r"""The `n` LaTeX commands (`\frac`, `\begin{align}`) that save the most characters."""
    return top_by_saving(count_latex_symbols(texts), n)
