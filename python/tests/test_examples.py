"""The examples in python/examples run end to end (at the tiny budget CI affords)."""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("gymnasium")

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    "name", ["acrobot.py", "train_plot_export.py", "ask_tell.py", "hopper.py", "atari_ram.py"]
)
def test_example_runs(tmp_path, name):
    if name == "hopper.py":
        pytest.importorskip("mujoco")
    if name == "atari_ram.py":
        pytest.importorskip("ale_py")
    env = dict(os.environ, SATR_EXAMPLE_TINY="1")
    out = subprocess.run([sys.executable, str(EXAMPLES / name), str(tmp_path)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip(), "the example printed nothing"
    if name == "train_plot_export.py":
        assert (tmp_path / "cartpole-curve.png").stat().st_size > 1000
        assert "returns [" in out.stdout
    elif name == "ask_tell.py":
        assert "generation 1:" in out.stdout and "saved and loaded at generation 2" in out.stdout
    else:
        assert "eval return" in out.stdout and "over 2 generations" in out.stdout
