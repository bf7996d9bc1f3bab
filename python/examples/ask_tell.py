"""A hand-written ask/tell loop: satr's optimizer (``satr.Strategy``) on Gymnasium's
CartPole-v1, the environment stepped by this script.

    python python/examples/ask_tell.py [OUT]          # 20 generations, population 64
    SATR_EXAMPLE_TINY=1 python python/examples/ask_tell.py [OUT]   # 2 tiny ones (CI)

Higher fitness is better: ``tell`` takes each train member's return as it is. Each
member's episode is reset with the seed satr derives from (seed, generation, member,
episode), and a member stops stepping (``active``) once its episode is over, as in
satr's own evaluation. The strategy is saved to ``OUT/strategy.ckpt`` and loaded back.
"""

import os
import pathlib
import sys

import gymnasium as gym
import numpy as np

import satr

TINY = os.environ.get("SATR_EXAMPLE_TINY") == "1"


def main() -> int:
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
    generations, population, neurons, steps = (2, 8, 16, 60) if TINY else (20, 64, 32, 500)
    strategy = satr.Strategy(
        overrides={"population": population, "network.neurons": neurons,
                   "evaluation.eval_members": 2, "seed": 1},
        observation_space=gym.spaces.Box(-np.inf, np.inf, (4,), np.float32),
        action_space=gym.spaces.Discrete(2),
    )
    envs = gym.make_vec("CartPole-v1", num_envs=population + 2, vectorization_mode="sync")
    for _ in range(generations):
        pop = strategy.ask()
        obs, _ = envs.reset(seed=[pop.reset_seed(m) for m in range(pop.size)])
        returns = np.zeros(pop.size)
        active = np.ones(pop.size, dtype=bool)
        for _ in range(steps):
            actions = pop.act(obs, active)
            obs, reward, terminated, truncated, _ = envs.step(actions)
            returns += reward * active
            active &= ~(terminated | truncated)
            if not active.any():
                break
        record = strategy.tell(returns[: pop.train_members], returns[pop.train_members:])
        print(f"generation {record['generation']}: train return mean "
              f"{record['train_return_mean']:.1f}, eval return {record['eval_return']:.1f}")
    envs.close()
    out.mkdir(parents=True, exist_ok=True)
    strategy.save(out / "strategy.ckpt")
    again = satr.Strategy.load(out / "strategy.ckpt", action_space=gym.spaces.Discrete(2))
    assert again.generation == strategy.generation and np.array_equal(again.p, strategy.p)
    print(f"saved and loaded at generation {again.generation}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
