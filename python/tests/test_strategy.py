"""satr.Strategy (ask/tell): a hand-written loop on Gymnasium's CartPole improves;
the same loop over satr's own CartPole equals satr.train; save/load resume exactly;
wrong shapes raise satr's errors."""

from __future__ import annotations

import numpy as np
import pytest

import satr
from satr import _satr

SMALL = {
    "population": 16,
    "network.neurons": 16,
    "evaluation.eval_members": 2,
    "evaluation.max_episode_steps": 200,
}


class _Discrete:
    """A stand-in for gymnasium.spaces.Discrete (read by its class name)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.start = 0


_Discrete.__name__ = "Discrete"


def run_satr_cartpole(strategy: satr.Strategy, max_steps: int) -> dict:
    """One generation over satr's built-in CartPole, reset as the evaluator resets it."""
    pop = strategy.ask()
    episodes = strategy.config["evaluation"]["episodes_per_member"]
    tasks = [_satr.BuiltinTask("cartpole") for _ in range(pop.size)]
    totals = np.zeros(pop.size)
    for e in range(episodes):
        if e > 0:
            pop.reset()
        obs = np.stack([t.reset(*pop.episode_key(m)) for m, t in enumerate(tasks)])
        active = np.ones(pop.size, dtype=bool)
        for _ in range(max_steps):
            actions = pop.act(obs, active)
            for m, t in enumerate(tasks):
                if active[m]:
                    r, term, trunc = t.step([float(actions[m])])
                    totals[m] += r
                    active[m] = not (term or trunc)
                    obs[m] = t.observe()
            if not active.any():
                break
    fit = totals / episodes
    return strategy.tell(fit[: pop.train_members], fit[pop.train_members :])


def test_same_loop_over_satrs_cartpole_equals_satr_train(tmp_path, tiny):
    over = dict(tiny, **{"evaluation.max_episode_steps": 100})
    run = satr.train("cartpole", overrides=over, backend="cpu", out_dir=tmp_path, progress=False)
    strategy = satr.Strategy(overrides=over, obs_dim=4, action_space=_Discrete(2))
    records = [run_satr_cartpole(strategy, 100) for _ in range(over["generations"])]
    ckpt = satr.Strategy.load(run.path)
    assert strategy.generation == ckpt.generation == 2
    assert np.array_equal(strategy.p, ckpt.p)
    for got, want in zip(records, run.metrics):
        for key in ("train_return_mean", "eval_return", "kl", "entropy", "env_steps"):
            assert got[key] == want[key], key



def test_save_load_resumes_exactly(tmp_path):
    over = dict(SMALL, generations=4)
    whole = satr.Strategy(overrides=over, obs_dim=4, action_space=_Discrete(2))
    for _ in range(3):
        run_satr_cartpole(whole, 50)
    first = satr.Strategy(overrides=over, obs_dim=4, action_space=_Discrete(2))
    run_satr_cartpole(first, 50)
    first.save(tmp_path / "s.ckpt")
    resumed = satr.Strategy.load(tmp_path / "s.ckpt", action_space=_Discrete(2))
    assert resumed.generation == 1
    run_satr_cartpole(resumed, 50)
    run_satr_cartpole(resumed, 50)
    assert np.array_equal(resumed.p, whole.p)
    assert resumed.env_steps == whole.env_steps


def test_wrong_shapes_raise_satr_errors():
    s = satr.Strategy(overrides=SMALL, obs_dim=4, act_dim=2)
    with pytest.raises(satr.UsageError):
        s.tell(np.zeros(16))
    pop = s.ask()
    assert (pop.size, pop.train_members, pop.eval_members) == (18, 16, 2)
    with pytest.raises(satr.UsageError):
        pop.act(np.zeros((18, 5)))
    with pytest.raises(satr.UsageError):
        pop.act(np.zeros((17, 4)))
    with pytest.raises(satr.UsageError):
        pop.act(np.zeros((18, 4)), active=np.ones(3, dtype=bool))
    with pytest.raises(satr.UsageError):
        pop.reset(np.ones(2, dtype=bool))
    a = pop.act(np.zeros((18, 4), dtype=np.uint8))
    assert a.dtype == np.float32 and a.shape == (18, 2)
    assert np.all(np.abs(a) <= 1.0)
    with pytest.raises(satr.UsageError):
        s.tell(np.zeros(15))
    with pytest.raises(satr.TaskError):
        s.tell(np.full(16, np.nan))
    rec = s.tell(np.arange(16.0))
    assert rec["generation"] == 0 and rec["train_return_max"] == 15.0
    with pytest.raises(satr.ConfigError):
        satr.Strategy(overrides={"population": 1}, obs_dim=4, act_dim=1)
    with pytest.raises(satr.UsageError):
        satr.Strategy(act_dim=1)


def test_gymnasium_spaces_and_a_hand_loop_improves():
    gym = pytest.importorskip("gymnasium")
    envs = gym.make_vec("CartPole-v1", num_envs=66, vectorization_mode="sync")
    with pytest.raises(satr.TaskError, match="MultiBinary"):
        satr.Strategy(
            observation_space=envs.single_observation_space,
            action_space=gym.spaces.MultiBinary(3),
        )
    s = satr.Strategy(
        overrides={"population": 64, "network.neurons": 32, "evaluation.eval_members": 2, "seed": 1},
        observation_space=envs.single_observation_space,
        action_space=envs.single_action_space,
    )
    means = []
    for _ in range(8):
        pop = s.ask()
        assert pop.size == envs.num_envs
        obs, _ = envs.reset(seed=[pop.reset_seed(m) for m in range(pop.size)])
        totals = np.zeros(pop.size)
        active = np.ones(pop.size, dtype=bool)
        for _ in range(500):
            actions = pop.act(obs, active)
            assert actions.dtype == np.int64 and actions.shape == (pop.size,)
            obs, reward, term, trunc, _ = envs.step(actions)
            totals += reward * active
            active &= ~(term | trunc)
            if not active.any():
                break
        means.append(s.tell(totals[: pop.train_members])["train_return_mean"])
    envs.close()
    # Seen: 17 -> 64 over these 8 generations.
    assert np.mean(means[-3:]) > 1.5 * means[0], means
