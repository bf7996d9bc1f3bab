"""The bridge adds nothing: a Gymnasium VectorEnv over satr's own CartPole trains to the
metrics of the built-in task, field for field; native vector envs (one seed per reset,
Gymnasium's numpy CartPoleVectorEnv) train reproducibly and resume exactly."""

from __future__ import annotations

import numpy as np
import pytest

import satr
from satr import _satr
from conftest import untimed

gym = pytest.importorskip("gymnasium")
from gymnasium.vector import AutoresetMode, VectorEnv  # noqa: E402

#: Odd sizes: 13 train + 3 eval members, two episodes each.
CONFIG = {
    "generations": 3,
    "population": 13,
    "network.neurons": 19,
    "evaluation.eval_members": 3,
    "evaluation.episodes_per_member": 2,
    "evaluation.max_episode_steps": 500,
    "seed": 7,
}


class SatrCartPoleVec(VectorEnv):
    """satr's built-in CartPole as a Gymnasium VectorEnv with autoreset disabled: each
    sub-environment reset with seed `s` starts the episode whose key
    `satr.episode_seed` maps to `s`, from satr's own keyed reset stream."""

    metadata = {"autoreset_mode": AutoresetMode.DISABLED}

    def __init__(self, num_envs: int, keys: dict[int, tuple[int, int, int, int]]):
        self.num_envs = num_envs
        self.keys = keys
        self.tasks = [_satr.BuiltinTask("cartpole") for _ in range(num_envs)]
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float64)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.obs = np.full((num_envs, 4), np.nan)
        self.unkeyed = 0

    def reset(self, *, seed=None, options=None):
        seeds = seed if isinstance(seed, list) else [seed] * self.num_envs
        mask = (options or {}).get("reset_mask", np.ones(self.num_envs, bool))
        for i in np.flatnonzero(mask):
            if seeds[i] is None:
                self.unkeyed += 1
                key = (0, 0, 0, 0)
            else:
                key = self.keys[seeds[i]]
            self.obs[i] = self.tasks[i].reset(*key)
        return self.obs.copy(), {}

    def step(self, actions):
        n = self.num_envs
        reward, term, trunc = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        for i, a in enumerate(np.asarray(actions)):
            reward[i], term[i], trunc[i] = self.tasks[i].step([float(a)])
            self.obs[i] = self.tasks[i].observe()
        return self.obs.copy(), reward, term, trunc, {}


def keys_of(config: dict) -> dict[int, tuple[int, int, int, int]]:
    """Every episode key of a run of `config`, by the seed satr passes for it."""
    members = config["population"] + config["evaluation.eval_members"]
    keys = {}
    for g in range(config["generations"]):
        for m in range(members):
            for e in range(config["evaluation.episodes_per_member"]):
                key = (config["seed"], g, m, e)
                keys[satr.episode_seed(*key)] = key
    return keys


def test_a_vector_env_over_satrs_own_cartpole_gives_the_built_in_metrics(tmp_path):
    built_in = satr.train("cartpole", overrides=CONFIG, backend="cpu", out_dir=tmp_path, progress=False)
    keys = keys_of(CONFIG)
    envs = []

    def satr_cartpole(num_envs):
        envs.append(SatrCartPoleVec(num_envs, keys))
        return envs[-1]

    bridged = satr.train(satr_cartpole, overrides=CONFIG, backend="cpu", out_dir=tmp_path, progress=False)
    ours, theirs = untimed(built_in.metrics), untimed(bridged.metrics)
    assert len(ours) == CONFIG["generations"]
    assert ours == theirs
    # One lockstep chunk held every member; a seed outside `keys` would have raised
    # (a KeyError in reset), so every episode started from the key satr passed.
    assert max(e.num_envs for e in envs) == 16


def test_the_episode_seed_is_the_keyed_seed_the_bridge_passes():
    a = satr.episode_seed(0, 1, 2, 3)
    assert a == satr.episode_seed(0, 1, 2, 3) and 0 <= a < 2**63
    assert len({satr.episode_seed(0, g, m, e) for g in range(3) for m in range(5) for e in range(2)}) == 30


NATIVE = {
    "generations": 2,
    "population": 21,
    "network.neurons": 16,
    "evaluation.eval_members": 2,
    "gym.vectorization": "vector_entry_point",
}


def test_a_native_vector_env_trains_reproducibly_and_resumes_exactly(tmp_path):
    runs = [
        satr.train("gym:CartPole-v1", overrides=NATIVE, backend="cpu", out_dir=tmp_path, progress=False)
        for _ in range(2)
    ]
    a, b = (untimed(r.metrics) for r in runs)
    assert a == b and len(a) == 2 and a[-1]["env_steps"] > 0
    assert runs[0].config["gym"]["vectorization"] == "vector_entry_point"
    other = satr.train(
        "gym:CartPole-v1", overrides={**NATIVE, "seed": 3}, backend="cpu", out_dir=tmp_path, progress=False
    )
    assert untimed(other.metrics) != a
    whole = satr.train(
        "gym:CartPole-v1", overrides={**NATIVE, "generations": 4}, backend="cpu", out_dir=tmp_path, progress=False
    )
    runs[0].resume(generations=4, progress=False)
    assert untimed(runs[0].metrics) == untimed(whole.metrics)
    # The same native env from a callable (its reset refuses a list of seeds) is
    # driven the same way.
    def native(num_envs):
        return gym.make_vec("CartPole-v1", num_envs=num_envs)

    called = satr.train(
        native,
        overrides={k: v for k, v in NATIVE.items() if k != "gym.vectorization"},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    assert untimed(called.metrics) == a
    # The sync vectorisation keys every member's episode: other episodes.
    sync = satr.train(
        "gym:CartPole-v1",
        overrides={**NATIVE, "gym.vectorization": "sync"},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    assert untimed(sync.metrics) != a


def test_a_bad_vectorization_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(satr.ConfigError, match="vectorization"):
        satr.train(
            "gym:CartPole-v1",
            overrides={**NATIVE, "gym.vectorization": "threads"},
            backend="cpu",
            out_dir=tmp_path,
            progress=False,
        )
