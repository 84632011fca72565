"""Shared fixtures for the LaTeX tests: extract params and a paper builder."""

from __future__ import annotations

import pytest

from arxiv2lm.params import ExtractParams


def make_params(**over: object) -> ExtractParams:
    base = dict(
        keep_title=True,
        keep_abstract=True,
        keep_appendix=True,
        keep_bibliography=False,
        max_input_depth=8,
        max_expanded_mb=8.0,
        max_macro_expansions=20000,
        timeout_s=30.0,
        workers=1,
    )
    base.update(over)
    return ExtractParams(**base)  # type: ignore[arg-type]


@pytest.fixture
def params() -> ExtractParams:
    return make_params()


def doc(body: str, preamble: str = "") -> str:
    """A minimal article around `body`."""
    return (
        f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
