"""Gymnasium environments as tasks: `gym:<id>`, callables returning a VectorEnv (every
autoreset mode), determinism, resume, evaluate/export, faults and unsupported spaces."""

from __future__ import annotations

import signal
import threading
import time

import numpy as np
import pytest

import satr
from conftest import untimed

gym = pytest.importorskip("gymnasium")
from gymnasium.vector import AutoresetMode, SyncVectorEnv  # noqa: E402


def cartpole_vec(mode, wrapped=False):
    """A callable num_envs -> Gymnasium's CartPole-v1, sync, autoreset `mode`; under a
    vector wrapper when `wrapped` (satr then drives it through the VectorEnv API; a
    plain SyncVectorEnv it drives through its sub-environments)."""

    def make(num_envs):
        env = gym.make_vec(
            "CartPole-v1",
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": mode},
        )
        return gym.wrappers.vector.RecordEpisodeStatistics(env) if wrapped else env

    return make


def test_gym_cartpole_trains_and_is_deterministic(tmp_path, tiny):
    runs = [
        satr.train("gym:CartPole-v1", overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
        for _ in range(2)
    ]
    assert runs[0].path != runs[1].path
    assert runs[0].path.name.startswith("gym-CartPole-v1-s0-")
    assert runs[0].task == "gym:CartPole-v1"
    assert "gym:CartPole-v1" in satr.tasks()
    a, b = (untimed(r.metrics) for r in runs)
    assert len(a) == 2 and a == b
    assert a[-1]["train_return_mean"] >= 8.0 and a[-1]["env_steps"] > 0
    # Another seed gives other episodes.
    other = satr.train(
        "gym:CartPole-v1", overrides={**tiny, "seed": 1}, backend="cpu", out_dir=tmp_path, progress=False
    )
    assert untimed(other.metrics) != a


def test_every_autoreset_mode_and_both_stepping_paths_agree(tmp_path, tiny):
    ref = untimed(
        satr.train("gym:CartPole-v1", overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False).metrics
    )
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED):
        for wrapped in (False, True):
            run = satr.train(
                cartpole_vec(mode, wrapped), overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False
            )
            assert run.task.startswith("py:") and run.task.endswith("make")
            assert untimed(run.metrics) == ref, (mode, wrapped)
    # Member by member, each member's one-slot env gets the seed the batched path gives.
    per_member = satr.train(
        "gym:CartPole-v1",
        overrides={**tiny, "evaluation.stepping": "per_member"},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    assert untimed(per_member.metrics) == ref


def test_gym_continuous_box_actions(tmp_path, tiny):
    run = satr.train(
        "gym:Pendulum-v1",
        overrides={**tiny, "evaluation.max_episode_steps": 50},
        backend="cpu",
        out_dir=tmp_path,
        progress=False,
    )
    m = run.metrics
    # 50 steps of at most about -16.3 each; train and eval members all ran.
    assert -50 * 16.5 <= m[-1]["train_return_mean"] < 0
    assert m[-1]["env_steps"] == 2 * (8 + 2) * 50


def test_gym_resume_evaluate_export(tmp_path, tiny):
    whole = satr.train(
        "gym:CartPole-v1", overrides={**tiny, "generations": 3}, backend="cpu", out_dir=tmp_path, progress=False
    )
    part = satr.train("gym:CartPole-v1", overrides=tiny, backend="cpu", out_dir=tmp_path, name="p", progress=False)
    part.resume(generations=3, progress=False)
    assert untimed(part.metrics) == untimed(whole.metrics)
    r = part.evaluate(episodes=2)
    assert r["task"] == "gym:CartPole-v1" and r["episodes"] == 2 and r["min_return"] >= 1
    assert part.export().is_file()


def test_callable_run_resumes_with_the_callable_again(tmp_path, tiny):
    make = cartpole_vec(AutoresetMode.NEXT_STEP)
    run = satr.train(make, overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
    run.resume(generations=3, task=make, progress=False)
    assert len(run.metrics) == 3


class Faulty(gym.Env):
    """A Box(4) / Discrete(2) environment without a step limit that raises on its
    third step (unless not `blows`), or that observes a Discrete space
    (`discrete_obs`)."""

    def __init__(self, discrete_obs=False, wrong_obs=False, blows=True):
        self.observation_space = (
            gym.spaces.Discrete(3) if discrete_obs else gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        )
        self.action_space = gym.spaces.Discrete(2)
        self.wrong_obs, self.blows = wrong_obs, blows
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return np.zeros(5 if self.wrong_obs and self.t > 0 else 4, np.float32)

    def step(self, action):
        self.t += 1
        if self.t == 3 and self.blows and not self.wrong_obs:
            raise RuntimeError("the simulator blew up")
        return self._obs(), 1.0, False, False, {}


def faulty_vec(num_envs):
    return SyncVectorEnv([Faulty for _ in range(num_envs)])


def test_an_environment_that_raises_is_a_task_error_naming_it(tmp_path, tiny):
    with pytest.raises(satr.TaskError, match="faulty_vec") as e:
        satr.train(
            faulty_vec,
            overrides={**tiny, "evaluation.max_episode_steps": 20},
            backend="cpu",
            out_dir=tmp_path,
            progress=False,
        )
    msg = str(e.value)
    assert "step()" in msg and "episode step 3" in msg and "the simulator blew up" in msg, msg
    assert "member 0 (sub-environment 0)" in msg, msg
    assert isinstance(e.value.__cause__, RuntimeError)


def test_step_threads_give_the_same_metrics(tmp_path, tiny):
    """`gym.step_threads` steps a SyncVectorEnv's live sub-environments on several
    threads, each its share: the metrics are one thread's, at shares that do not
    divide the members (13 + 3), for Pendulum and, where MuJoCo is installed, for
    Hopper, whose mj_step releases the GIL."""
    over = {**tiny, "population": 13, "evaluation.eval_members": 3, "evaluation.max_episode_steps": 30}
    tasks = ["gym:Pendulum-v1"]
    try:
        import mujoco  # noqa: F401

        tasks.append("gym:Hopper-v5")
    except ImportError:
        pass
    for task in tasks:
        ref = satr.train(task, overrides=over, backend="cpu", out_dir=tmp_path, progress=False)
        assert ref.config["gym"]["step_threads"] == 1
        for threads in (2, 3, 16):
            run = satr.train(
                task,
                overrides={**over, "gym.step_threads": threads},
                backend="cpu",
                out_dir=tmp_path,
                progress=False,
            )
            assert run.config["gym"]["step_threads"] == threads
            assert untimed(run.metrics) == untimed(ref.metrics), (task, threads)
    with pytest.raises(satr.ConfigError, match="gym.step_threads"):
        satr.train(
            "gym:Pendulum-v1", overrides={**over, "gym.step_threads": 0}, backend="cpu", out_dir=tmp_path
        )


def test_step_threads_on_a_vector_env_it_cannot_thread_warn(tmp_path, tiny):
    """A wrapped vector env goes through the VectorEnv API, one call per step: more
    step threads change nothing, and the user is told so."""
    make = cartpole_vec(AutoresetMode.NEXT_STEP, wrapped=True)
    ref = satr.train(make, overrides=tiny, backend="cpu", out_dir=tmp_path, progress=False)
    with pytest.warns(UserWarning, match="gym.step_threads = 2 has no effect"):
        run = satr.train(
            make, overrides={**tiny, "gym.step_threads": 2}, backend="cpu", out_dir=tmp_path, progress=False
        )
    assert untimed(run.metrics) == untimed(ref.metrics)


def test_a_failure_on_another_step_thread_names_its_member(tmp_path, tiny):
    """With two step threads, the last two of 10 sub-environments (the second thread's
    share) raise: the error names the first of them, as one thread would."""

    def blows_only_late(num_envs):
        return SyncVectorEnv([lambda i=i: Faulty(blows=i >= num_envs - 2) for i in range(num_envs)])

    with pytest.raises(satr.TaskError) as e:
        satr.train(
            blows_only_late,
            overrides={**tiny, "evaluation.max_episode_steps": 20, "gym.step_threads": 2},
            backend="cpu",
            out_dir=tmp_path,
            progress=False,
        )
    msg = str(e.value)
    assert "member 8 (sub-environment 8)" in msg and "the simulator blew up" in msg, msg
    assert isinstance(e.value.__cause__, RuntimeError)


def test_no_step_limit_asks_for_the_config_key(tmp_path, tiny):
    def no_limit(num_envs):
        return SyncVectorEnv([lambda: Faulty(wrong_obs=True) for _ in range(num_envs)])

    with pytest.raises(satr.TaskError, match="evaluation.max_episode_steps"):
        satr.train(no_limit, overrides=tiny, out_dir=tmp_path)


def test_wrong_observation_shape_is_a_task_error(tmp_path, tiny):
    def wrong(num_envs):
        return SyncVectorEnv([lambda: Faulty(wrong_obs=True) for _ in range(num_envs)])

    with pytest.raises((satr.TaskError, ValueError)):
        satr.train(
            wrong, overrides={**tiny, "evaluation.max_episode_steps": 20}, backend="cpu", out_dir=tmp_path
        )


def test_unsupported_spaces_are_refused_naming_them(tmp_path, tiny):
    def discrete_obs(num_envs):
        return SyncVectorEnv([lambda: Faulty(discrete_obs=True) for _ in range(num_envs)])

    with pytest.raises(satr.TaskError, match=r"observation space Discrete\(3\) is not supported"):
        satr.train(discrete_obs, overrides={**tiny, "evaluation.max_episode_steps": 20}, out_dir=tmp_path)

    def wrong_count(num_envs):
        return SyncVectorEnv([Faulty for _ in range(num_envs + 1)])

    with pytest.raises(satr.TaskError, match="sub-environments"):
        satr.train(wrong_count, overrides={**tiny, "evaluation.max_episode_steps": 20}, out_dir=tmp_path)

    def unbounded(num_envs):
        env = gym.make_vec("Pendulum-v1", num_envs=num_envs, vectorization_mode="sync")
        env.single_action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        return env

    with pytest.raises(satr.TaskError, match="finite bounds"):
        satr.train(unbounded, overrides=tiny, out_dir=tmp_path)


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler, whatever the process inherited: a process started
    in the background by a non-interactive shell ignores SIGINT, and Python then leaves
    it ignored, so `_thread.interrupt_main()` would do nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_keyboard_interrupt_checkpoints_then_raises(tmp_path, sigint_raises):
    """Ctrl-C during training: the generation finishes, a checkpoint is written, then
    KeyboardInterrupt is raised; the run resumes from there."""
    overrides = {
        # A bound, so that a missed interrupt fails the test instead of hanging it.
        "generations": 3000,
        "population": 8,
        "network.neurons": 16,
        "evaluation.eval_members": 2,
        "run.checkpoint_every": 0,
    }
    run_dir = tmp_path / "ctrl-c"

    def interrupt_when_running():
        deadline = time.time() + 60
        while time.time() < deadline:
            metrics = run_dir / "metrics.jsonl"
            if metrics.exists() and metrics.read_text().count("\n") >= 3:
                break
            time.sleep(0.01)
        import _thread

        _thread.interrupt_main()

    t = threading.Thread(target=interrupt_when_running)
    t.start()
    with pytest.raises(KeyboardInterrupt):
        satr.train("cartpole", overrides=overrides, backend="cpu", out_dir=tmp_path, name="ctrl-c", progress=False)
    t.join()
    run = satr.Run(run_dir)
    done = len(run.metrics)
    assert 3 <= done < 3000
    assert run.checkpoint.is_file()
    run.resume(generations=done + 1, progress=False)
    assert len(run.metrics) == done + 1


class Slow(gym.Env):
    """Never ends on its own; each step takes 2 ms."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(4, np.float32), {}

    def step(self, action):
        time.sleep(0.002)
        return np.zeros(4, np.float32), 1.0, False, False, {}


def slow_vec(num_envs):
    return SyncVectorEnv([Slow for _ in range(num_envs)])


def test_a_second_interrupt_stops_waiting_at_once(tmp_path, sigint_raises):
    """A generation of this run takes about 2 s: the second interrupt is raised long
    before it ends; the run still finishes that generation and checkpoints behind."""
    import _thread

    def interrupt_twice():
        time.sleep(0.3)
        _thread.interrupt_main()
        time.sleep(0.3)
        _thread.interrupt_main()

    overrides = {
        "generations": 5,
        "population": 8,
        "network.neurons": 16,
        "evaluation.eval_members": 2,
        "evaluation.max_episode_steps": 100,
    }
    t = threading.Thread(target=interrupt_twice)
    start = time.time()
    t.start()
    with pytest.raises(KeyboardInterrupt):
        satr.train(slow_vec, overrides=overrides, backend="cpu", out_dir=tmp_path, name="slow", progress=False)
    waited = time.time() - start
    t.join()
    assert waited < 1.5, waited
    run = tmp_path / "slow"
    deadline = time.time() + 60
    while not (run / "checkpoints" / "latest.ckpt").exists() and time.time() < deadline:
        time.sleep(0.05)
    assert (run / "checkpoints" / "latest.ckpt").exists()
    # The background run ends after that generation and releases the run.
    while time.time() < deadline:
        try:
            satr.Run(run).resume(generations=1, task=slow_vec, progress=False)
            break
        except satr.RunLockedError:
            time.sleep(0.05)
    assert len(satr.Run(run).metrics) == 1
