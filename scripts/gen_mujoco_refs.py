#!/usr/bin/env python3
"""Generate the Gymnasium MuJoCo reference trajectories that `tests/mujoco.rs` checks against.

Usage (from the repository root):

    python3 -m venv .venv && .venv/bin/pip install -r scripts/requirements-tasks.txt
    .venv/bin/python scripts/gen_mujoco_refs.py

For each task, the environment is reset with a fixed seed; the state it reset to
(qpos, qvel) is recorded, then 1000 steps of a seeded random action sequence are
taken whatever happens (the run does not stop at termination, so the falls and the
ground contacts after them are covered too). Actions are float64 arrays drawn 20%
beyond the control range on each side, so MuJoCo's control clamping and the control
cost on the raw action are both exercised.

Writes `tests/data/mujoco/<task>.json` (versions, sizes, terminated and truncated
flags) and `<task>.f64`: little-endian float64 values, exactly as Python held them,
in this order: qpos (nq), qvel (nv), the observation after the reset (obs_dim), then
for each step its action (nu), reward (1) and observation (obs_dim). Binary keeps the
numbers exact without a float parser in the way, and small (Humanoid's observation
has 348 values).
"""

import json
import os
import sys

import gymnasium as gym
import mujoco
import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "mujoco")
STEPS = 1000

TASKS = [
    ("hopper", "Hopper-v5", 11),
    ("walker2d", "Walker2d-v5", 12),
    ("halfcheetah", "HalfCheetah-v5", 13),
    ("ant", "Ant-v5", 14),
    ("humanoid", "Humanoid-v5", 15),
]


def generate(task, gym_id, seed):
    env = gym.make(gym_id)
    obs, _ = env.reset(seed=seed)
    data = env.unwrapped.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
    span = high - low
    rng = np.random.default_rng(seed)
    actions = rng.uniform(low - 0.2 * span, high + 0.2 * span, size=(STEPS, low.size))
    obs_dim = np.asarray(obs).size
    values = [qpos, qvel, np.asarray(obs, dtype=np.float64)]
    rewards, terminated, truncated = [], [], []
    for action in actions:
        obs, reward, term, trunc, _ = env.step(np.array(action, dtype=np.float64))
        values += [action, np.array([reward], dtype=np.float64), np.asarray(obs, dtype=np.float64)]
        rewards.append(float(reward))
        terminated.append(bool(term))
        truncated.append(bool(trunc))
    env.close()
    record = {
        "task": task,
        "gym_id": gym_id,
        "gymnasium_version": gym.__version__,
        "mujoco_version": mujoco.__version__,
        "numpy_version": np.__version__,
        "seed": seed,
        "nq": int(qpos.size),
        "nv": int(qvel.size),
        "nu": int(low.size),
        "obs_dim": int(obs_dim),
        "steps": STEPS,
        "terminated": terminated,
        "truncated": truncated,
    }
    with open(os.path.join(OUT_DIR, f"{task}.json"), "w") as f:
        json.dump(record, f, separators=(",", ":"))
        f.write("\n")
    np.concatenate([np.ravel(v) for v in values]).astype("<f8").tofile(
        os.path.join(OUT_DIR, f"{task}.f64")
    )
    first_term = terminated.index(True) + 1 if any(terminated) else None
    print(f"{task}: obs_dim {obs_dim}, first termination at step {first_term}, "
          f"return over {STEPS} steps {sum(rewards):.3f}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for task, gym_id, seed in TASKS:
        generate(task, gym_id, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
