"""brax:<env> tasks (satr.brax): a Brax Hopper run, determinism, exact resume, members
masked when done mid-episode, and clear errors for bad names and backends.

Needs jax and brax (`scripts/setup_brax.sh`, .venv-brax); JAX compiles each
environment's vmapped reset and step once per process and chunk size, tens of seconds
on CPU, and a Brax step on this CPU takes a large fraction of a second, so the runs
here are a few members for a few steps."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pytest

import satr
from conftest import untimed

pytest.importorskip("brax")
from satr import brax as satr_brax  # noqa: E402

#: 6 train + 1 eval members, 8-step episodes, the spring backend (the quickest to
#: compile here).
SMALL = {
    "generations": 2,
    "population": 6,
    "network.neurons": 16,
    "evaluation.eval_members": 1,
    "evaluation.max_episode_steps": 8,
    "brax.backend": "spring",
}


def test_brax_hopper_trains_reproducibly_and_resumes_exactly(tmp_path):
    a = satr.train("brax:hopper", overrides=SMALL, backend="cpu", out_dir=tmp_path, progress=False)
    assert a.task == "brax:hopper" and a.config["brax"]["backend"] == "spring"
    m = untimed(a.metrics)
    assert len(m) == 2 and m[-1]["env_steps"] > 0
    assert np.isfinite(m[-1]["train_return_mean"])
    b = satr.train("brax:hopper", overrides=SMALL, backend="cpu", out_dir=tmp_path, progress=False)
    assert untimed(b.metrics) == m
    other = satr.train(
        "brax:hopper", overrides={**SMALL, "seed": 5}, backend="cpu", out_dir=tmp_path, progress=False
    )
    assert untimed(other.metrics) != m
    whole = satr.train(
        "brax:hopper", overrides={**SMALL, "generations": 3}, backend="cpu", out_dir=tmp_path, progress=False
    )
    a.resume(generations=3, progress=False)
    assert untimed(a.metrics) == untimed(whole.metrics)
    r = a.evaluate(episodes=1)
    assert r["task"] == "brax:hopper" and r["episodes"] == 1


def test_keys_come_from_the_episode_seed_and_a_masked_reset_keeps_the_others():
    env = satr_brax.BraxVectorEnv("hopper", 3, backend="spring", episode_length=5)
    seeds = [satr.episode_seed(0, 0, m, 0) for m in range(3)]
    obs, _ = env.reset(seed=seeds)
    again, _ = env.reset(seed=seeds)
    assert np.array_equal(obs, again)
    # Reset member 1 alone with member 0's seed: members 0 and 2 keep their state.
    step_obs, *_ = env.step(np.zeros((3, 3), np.float32))
    masked, _ = env.reset(seed=[None, seeds[0], None], options={"reset_mask": np.array([False, True, False])})
    assert np.array_equal(masked[1], obs[0])
    assert np.array_equal(masked[0], step_obs[0]) and np.array_equal(masked[2], step_obs[2])
    # The step limit truncates.
    for _ in range(5):
        *_, term, trunc, _ = env.step(np.zeros((3, 3), np.float32))
    assert (term | trunc).all()


class EarlyDone(satr_brax.BraxVectorEnv):
    """Brax's Hopper whose even sub-environments are done at their third step."""

    def step(self, actions):
        obs, reward, done, truncated, info = super().step(actions)
        early = (self._steps == 3) & (np.arange(self.num_envs) % 2 == 0)
        return obs, reward, done | early, truncated & ~early, info


def test_a_member_done_mid_episode_is_masked(tmp_path):
    # Brax's own done: actions at the bounds topple the hopper.
    env = satr_brax.BraxVectorEnv("hopper", 2, backend="spring")
    env.reset(seed=[1, 2])
    fell = False
    for _ in range(200):
        *_, term, _, _ = env.step(np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, -1.0]], np.float32))
        if term.any():
            fell = True
            break
    assert fell, "the hopper never fell"
    # satr stops at done: members 0, 2, 4, 6 (of 6 train + 1 eval) take 3 steps, the
    # others the 8-step limit (the env itself steps every slot every step).
    run = satr.train(
        lambda n: EarlyDone("hopper", n, backend="spring"),
        overrides={**SMALL, "generations": 1},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    assert run.metrics[-1]["env_steps"] == 4 * 3 + 3 * 8


def test_bad_names_and_backends_are_clear_errors(tmp_path):
    with pytest.raises(satr.TaskError, match=r"no Brax environment is registered as 'hoper'.*hopper"):
        satr.train("brax:hoper", overrides=SMALL, backend="cpu", out_dir=tmp_path, progress=False)
    with pytest.raises(satr.ConfigError, match="brax"):
        satr.train(
            "brax:hopper",
            overrides={**SMALL, "brax.backend": "warp"},
            backend="cpu",
            out_dir=tmp_path,
            progress=False,
        )
    with pytest.raises(ValueError, match="backend 'warp'"):
        satr_brax.vector_env_factory("hopper", "warp")


class PointMass:
    """A functional JAX environment that is not Brax's: a point on a line pushed by
    the action, rewarded for staying near 0, done beyond |x| = 2."""

    observation_size = 2
    action_size = 1

    class State(NamedTuple):
        obs: Any
        reward: Any
        done: Any

    def reset(self, key):
        import jax
        import jax.numpy as jnp

        x = jax.random.uniform(key, (), minval=-1.0, maxval=1.0)
        return self.State(jnp.stack([x, 0.0]), jnp.float32(0.0), jnp.float32(0.0))

    def step(self, state, action):
        import jax.numpy as jnp

        x, v = state.obs[0], state.obs[1] + 0.1 * action[0]
        x = x + 0.1 * v
        return self.State(jnp.stack([x, v]), -x * x, (jnp.abs(x) > 2.0).astype(jnp.float32))


def test_any_functional_jax_env_trains_through_jax_vector_env(tmp_path):
    env = PointMass()
    overrides = {**SMALL, "evaluation.max_episode_steps": 20, "population": 9, "evaluation.eval_members": 2}
    runs = [
        satr.train(
            lambda n: satr_brax.JaxVectorEnv(env, n, episode_length=20),
            overrides=overrides,
            backend="cpu",
            out_dir=tmp_path,
            progress=False,
        )
        for _ in range(2)
    ]
    a, b = (untimed(r.metrics) for r in runs)
    assert a == b and len(a) == 2
    # Rewards are -x^2 with |x| <= 2 while the episode lasts: within [-4 * 20, 0].
    assert all(-80.0 <= m["train_return_min"] <= m["train_return_max"] <= 0.0 for m in a)
    assert a[-1]["env_steps"] <= 2 * 11 * 20


def test_the_console_command_trains_a_brax_task(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    satr_cmd = Path(sys.executable).parent / "satr"
    sets = {**SMALL, "generations": 1, "evaluation.max_episode_steps": 4,
            "task": "brax:hopper", "run.out_dir": str(tmp_path), "run.name": "cli"}
    cmd = [str(satr_cmd), "train", "--backend", "cpu", "--quiet"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v!r}".replace("'", '"')]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(satr.Run(tmp_path / "cli").metrics) == 1
