"""The pretrain stage's supervision: the run-folder lock and the named OOM kill.

(Killing the stage takes its workers with it: tests/train/test_engine.py, which runs the
stage as a subprocess.)
"""

import os
import signal
import sys

import pytest

from arxiv2lm.train.supervise import RunLocked, lock_run_folder, supervise

from .conftest import tiny_params


def test_a_second_stage_cannot_race_a_running_one(tmp_path):
    held = lock_run_folder(tmp_path / "ckpt")
    try:
        with pytest.raises(RunLocked, match=rf"ckpt is in use .* \(pid {os.getpid()}\)"):
            lock_run_folder(tmp_path / "ckpt")
    finally:
        held.close()
    lock_run_folder(tmp_path / "ckpt").close()  # free again once the holder is gone


def test_an_oom_killed_child_is_named_with_the_preset_and_its_memory(capsys):
    kill = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    rc = supervise(tiny_params(preset="small"), kill, {"total": 3.5 * 2**30})
    assert rc == -signal.SIGKILL
    err = capsys.readouterr().err
    assert "killed (SIGKILL), most likely by the out-of-memory killer" in err
    assert "preset 'small' needs about 3.5 GiB per process" in err
