"""Shared fixtures for the LaTeX tests: extract params and a paper builder."""

from __future__ import annotations

import pytest

from arxiv2lm.params import ExtractParams
from tests.helpers import project_params


def make_params(**over: object) -> ExtractParams:
    """`params.yaml`'s extract section, one worker, with `over` replaced."""
    return project_params("extract", **{"workers": 1, **over})


@pytest.fixture
def params() -> ExtractParams:
    return make_params()


def doc(body: str, preamble: str = "") -> str:
    """A minimal article around `body`."""
    return (
        f"\\documentclass{{article}}\n{preamble}\n\\begin{{document}}\n{body}\n\\end{{document}}\n"
    )
