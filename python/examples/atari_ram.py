"""Atari Breakout from its 128 bytes of RAM (ale-py, whose wheel ships the ROMs),
trained by satr from Python.

    python python/examples/atari_ram.py          # 20 generations, population 64
    SATR_EXAMPLE_TINY=1 python python/examples/atari_ram.py   # 2 tiny generations (CI)

ALE's native vector env renders frames and does not take ``obs_type``, so the RAM
environment is vectorised by Gymnasium's SyncVectorEnv, through a callable: satr calls
``make_envs(num_envs)`` for the members it steps. ALE's v5 episodes have no step limit
in their spec (a game lasts up to 108 000 frames), so the config sets one
(``evaluation.max_episode_steps``). Observations are uint8; satr's running normaliser
scales them.
"""

import os
import sys

import ale_py
import gymnasium as gym

import satr

TINY = os.environ.get("SATR_EXAMPLE_TINY") == "1"
gym.register_envs(ale_py)


def make_envs(num_envs: int) -> gym.vector.VectorEnv:
    """Breakout-v5 observing RAM, one emulator per member."""
    return gym.make_vec("ALE/Breakout-v5", num_envs=num_envs, vectorization_mode="sync",
                        obs_type="ram")


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "runs"
    overrides = {"population": 64, "generations": 20, "network.neurons": 128,
                 "evaluation.eval_members": 4, "evaluation.max_episode_steps": 2000}
    if TINY:
        overrides = {"population": 4, "generations": 2, "network.neurons": 16,
                     "evaluation.eval_members": 1, "evaluation.max_episode_steps": 30}
    run = satr.train(make_envs, overrides=overrides, backend="cpu", out_dir=out,
                     progress=not TINY)
    first, last = run.metrics[0], run.metrics[-1]
    print(f"{run.path}: eval return {first['eval_return']:.1f} -> {last['eval_return']:.1f}, "
          f"best member {last['train_return_max']:.0f}, over {len(run.metrics)} generations, "
          f"{last['env_steps']} env steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
