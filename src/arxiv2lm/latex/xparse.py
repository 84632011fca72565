"""xparse / LaTeX 2020+ argument specs, and the conditionals their bodies test.

`\\NewDocumentCommand{\\foo}{s O{1} m}{..}`: `parse_spec("s O{1} m")` gives the `Param`s the
use is read with. `s`/`t` arguments are `\\BooleanTrue`/`\\BooleanFalse` and an absent `o`/`d`
is `-NoValue-`, so `\\IfBooleanTF{#1}{a}{b}` and `\\IfNoValueTF{#2}{a}{b}` (in `BUILTINS`)
pick their branch when expanded. Not supported (the definition is then left alone):
`e`/`E` embellishments, `l`, defaults that refer to other arguments, more than 9 arguments.

>>> [(p.kind, p.default) for p in parse_spec("s O{1} m")]
[('s', None), ('o', '1'), ('m', None)]
>>> parse_spec("q") is None
True
"""

from __future__ import annotations

from collections.abc import Callable

from arxiv2lm.latex.macroargs import NOVALUE, TRUE, Macro, Param
from arxiv2lm.latex.scan import read_group

MAX_SPEC_CHARS = 200  # real specs are a few letters; longer ones are not specs
_CS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ@")


def _token(spec: str, i: int) -> tuple[str, int] | None:
    """The token at `spec[i:]` after blanks: a control word, a control symbol or a character."""
    while i < len(spec) and spec[i].isspace():
        i += 1
    if i >= len(spec) or spec[i] in "{}":
        return None
    if spec[i] != "\\":
        return spec[i], i + 1
    j = i + 1
    while j < len(spec) and spec[j] in _CS:
        j += 1
    j = max(j, min(i + 2, len(spec)))
    return spec[i:j], j


def parse_spec(spec: str, env: bool = False) -> tuple[Param, ...] | None:
    """The `Param`s of an xparse argument spec, or None when it is not one we read."""
    if len(spec) > MAX_SPEC_CHARS:
        return None
    params: list[Param] = []
    i = 0
    while i < len(spec):
        c = spec[i]
        i += 1
        if c.isspace() or c in "+!":  # long / no-trailing-space markers: reading is the same
            continue
        if c in ">=":  # argument processors and key names: the value is read as written
            g = read_group(spec, i)
            if g is None:
                return None
            i = g[1]
            continue
        if params and params[-1].kind == "b":
            return None  # the body comes last
        if c in "msvogb":
            if c == "b" and not env:
                return None
            params.append(Param(c))
        elif c in "OG":
            g = read_group(spec, i)
            if g is None:
                return None
            params.append(Param(c.lower(), g[0]))
            i = g[1]
        elif c == "t":
            tok = _token(spec, i)
            if tok is None:
                return None
            params.append(Param("t", open=tok[0]))
            i = tok[1]
        elif c in "rRdD":
            o = _token(spec, i)
            cl = _token(spec, o[1]) if o else None
            if o is None or cl is None or len(o[0]) != 1 or len(cl[0]) != 1:
                return None
            i, default = cl[1], None
            if c in "RD":
                g = read_group(spec, i)
                if g is None:
                    return None
                default, i = g
            params.append(Param(c.lower(), default, o[0], cl[0]))
        elif c == "u":  # deprecated: up to the given tokens
            g = read_group(spec, i)
            if g is None or not g[0].strip():
                return None
            params.append(Param("u", close=g[0]))
            i = g[1]
        else:
            return None
    return tuple(params) if len(params) <= 9 else None


def _pick(test: Callable[[str], bool], branches: str) -> Callable[[list[str]], str]:
    """A conditional: `branches` is "TF", "T" or "F", the arguments after the tested one."""

    def run(args: list[str]) -> str:
        hit = test(args[0].strip())
        if branches == "TF":
            return args[1] if hit else args[2]
        return args[1] if hit == (branches == "T") else ""

    return run


def _builtins() -> dict[str, Macro]:
    tests: dict[str, Callable[[str], bool]] = {
        "IfBoolean": lambda a: a == TRUE,
        "IfNoValue": lambda a: a == NOVALUE,
        "IfValue": lambda a: a != NOVALUE,
    }
    out = {}
    for name, test in tests.items():
        for branches in ("TF", "T", "F"):
            params = (Param("m"),) * (1 + len(branches))
            out[name + branches] = Macro(params, "", _pick(test, branches))
    return out


BUILTINS = _builtins()
