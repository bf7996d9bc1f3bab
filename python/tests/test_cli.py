"""The `satr` console command: the Rust command line inside the extension, which also
accepts `task = "gym:<id>"` in configs."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest


def satr_command() -> str:
    found = pathlib.Path(sys.executable).parent / "satr"
    if found.exists():
        return str(found)
    other = shutil.which("satr")
    assert other, "the satr console script is not installed"
    return other


def test_satr_info_runs():
    out = subprocess.run([satr_command(), "info"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "cartpole" in out.stdout and "pendulum" in out.stdout


def test_satr_version_and_usage_errors():
    out = subprocess.run([satr_command(), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("satr ")
    out = subprocess.run([satr_command(), "no-such-command"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no-such-command" in out.stderr


def test_satr_train_a_gym_task_from_a_config_file(tmp_path):
    pytest.importorskip("gymnasium")
    cfg = tmp_path / "gym.toml"
    cfg.write_text(
        'task = "gym:CartPole-v1"\ngenerations = 2\npopulation = 8\nbackend = "cpu"\n'
        "[network]\nneurons = 16\n[evaluation]\neval_members = 2\n"
        f'[run]\nout_dir = "{tmp_path.as_posix()}/runs"\nname = "cli"\n'
    )
    out = subprocess.run(
        [satr_command(), "train", "--config", str(cfg), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "done: 2 generations" in out.stdout
    metrics = (tmp_path / "runs" / "cli" / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 2
    out = subprocess.run(
        [satr_command(), "eval", "--checkpoint", str(tmp_path / "runs" / "cli"), "--episodes", "2"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert '"task":"gym:CartPole-v1"' in out.stdout.replace(" ", "")


def test_module_entry_point_matches_the_script():
    out = subprocess.run(
        [sys.executable, "-m", "satr._cli", "info"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "cartpole" in out.stdout
