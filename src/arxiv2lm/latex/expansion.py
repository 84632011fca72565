"""Expand uses of a paper's macros (collected by `macros.collect`), as TeX rescans them.

Uses are found with one regex for control words plus a dict lookup, so `\\R` never touches
`\\Rightarrow`. A replacement is expanded where it stands, and when it ends in a macro whose
arguments it does not hold (`\\newcommand{\\vc}{\\vect}` used as `\\vc{K}`), those are read from
the text after the use, as TeX reads the replacement followed by the rest of the input.
Environments whose end code uses an argument (xparse) are expanded whole. Uses of opaque
commands and environments (`opaque`) are removed with their arguments, or leave only the text
of the arguments they print (`Expanded.dropped` counts both). Bounded by `max_expansions`,
`MAX_DEPTH` and a budget on what failed argument reads may scan (`capped`), and by
`max_chars` (TooLarge); the uses a cap left are then removed as opaque ones are.

>>> from arxiv2lm.latex.macros import collect
>>> m = collect("\\\\newcommand\\\\vc{\\\\vect}\\\\newcommand\\\\vect[1]{\\\\mathbf{#1}}")
>>> expand("\\\\vc{K}", m).text
'\\\\mathbf{K}'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from arxiv2lm.latex import opaque
from arxiv2lm.latex.includes import TooLarge
from arxiv2lm.latex.macroargs import (
    FAIL,
    NOVALUE,
    OK,
    STARVED,
    Budget,
    Env,
    Macro,
    Macros,
    Param,
    at_end,
)
from arxiv2lm.latex.macroargs import read_args as _read_args
from arxiv2lm.latex.scan import CONTROL_WORD, read_group
from arxiv2lm.latex.templates import (
    ENDS_CONTROL_WORD,
    PARAM,
    Template,
    expanded_size,
    fill,
    template,
)
from arxiv2lm.latex.xparse import BUILTINS

MAX_DEPTH = 32


@dataclass
class Expanded:
    text: str
    expansions: int
    capped: bool
    dropped: int = 0  # uses of opaque macros and environments removed whole (`opaque`)


def _nothing(_args: list[str]) -> str:
    """An empty group: `$\\pic$` must not become `$$`, nor `\\alpha\\pic x` `\\alphax`; the
    text drops the braces, and math of nothing but braces is dropped (`mathmode`)."""
    return "{}"


def _printed(params: tuple[Param, ...]) -> Callable[[list[str]], str]:
    """An opaque macro that prints its arguments: their text stays, each a group, without
    the options (`o`, `d`) and flags (`s`, `t`) that only steer how."""
    # indices into the arguments read: a literal (`l`, `\\def\\x#1.(`) is matched, not read
    taking = [p for p in params if p.kind != "l"]
    keep = [k for k, p in enumerate(taking) if p.kind not in "odst"]

    def run(args: list[str]) -> str:
        got = [args[k] for k in keep if k < len(args) and args[k] != NOVALUE]
        return " ".join("{" + a + "}" for a in got) or "{}"

    return run


def _opaque(macros: Macros, name: str) -> Macro:
    """The opaque command `name` as a builtin (see `opaque`): one that draws, or whose
    definition only stores its arguments, leaves nothing; one that prints them leaves their
    text. It reads the arguments its definition takes (`opaque.signature`)."""
    params, prints = opaque.signature(name, macros.raw)
    show = _printed(params) if prints and not macros.opaque[name] else _nothing
    return Macro(params, "", show, opaque=True)


@dataclass(frozen=True)
class _Starved:
    """A replacement ended inside a use: `mac` still needs `params[k:]` after `args`.
    `prefix` is the expanded text before the use, `raw` the use as written (kept if the
    arguments never come)."""

    prefix: str
    mac: Macro
    args: list[str]
    k: int
    raw: str


def _ends_control_word(out: list[str]) -> bool:
    """Whether the text in `out` ends with a control word (`\\ltimes`, not `\\\\ltimes`)."""
    tail = "".join(x[-64:] for x in out[-3:])[-64:]
    m = ENDS_CONTROL_WORD.search(tail)
    if m is None:
        return False
    k = m.start()
    while k > 0 and tail[k - 1] == "\\":
        k -= 1
    return (m.start() - k) % 2 == 0


@lru_cache(maxsize=256)
def _begin_end(name: str) -> re.Pattern[str]:
    return re.compile(r"\\(begin|end)\s*\{\s*" + re.escape(name) + r"\s*\}")


def _env_close(s: str, name: str, i: int) -> tuple[int, int] | None:
    """(start, end) of the `\\end{name}` closing the environment whose content starts at `i`."""
    depth = 1
    for m in _begin_end(name).finditer(s, i):
        depth += 1 if m.group(1) == "begin" else -1
        if depth == 0:
            return m.start(), m.end()
    return None


def expand(
    text: str, macros: Macros, max_expansions: int = 20000, max_chars: int = 10**8
) -> Expanded:
    """Expand uses of `macros` in `text`, bounded by expansions and depth (`capped`).

    Raises TooLarge, before building it, when an expansion would take the characters
    produced past `max_chars`: one `\\newcommand` with 3,000 `#1` applied to a 250 KB
    argument would otherwise build 750 MB first and check after.
    """
    # expansions; times a cap stopped a scan; characters produced; opaque uses removed; the
    # deepest cap check so far (closure variables, read and set a few times per expansion)
    n_done = n_caps = n_chars = n_dropped = 0
    deepest = -1
    if not (macros.commands or macros.envs or macros.opaque or macros.opaque_envs):
        return Expanded(text, 0, False)
    # characters failed argument reads may scan, all together: a few dozen full rescans
    budget = Budget(max(max_chars, 32 * len(text)))

    commands = {**BUILTINS, **macros.commands}
    # opaque commands are made at their first use: a signature follows definitions, and
    # most of a package's commands are never used
    unmade = set(macros.opaque)

    def lookup(name: str) -> Macro | None:
        mac = commands.get(name)
        if mac is None and name in unmade:
            unmade.discard(name)
            mac = commands[name] = _opaque(macros, name)
        return mac

    drop_envs = {n: Env(Macro(p, ""), "", True, None, True) for n, p in macros.opaque_envs.items()}
    envs = {**drop_envs, **macros.envs}
    ends = {name: Macro((), env.end) for name, env in envs.items()}
    templates: dict[str, Template] = {}  # by body: each is cut once per document
    # substituted body -> (its expansion, expansions, chars, deepest check below it, opaque
    # uses dropped): papers repeat a macro with the same arguments (60-90% of expansions in
    # the real ones)
    memo: dict[str, tuple[str, int, int, int, int]] = {}

    def produce(body: str, args: list[str]) -> str:
        """`body` with `args` substituted, counted against the caps."""
        nonlocal n_done, n_chars
        n_done += 1
        if not args:
            n_chars += len(body) + 1  # (`expanded_size` without arguments)
            if n_chars > max_chars:
                raise TooLarge(f"macro expansion passed {max_chars} chars")
            return body
        tpl = templates.get(body)
        if tpl is None:
            tpl = templates[body] = template(body)
        n_chars += expanded_size(body, tpl, args)
        if n_chars > max_chars:
            raise TooLarge(f"macro expansion passed {max_chars} chars")
        return fill(tpl, args)

    def whole_env(s: str, name: str, end: int) -> tuple[str, int] | None:
        """(replacement, end) of `\\begin{name}` ending at `end`, up to its `\\end{name}`."""
        nonlocal n_dropped
        env = envs[name]
        r = at_end(_read_args(s, end, env.begin.params, budget), env.begin.params)
        if r.status != OK:
            return None
        close = _env_close(s, name, r.end)
        if close is None:
            budget.charge(len(s) - r.end)
            return None
        if env.drop:
            n_dropped += 1
            return "{}", close[1]
        body, args = s[r.end : close[0]], r.args
        if env.body_at is not None:
            args = [*args[: env.body_at], body, *args[env.body_at :]]
            body = ""
        return produce(env.begin.body, args) + body + produce(env.end, args), close[1]

    def nested(rep: str, depth: int) -> str | _Starved:
        """`run(rep, depth)`, or its earlier result where no cap could act differently: every
        check it makes sees fewer than `max_expansions` and a depth under MAX_DEPTH."""
        nonlocal n_done, n_chars, n_dropped, deepest
        hit = memo.get(rep)
        if hit is not None:
            out, n, chars, reach, dropped = hit
            if n_done + n < max_expansions and depth + reach < MAX_DEPTH:
                n_done += n
                n_chars += chars
                n_dropped += dropped
                deepest = max(deepest, depth + reach)
                if n_chars > max_chars:  # where inside it passed: same error
                    raise TooLarge(f"macro expansion passed {max_chars} chars")
                return out
        n0, chars0, caps0, deep0 = n_done, n_chars, n_caps, deepest
        dropped0 = n_dropped
        deepest = depth - 1
        out = run(rep, depth)
        reach = deepest - depth
        deepest = max(deep0, deepest)
        if n_caps == caps0 and isinstance(out, str):
            dropped = n_dropped - dropped0
            memo[rep] = (out, n_done - n0, n_chars - chars0, reach, dropped)
        return out

    def capped(depth: int) -> bool:
        nonlocal deepest, n_caps
        deepest = max(deepest, depth)
        if n_done >= max_expansions or depth >= MAX_DEPTH or budget.left < 0:
            n_caps += 1
            return True
        return False

    def run(s: str, depth: int) -> str | _Starved:
        nonlocal deepest, n_caps, n_dropped
        out: list[str] = []
        pos = scan = 0
        while True:
            hit = None
            for m in CONTROL_WORD.finditer(s, scan):
                name = m.group(1)
                if envs and (name == "begin" or name == "end"):
                    g = read_group(s, m.end())
                    env_name = g[0].strip() if g else ""
                    env = envs.get(env_name)
                    if env is None or g is None or (name == "end" and env.whole):
                        continue
                    hit = (m, env if name == "begin" else ends[env_name], g[1], env_name)
                else:
                    mac = commands.get(name) or (lookup(name) if name in unmade else None)
                    if mac is None:
                        continue
                    hit = (m, mac, m.end(), "")
                break
            if hit is None:
                break
            if depth > deepest:  # `capped(depth)`, inline: once per use
                deepest = depth
            if n_done >= max_expansions or depth >= MAX_DEPTH or budget.left < 0:
                n_caps += 1
                break
            m, mac, end, env_name = hit
            start = m.start()
            if isinstance(mac, Env):
                if not mac.whole:
                    mac = mac.begin
                else:
                    done = whole_env(s, env_name, end)
                    if done is None:
                        scan = end
                        continue
                    out.append(s[pos:start])
                    sub = nested(done[0], depth + 1)
                    out.append(sub if isinstance(sub, str) else sub.prefix + sub.raw)
                    pos = scan = done[1]
                    continue
            args: list[str] = []
            if mac.params:
                r = _read_args(s, end, mac.params, budget)
                if r.status == STARVED:
                    if depth > 0:
                        return _Starved("".join(out) + s[pos:start], mac, r.args, r.k, s[start:])
                    r = at_end(r, mac.params)
                if r.status == FAIL:
                    scan = end  # not a use TeX could read: the words after the name go on
                    continue
                end, args = r.end, r.args
            out.append(s[pos:start])
            # rescan past the arguments: the control words inside them were read by the
            # expansion, not again here only to be skipped (3x fewer reads when nested)
            pos = scan = end
            while True:  # a replacement that ends inside a use takes its arguments from s
                if mac.builtin is not None:
                    n_dropped += mac.opaque
                    rep = mac.builtin(args)
                else:
                    rep = produce(mac.body, args)
                    if (
                        rep[-1:].isalpha()
                        and s[end : end + 1].isalpha()
                        and ENDS_CONTROL_WORD.search(rep)
                    ):
                        rep += " "  # `\foo` -> `\bar` followed by a letter must not be `\barx`
                sub = nested(rep, depth + 1) if "\\" in rep else rep
                if isinstance(sub, str):
                    if sub[:1].isalpha() and _ends_control_word(out):
                        out.append(" ")  # `\ltimes\GN` -> `\ltimes G_+`, not `\ltimesG_+`
                    out.append(sub)
                    break
                out.append(sub.prefix)
                r = _read_args(s, end, sub.mac.params, budget, sub.k, sub.args)
                if r.status == STARVED and depth > 0:
                    return _Starved("".join(out), sub.mac, r.args, r.k, sub.raw + s[end:])
                r = at_end(r, sub.mac.params)
                if r.status == FAIL or capped(depth):
                    out.append(sub.raw)
                    break
                mac, args, end = sub.mac, r.args, r.end
                pos = scan = end
        out.append(s[pos:])
        return "".join(out)

    result = run(text, 0)
    assert isinstance(result, str), "depth 0 completes or keeps every use"
    if n_caps and budget.left >= 0:  # (a spent read budget reads no more arguments)
        result, left = _past_budget(result, lookup, budget)
        n_dropped += left
    return Expanded(result, n_done, n_caps > 0, n_dropped)


def _past_budget(
    text: str, lookup: Callable[[str], Macro | None], budget: Budget, depth: int = 0
) -> tuple[str, int]:
    """`text` without the uses of the commands `lookup` finds that a cap left unexpanded (a
    recursive definition, or more uses than `max_expansions`), and how many: each goes as an
    opaque one does, its arguments' text kept where its body prints them. Nothing is
    expanded again: the kept arguments are cleaned the same way, down to MAX_DEPTH."""
    out: list[str] = []
    pos = scan = left = 0
    while (m := CONTROL_WORD.search(text, scan)) is not None:
        mac = lookup(m.group(1))
        if mac is None:
            scan = m.end()
            continue
        r = at_end(_read_args(text, m.end(), mac.params, budget), mac.params)
        ok = r.status == OK and budget.left >= 0
        if mac.builtin is not None:
            kept = mac.builtin(r.args) if ok else "{}"
        else:
            kept = _printed(mac.params)(r.args) if ok and PARAM.search(mac.body) else "{}"
        if kept and depth < MAX_DEPTH:
            kept, n = _past_budget(kept, lookup, budget, depth + 1)
            left += n
        out.append(text[pos : m.start()])
        out.append(kept)
        pos = scan = r.end if ok else m.end()
        left += mac.opaque or mac.builtin is None  # (not the xparse conditionals)
    out.append(text[pos:])
    return "".join(out), left
