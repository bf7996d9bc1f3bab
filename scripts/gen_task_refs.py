#!/usr/bin/env python3
"""Generate the Gymnasium reference trajectories that `tests/engine/tasks/` checks against.

Usage (from the repository root):

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-tasks.txt
    .venv/bin/python scripts/gen_task_refs.py

Writes `tests/data/tasks/<task>.json`. Every run starts from a fixed state written
into `env.unwrapped.state` (as float64) after `env.reset()`, so the TimeLimit
counter starts at 0, and follows a seeded random action sequence until the episode
terminates, is truncated, or reaches the run's step cap.

f64 care: actions are passed as float64 arrays, because NumPy 2 (NEP 50) would
otherwise keep float32 scalars float32 and make parts of Pendulum's math float32.
MountainCarContinuous stores its state as float32 after every step (that rounding
is part of its definition, and the Rust task reproduces it); the state is upcast to
float64 before each step here so that `3 * position` is not computed in float32.
"""

import json
import os
import sys

import gymnasium as gym
import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "tasks")


def f64_list(values):
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def run(gym_id, start, actions, obs_index=None):
    """Runs one episode from `start` with `actions`; returns the per-step records."""
    env = gym.make(gym_id)
    env.reset(seed=0)
    env.unwrapped.state = np.array(start, dtype=np.float64)
    steps = []
    for action in actions:
        # Upcast so no float32 state leaks into the next step's arithmetic.
        env.unwrapped.state = np.asarray(env.unwrapped.state, dtype=np.float64)
        pre = f64_list(env.unwrapped.state)
        if isinstance(action, int):
            obs, reward, terminated, truncated, _ = env.step(action)
            recorded_action = action
        else:
            a = np.array(action, dtype=np.float64)
            obs, reward, terminated, truncated, _ = env.step(a)
            recorded_action = f64_list(a)
        obs = np.asarray(obs)
        if obs_index is not None:
            obs = obs[obs_index]
        steps.append(
            {
                "pre": pre,
                "action": recorded_action,
                "post": f64_list(env.unwrapped.state),
                "obs": f64_list(obs),
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            }
        )
        if terminated or truncated:
            break
    env.close()
    return steps


def discrete_actions(rng, n, length):
    return [int(a) for a in rng.integers(0, n, size=length)]


def continuous_actions(rng, low, high, length):
    return [[float(a)] for a in rng.uniform(low, high, size=length)]


def write(task, gym_id, max_steps, runs):
    data = {
        "task": task,
        "gym_id": gym_id,
        "gymnasium_version": gym.__version__,
        "numpy_version": np.__version__,
        "max_episode_steps": max_steps,
        "runs": runs,
    }
    path = os.path.join(OUT_DIR, f"{task}.json")
    with open(path, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    lengths = [len(r["steps"]) for r in runs]
    ends = [
        "term" if r["steps"][-1]["terminated"] else "trunc" if r["steps"][-1]["truncated"] else "cap"
        for r in runs
    ]
    print(f"{path}: {os.path.getsize(path)} bytes, run lengths {lengths}, ends {ends}")


def cartpole(task, obs_index):
    rng = np.random.default_rng(1)
    starts = [
        [0.0, 0.0, 0.0, 0.0],
        [0.03, -0.02, 0.04, 0.01],
        [-0.04, 0.5, -0.1, -0.8],
        [2.3, 1.0, 0.0, 0.0],
        [0.0, 0.0, 0.19, 0.3],
    ]
    runs = []
    for start in starts:
        steps = run("CartPole-v1", start, discrete_actions(rng, 2, 120), obs_index)
        runs.append({"start": start, "steps": steps})
    return runs


def acrobot():
    rng = np.random.default_rng(2)
    starts = [
        [0.05, -0.03, 0.02, 0.08],
        [-0.09, 0.1, -0.04, 0.0],
        # Large velocities exercise the velocity bounds and the angle wrap.
        [3.0, -3.1, 12.0, 27.0],
        [1.5, 2.0, -12.5, -28.0],
        # Close to the goal height, so the run terminates.
        [2.6, 0.3, 1.0, 0.5],
    ]
    runs = []
    for start in starts:
        steps = run("Acrobot-v1", start, discrete_actions(rng, 3, 60))
        runs.append({"start": start, "steps": steps})
    return runs


def pendulum():
    rng = np.random.default_rng(3)
    # Actions beyond [-2, 2] check Gymnasium's clipping (it clips before the cost).
    runs = []
    for start, length in [
        ([np.pi, 0.0], 200),  # full episode: truncated by the TimeLimit
        ([0.3, -0.7], 40),
        ([-2.9, 7.5], 40),  # near max speed: exercises the speed clip
        ([7.0, -1.0], 40),  # angle outside [-pi, pi): exercises angle_normalize
    ]:
        steps = run("Pendulum-v1", start, continuous_actions(rng, -3.0, 3.0, length))
        runs.append({"start": start, "steps": steps})
    return runs


def mountaincar():
    rng = np.random.default_rng(4)
    runs = []
    for start, length in [
        ([-0.5, 0.0], 60),
        ([-1.15, -0.06], 40),  # hits the left wall: velocity zeroed
        ([0.3, 0.06], 40),  # reaches the goal
        ([0.44, 0.069], 40),
        ([-0.2, 0.07], 40),
    ]:
        # Actions beyond [-1, 1]: the force is clipped but the cost uses the raw action.
        steps = run("MountainCarContinuous-v0", start, continuous_actions(rng, -1.5, 1.5, length))
        runs.append({"start": start, "steps": steps})
    return runs


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    write("cartpole", "CartPole-v1", 500, cartpole("cartpole", None))
    write("cartpole-pos", "CartPole-v1", 500, cartpole("cartpole-pos", [0, 2]))
    write("acrobot", "Acrobot-v1", 500, acrobot())
    write("pendulum", "Pendulum-v1", 200, pendulum())
    write("mountaincar-continuous", "MountainCarContinuous-v0", 999, mountaincar())
    return 0


if __name__ == "__main__":
    sys.exit(main())
