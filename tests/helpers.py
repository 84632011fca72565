"""Helpers shared across test folders (import as `tests.helpers`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from arxiv2lm.params import load_params

PARAMS_YAML = Path(__file__).resolve().parents[1] / "params.yaml"


def project_params(section: str, **changes: Any) -> Any:
    """`params.yaml`'s `section` with only the fields a test cares about replaced, so a new
    field or a changed default reaches the tests without a hand-kept copy."""
    return dataclasses.replace(load_params(section, PARAMS_YAML), **changes)
