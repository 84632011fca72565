"""Collect a paper's own macro definitions (expanded by `expansion.expand`) into its table.

Collected (from comment-free text; `definitions` parses each form):
- `\\newcommand`, `\\renewcommand`, `\\providecommand` (only if undefined: not collected
  before, and not a command the converter knows, like `\\text`),
  `\\DeclareRobustCommand`: starred, `[n]` args, `[default]` first arg;
- `\\def` / `\\gdef` / `\\edef` / `\\xdef` (with `\\long`, `\\global`, `\\protected` before),
  undelimited `#1#2` or delimited parameters (`\\def\\foo#1.{..}` reads up to the `.`);
- `\\let\\a\\b`, `\\let\\a=\\b`, `\\NewCommandCopy\\a\\b`;
- `\\DeclareMathOperator` (-> `\\operatorname{..}`, starred -> `\\operatorname*`);
- `\\newenvironment` / `\\renewenvironment` with `[n][default]`;
- xparse: `\\NewDocumentCommand`, `\\RenewDocumentCommand`, `\\ProvideDocumentCommand`,
  `\\DeclareDocumentCommand` (and `..Expandable..`), the same for `..Environment`;
- mathtools: `\\DeclarePairedDelimiter`, `..X`, `..XPP` (see `delimiters`).

Structural commands (sections, cite, ref, ...) are never redefined, and definitions with `@`
(package internals) are not expanded. A definition made inside a body (`\\renewcommand
\\arraystretch{2}` in an environment's begin code) is dropped from it. For files the paper
loads (`packages`), `code=False` also skips bodies that program TeX (`\\csname`, `\\fi`, ...).
A command so skipped, or one whose body draws, is *opaque* (`opaque`): its uses are removed
with their arguments. Every definition is kept as written (`Macros.raw`), `@` names too, so
an opaque command's arguments can be traced through the internals that read them.

>>> m = collect("\\\\newcommand{\\\\R}{\\\\mathbb{R}}")
>>> expand("$x\\\\in\\\\R$, $\\\\Rightarrow$", m).text
'$x\\\\in\\\\mathbb{R}$, $\\\\Rightarrow$'
"""

from __future__ import annotations

import re
from dataclasses import replace

from arxiv2lm.latex import definers, opaque
from arxiv2lm.latex.definitions import (
    DEF_START,
    PROTECTED,
    Definition,
    iter_definitions,
    remove_definitions,
)
from arxiv2lm.latex.expansion import Expanded, expand
from arxiv2lm.latex.macroargs import Budget, Env, Macro, Macros, Raw
from arxiv2lm.latex.textrules import DROP_ARGS, DROP_WORDS, HEADINGS, UNWRAP, WORDS

__all__ = ["Definition", "Env", "Expanded", "Macro", "Macros", "collect", "expand"]

# commands the converter knows (`textrules`): LaTeX or a common package defines them, so a
# `\providecommand` of one (`\providecommand\text{..please load mathtools..}`) never applies
CONVERTED = frozenset([*WORDS, *DROP_WORDS, *DROP_ARGS, *HEADINGS, *UNWRAP])
# TeX programming: conditionals (each `\if..` has its `\fi`; a paper's `\ifliteral` may be
# notation), \csname, assignments to registers. A class's `\altaffiltext`
# built on them would put `\global\advance\affilcount by 1` into the text if expanded.
_PROGRAMMING = re.compile(
    r"\\(?:fi|else|or|ifthenelse|csname|expandafter|noexpand|global|advance"
    r"|multiply|divide|setbox|count|dimen|skip|toks|the|afterassignment|aftergroup|futurelet"
    r"|let|[gex]?def|new(?:count|dimen|skip|toks|if|box)|catcode|string"
    r"|(?:set|addto|step|refstep)counter|setlength|addtolength)(?![A-Za-z@])"
)


def _is_notation(mac: Macro | Env) -> bool:
    """The body writes text or math, not TeX programming."""
    body = mac.begin.body + mac.end if isinstance(mac, Env) else mac.body
    return _PROGRAMMING.search(body) is None


def collect(
    text: str, into: Macros | None = None, skip: frozenset[str] = frozenset(), code: bool = True
) -> Macros:
    """Add the definitions in comment-free `text` to `into` (later ones win), except those of
    the command names in `skip` and, unless `code`, those whose body programs TeX. Uses of
    definers (macros that define macros, see `definers`) add the definitions they make."""
    out = into if into is not None else Macros()
    _collect(text, out, skip, code, Budget(max(10**6, 32 * len(text))), 0)
    return out


