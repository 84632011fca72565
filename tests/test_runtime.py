"""The runtime-only interpreter (conftest's `runtime_only`) really hides the test extras.

tests/test_pipeline.py runs every stage under it; these tests make sure that proves
something: a test-only import fails there, a runtime one does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.conftest import RuntimeOnly

PROBE = """
import importlib.util, sys
from importlib import metadata
import yaml, boto3  # runtime dependencies stay importable
assert importlib.util.find_spec("moto") is None, "moto found"
assert "moto" not in {d.metadata["Name"].lower() for d in metadata.distributions()}
assert "pytest" not in {ep.name for ep in metadata.entry_points(group="console_scripts")}
import pytest
"""


def test_test_extras_are_unimportable_and_runtime_ones_are(runtime_only: RuntimeOnly) -> None:
    assert {"pytest", "_pytest", "moto", "transformers"} <= runtime_only.blocked_modules
    assert not {"yaml", "torch", "dvc", "deepspeed", "arxiv2lm"} & runtime_only.blocked_modules
    env = {**os.environ, **runtime_only.env}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.rstrip().endswith("ModuleNotFoundError: No module named 'pytest'")
    assert "-c" in runtime_only.log.read_text().split()


def test_without_the_blocker_the_probe_gets_to_pytest() -> None:
    # The same probe in the ordinary test environment fails at its first check instead:
    # the blocked run above failed because of the blocker, not because moto is missing.
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and "AssertionError: moto found" in proc.stderr
