"""Gymnasium's Acrobot-v1 trained by satr through the Python package.

    python python/examples/acrobot.py            # 60 generations, population 128
    SATR_EXAMPLE_TINY=1 python python/examples/acrobot.py   # 2 tiny generations (CI)

The environment is Gymnasium's own (``gym:Acrobot-v1``: a sync vector env of
``num_envs`` members, reset from satr's per-episode seeds); the run directory is the
one ``satr train`` writes, so ``satr plot`` and ``satr export`` read it.
"""

import os
import sys

import satr

TINY = os.environ.get("SATR_EXAMPLE_TINY") == "1"


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "runs"
    overrides = {"population": 128, "generations": 60, "network.neurons": 64}
    if TINY:
        overrides = {"population": 8, "generations": 2, "network.neurons": 16,
                     "evaluation.eval_members": 2, "evaluation.max_episode_steps": 60}
    run = satr.train("gym:Acrobot-v1", overrides=overrides, backend="cpu",
                     out_dir=out, progress=not TINY)
    first, last = run.metrics[0], run.metrics[-1]
    print(f"{run.path}: eval return {first['eval_return']:.1f} -> {last['eval_return']:.1f} "
          f"over {len(run.metrics)} generations, {last['env_steps']} env steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
