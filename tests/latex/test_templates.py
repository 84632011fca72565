"""`templates.fill`: its one-join path (no `##`, no parameter after a control word, every
argument given) and its general loop agree with substitution read off the body directly."""

import random
import re

import pytest

from arxiv2lm.latex.templates import fill, template

_PARAM_OR_CS = re.compile(r"#(#|[1-9])|\\[A-Za-z@]+")


def _reference(body: str, args: list[str]) -> str:
    """`#k` -> the k-th argument ("" if missing), `##` -> `#`, and a space between a control
    word and an argument that starts with a letter."""
    out: list[str] = []
    pos = 0
    after_cs = False
    for m in _PARAM_OR_CS.finditer(body):
        out.append(body[pos : m.start()])
        after_cs = after_cs and m.start() == pos
        if m.group(1) is None:  # a control word
            out.append(m.group(0))
            after_cs = True
        elif m.group(1) == "#":
            out.append("#")
            after_cs = False
        else:
            k = int(m.group(1))
            arg = args[k - 1] if k <= len(args) else ""
            out.append((" " if after_cs and arg[:1].isalpha() else "") + arg)
            after_cs = False
        pos = m.end()
    out.append(body[pos:])
    return "".join(out)


@pytest.mark.parametrize(
    ("body", "args", "out"),
    [
        ("(#1,#2,#1)", ["a", "b"], "(a,b,a)"),  # one join
        ("(#1,#2)", ["a"], "(a,)"),  # an argument missing: the loop
        ("\\lVert#1", ["x"], "\\lVert x"),  # after a control word: the loop
        ("a##b#1", ["c"], "a#bc"),  # `##`: the loop
        ("no parameters", [], "no parameters"),
        ("#1", [""], ""),
    ],
)
def test_fill(body: str, args: list[str], out: str) -> None:
    assert fill(template(body), args) == out == _reference(body, args)


def test_fill_matches_reference_on_random_bodies() -> None:
    rng = random.Random(0)
    pieces = ["#1", "#2", "#3", "#9", "##", "\\a", "\\bc", "x", " ", "{", "}", "#"]
    for _ in range(3000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        args = [rng.choice(["", "x", "\\y", "{z}", "1"]) for _ in range(rng.randint(0, 4))]
        assert fill(template(body), args) == _reference(body, args), (body, args)