def collect_and_remove(text: str, into: Macros) -> str:
    """`collect(text, into)`, and `text` without its definitions (`remove_definitions`),
    from one parse of them.

    >>> m = Macros()
    >>> collect_and_remove("a\\\\newcommand{\\\\R}{x}b", m), list(m.commands)
    ('ab', ['R'])
    """
    spans: list[tuple[int, int]] = []
    _collect(text, into, frozenset(), True, Budget(max(10**6, 32 * len(text))), 0, spans)
    if not spans:
        return text
    starts = [a for a, _ in spans] + [len(text)]
    ends = [0] + [b for _, b in spans]
    return "".join([text[b:a] for b, a in zip(ends, starts, strict=True)])


def _collect(
    text: str, out: Macros, skip: frozenset[str], code: bool, budget: Budget, depth: int,
    spans: list[tuple[int, int]] | None = None,
) -> None:  # fmt: skip
    pos = 0
    for d in iter_definitions(text):
        _run_definers(text, pos, d.start, out, skip, code, budget, depth)
        pos = d.end
        _add(d, out, skip, code)
        if spans is not None:
            spans.append((d.start, d.end))
    _run_definers(text, pos, len(text), out, skip, code, budget, depth)


def _run_definers(
    text: str, start: int, end: int, out: Macros, skip: frozenset[str], code: bool,
    budget: Budget, depth: int,
) -> None:  # fmt: skip
    if out.definers and depth < definers.MAX_DEPTH:
        for made in definers.uses(text, start, end, out, budget):
            _collect(made, out, skip, code, budget, depth + 1)


def _add(d: Definition, out: Macros, skip: frozenset[str], code: bool) -> None:
    if d.name in skip:
        return
    if isinstance(d.macro, Macro):
        out.raw[d.name] = Raw(d.macro.params, d.macro.body, d.explicit)
    if not d.usable:
        _hide(d, out)
        return
    mac = _strip_inner(d.macro)
    if not (code or _is_notation(mac)):
        _hide(d, out)
        return
    if opaque.draws(mac.begin.body if isinstance(mac, Env) else mac.body):
        _hide(d, out, drawing=True)
        return
    if isinstance(mac, Env):
        if not (d.provide and d.name in out.envs):
            out.envs[d.name] = mac
            out.opaque_envs.pop(d.name, None)
        return
    if d.provide and (d.name in out.commands or d.name in CONVERTED or d.name in out.opaque):
        return  # \providecommand never overrides
    out.opaque.pop(d.name, None)
    if d.kind == "let" and mac.body[1:] in out.commands:
        out.commands[d.name] = out.commands[mac.body[1:]]  # alias of a known macro
        definer = out.definers.get(mac.body[1:])
    else:
        out.commands[d.name] = mac
        raw = d.macro
        assert isinstance(raw, Macro)
        definer = raw if definers.is_definer(raw.body, DEF_START, out.definers) else None
    if definer is not None:
        out.definers[d.name] = definer
    else:
        out.definers.pop(d.name, None)


def _hide(d: Definition, out: Macros, drawing: bool = False) -> None:
    """Make `d.name` opaque (see `opaque`): a drawing definition always (TeX uses the last
    one); one the expander cannot run only when it is new and no usable one came before."""
    if isinstance(d.macro, Env):
        if drawing or opaque.draws(d.macro.begin.body):
            out.envs.pop(d.name, None)
            out.opaque_envs[d.name] = d.macro.begin.params
        return
    if d.name in PROTECTED or not opaque.may_hide(d.name):
        return
    drawing = drawing or opaque.draws(d.macro.body)
    if not drawing and (d.renew or d.name in out.commands):
        return
    out.commands.pop(d.name, None)
    out.definers.pop(d.name, None)
    out.opaque[d.name] = drawing


def _without_definitions(body: str) -> str:
    """A body without the definitions it makes when used (`\\renewcommand\\arraystretch{2}` in an
    environment's begin code, `\\def#1{..}` in a definer's): TeX would run them; left in, they
    would reach the text. One level only, so nesting costs nothing more (the inner ones go with
    the outer)."""
    return remove_definitions(body)


def _strip_inner(mac: Macro | Env) -> Macro | Env:
    bodies = mac.begin.body + mac.end if isinstance(mac, Env) else mac.body
    if not DEF_START.search(bodies):
        return mac
    if isinstance(mac, Env):
        begin = replace(mac.begin, body=_without_definitions(mac.begin.body))
        return replace(mac, begin=begin, end=_without_definitions(mac.end))
    return replace(mac, body=_without_definitions(mac.body))
