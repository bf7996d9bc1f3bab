"""Runs a policy exported by ``satr export`` in a Gymnasium environment.

    python python/example_gymnasium.py runs/<run>/policy.safetensors [--episodes 5]

The environment is the one the policy was trained on (satr's task names map to
Gymnasium ids below). satr_policy.py needs numpy (and safetensors or nir to read the
file); Gymnasium is needed by this example only.
"""

import argparse
import os
import sys

import gymnasium as gym

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from satr_policy import SatrPolicy  # noqa: E402

GYMNASIUM_IDS = {
    "cartpole": "CartPole-v1",
    "acrobot": "Acrobot-v1",
    "mountaincar-continuous": "MountainCarContinuous-v0",
    "pendulum": "Pendulum-v1",
    "hopper": "Hopper-v5",
    "walker2d": "Walker2d-v5",
    "halfcheetah": "HalfCheetah-v5",
    "ant": "Ant-v5",
    "humanoid": "Humanoid-v5",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy", help="a .safetensors or .nir file from satr export")
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    policy = SatrPolicy.load(args.policy)
    if policy.task not in GYMNASIUM_IDS:
        sys.exit(f"no Gymnasium environment for satr task {policy.task!r} (cartpole-pos observes a subset)")
    env_id = GYMNASIUM_IDS[policy.task]
    env = gym.make(env_id)
    for episode in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + episode)
        policy.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
            total += float(reward)
            done = terminated or truncated
        print(f"{env_id} episode {episode}: return {total:.1f}")


if __name__ == "__main__":
    main()
