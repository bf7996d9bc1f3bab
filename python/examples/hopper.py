"""Gymnasium's MuJoCo Hopper-v5 (``gymnasium[mujoco]``) trained by satr from Python.

    python python/examples/hopper.py            # the Hopper preset's settings, 30 generations
    SATR_EXAMPLE_TINY=1 python python/examples/hopper.py   # 2 tiny generations (CI)

``gym:Hopper-v5`` is a SyncVectorEnv of Gymnasium's own Hopper, one MuJoCo simulation
per member, each reset from satr's per-episode seed; satr steps only the members still
in their episode. The built-in ``hopper`` task (satr built with ``--features mujoco``)
is the same physics stepped from Rust on every core, several times faster: see the
speed table in README. Needs ``pip install mujoco==3.17.0`` (python/requirements.txt).
"""

import os
import sys

import satr

TINY = os.environ.get("SATR_EXAMPLE_TINY") == "1"


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "runs"
    overrides = {
        # configs/hopper.toml: SATR raw + adam, epsilon 10, N 256.
        "population": 64,
        "generations": 30,
        "network.neurons": 256,
        "optimizer.epsilon": 10.0,
        "evaluation.eval_members": 4,
    }
    if TINY:
        overrides = {"population": 6, "generations": 2, "network.neurons": 16,
                     "evaluation.eval_members": 1, "evaluation.max_episode_steps": 40}
    run = satr.train("gym:Hopper-v5", overrides=overrides, backend="cpu",
                     out_dir=out, progress=not TINY)
    first, last = run.metrics[0], run.metrics[-1]
    print(f"{run.path}: eval return {first['eval_return']:.1f} -> {last['eval_return']:.1f} "
          f"over {len(run.metrics)} generations, {last['env_steps']} env steps, "
          f"{last['env_steps_per_s']:.0f} env-steps/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
