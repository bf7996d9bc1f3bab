"""Train, plot, export and run a policy: the whole path in one script.

    python python/examples/train_plot_export.py [OUT_DIR]
    SATR_EXAMPLE_TINY=1 python python/examples/train_plot_export.py OUT_DIR   # CI

1. trains satr's built-in CartPole (the preset) into OUT_DIR;
2. draws its learning curve with ``satr plot`` (the package's console command);
3. exports the mode genome to safetensors and runs it, with numpy alone
   (``satr.SatrPolicy``), in Gymnasium's own ``CartPole-v1``.
"""

import os
import subprocess
import sys

import gymnasium as gym

import satr

TINY = os.environ.get("SATR_EXAMPLE_TINY") == "1"


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "runs"
    overrides = {"generations": 3, "population": 16, "network.neurons": 16} if TINY else {}
    run = satr.train("cartpole", overrides=overrides, backend="cpu", out_dir=out,
                     progress=not TINY)
    print(f"trained {run.path}: eval return {run.metrics[-1]['eval_return']}")

    png = os.path.join(out, "cartpole-curve.png")
    subprocess.run([sys.executable, "-m", "satr._cli", "plot", str(run.path), "-o", png],
                   check=True)
    print(f"plotted {png} ({os.path.getsize(png)} bytes)")

    policy = satr.SatrPolicy.load(str(run.export()))
    env = gym.make("CartPole-v1")
    returns = []
    for episode in range(1 if TINY else 5):
        obs, _ = env.reset(seed=episode)
        policy.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    print(f"in Gymnasium's CartPole-v1: returns {returns}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
