"""satr.train and satr.Run on built-in tasks: run directories, configs as files and
dicts, overrides, errors as the package's exceptions, resume, evaluate, export."""

from __future__ import annotations

import math

import pytest

import satr
from conftest import untimed


def test_train_writes_a_run_that_run_reads(tmp_path, tiny):
    run = satr.train("cartpole", overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
    assert isinstance(run, satr.Run)
    assert run.path.parent == tmp_path
    assert run.path.name.startswith("cartpole-s0-")
    assert run.checkpoint.is_file()
    cfg = run.config
    assert cfg["task"] == "cartpole" and run.task == "cartpole"
    assert cfg["population"] == 8 and cfg["network"]["neurons"] == 16
    assert cfg["backend"] == "cpu"
    m = run.metrics
    assert [x["generation"] for x in m] == [0, 1]
    for key in ("eval_return", "train_return_mean", "kl", "env_steps", "wall_s"):
        assert key in m[-1], key
    assert m[-1]["train_return_mean"] >= 8.0
    assert satr.Run(str(run.path)).metrics == m


def test_named_run_and_config_file(tmp_path):
    cfg = tmp_path / "small.toml"
    cfg.write_text(
        'task = "pendulum"\ngenerations = 2\npopulation = 8\n'
        "[network]\nneurons = 16\n[evaluation]\neval_members = 2\n"
    )
    run = satr.train(config=cfg, backend="cpu", out_dir=tmp_path / "runs", name="mine", progress=False)
    assert run.path == tmp_path / "runs" / "mine"
    assert run.task == "pendulum"
    assert len(run.metrics) == 2


def test_config_dict_with_overrides_on_top(tmp_path):
    config = {
        "seed": 3,
        "generations": 5,
        "population": 8,
        "network": {"neurons": 16, "k_h": 2.0},
        "evaluation": {"eval_members": 2},
    }
    run = satr.train(
        "cartpole",
        config=config,
        overrides={"generations": 2, "optimizer": {"epsilon": 10.0}},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    cfg = run.config
    assert cfg["seed"] == 3 and cfg["generations"] == 2
    assert cfg["network"]["k_h"] == 2.0 and cfg["optimizer"]["epsilon"] == 10.0
    assert len(run.metrics) == 2


def test_bad_config_key_is_a_config_error_naming_it(tmp_path, tiny):
    with pytest.raises(satr.ConfigError, match="nope"):
        satr.train("cartpole", overrides={**tiny, "optimizer.nope": 1}, out_dir=tmp_path)
    with pytest.raises(satr.ConfigError, match="nuerons"):
        satr.train("cartpole", config={"network": {"nuerons": 16}}, out_dir=tmp_path)
    with pytest.raises(satr.ConfigError, match="population") as e:
        satr.train("cartpole", overrides={**tiny, "population": 1}, out_dir=tmp_path)
    assert isinstance(e.value, ValueError) and isinstance(e.value, satr.SatrError)
    with pytest.raises(satr.ConfigError, match="backend"):
        satr.train("cartpole", overrides=tiny, backend="tpu", out_dir=tmp_path)
    with pytest.raises(satr.ConfigError, match="no-such-task"):
        satr.train("no-such-task", overrides=tiny, out_dir=tmp_path)
    with pytest.raises(TypeError, match="None"):
        satr.train("cartpole", overrides={"run.target_return": None}, out_dir=tmp_path)
    # Nothing was written for the refused runs.
    assert list(tmp_path.iterdir()) == []


def test_resume_continues_bit_identically(tmp_path, tiny):
    whole = satr.train(
        "cartpole", overrides={**tiny, "generations": 4}, backend="cpu", out_dir=tmp_path, name="whole", progress=False
    )
    part = satr.train("cartpole", overrides=tiny, backend="cpu", out_dir=tmp_path, name="part", progress=False)
    assert len(part.metrics) == 2
    assert part.resume(generations=4, progress=False) is part
    assert len(part.metrics) == 4
    assert part.config["generations"] == 4
    assert untimed(part.metrics) == untimed(whole.metrics)


def test_evaluate_reports_returns_and_cost(tmp_path, tiny):
    run = satr.train("cartpole", overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
    r = run.evaluate(episodes=3)
    assert r["task"] == "cartpole" and r["episodes"] == 3 and r["generation"] == 2
    assert r["min_return"] <= r["mean_return"] <= r["max_return"]
    assert r["cost"]["env_steps"] >= 3 and math.isfinite(r["cost"]["synaptic_ops_per_step"])
    assert run.evaluate(episodes=3) == r, "the same episodes give the same report"
    with pytest.raises(satr.UsageError, match="episodes"):
        run.evaluate(episodes=0)


def test_export_writes_files_the_numpy_policy_reads(tmp_path, tiny):
    run = satr.train("cartpole", overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
    path = run.export()
    assert path == run.path / "policy.safetensors" and path.stat().st_size > 0
    nir = run.export("nir", tmp_path / "p.nir")
    assert nir == tmp_path / "p.nir" and nir.stat().st_size > 0
    pytest.importorskip("safetensors")
    policy = satr.SatrPolicy.load(path)
    policy.reset()
    assert policy.task == "cartpole"
    assert policy.act([0.0, 0.0, 0.01, 0.0]) in (0, 1)
    with pytest.raises(satr.ExportError, match="format"):
        run.export("onnx")


def test_run_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(satr.CheckpointError, match="not a run directory"):
        satr.Run(tmp_path)


def test_tasks_lists_the_builtins():
    names = satr.tasks()
    assert names[:5] == ["cartpole", "cartpole-pos", "acrobot", "pendulum", "mountaincar-continuous"]
