#!/usr/bin/env python3
"""PPO with an LSTM policy on Gymnasium's Hopper-v5, for issue #21's speed comparison.

sb3-contrib's RecurrentPPO with rl-baselines3-zoo's tuned Hopper settings
(hyperparams/ppo_lstm.yml, `Hopper-v3`: one env, VecNormalize, n_steps 512, batch 32,
gamma 0.999, lr 9.80828e-5, ent_coef 0.00229519, clip 0.2, 5 epochs, gae_lambda 0.99,
max_grad_norm 0.7, vf_coef 0.835671, log_std_init -2, no orthogonal init, ReLU,
256x256 heads), trained until a wall-clock budget runs out. Every `--eval-every` env
steps the deterministic policy plays `--eval-episodes` episodes (normaliser frozen)
and a line goes to OUT: {"wall_s", "env_steps", "eval_return"}, the wall clock
counting training only, as satr's `wall_s` does.

    scripts/setup_ppo_lstm.sh                     # .venv-ppo, pinned (not in CI)
    .venv-ppo/bin/python scripts/ppo_lstm.py --seed 0 --hours 2 --out ppo-s0.jsonl
"""

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

ZOO_HOPPER = dict(
    n_steps=512,
    batch_size=32,
    gamma=0.999,
    learning_rate=9.80828e-05,
    ent_coef=0.00229519,
    clip_range=0.2,
    n_epochs=5,
    gae_lambda=0.99,
    max_grad_norm=0.7,
    vf_coef=0.835671,
    policy_kwargs=dict(
        log_std_init=-2,
        ortho_init=False,
        activation_fn=torch.nn.ReLU,
        net_arch=dict(pi=[256, 256], vf=[256, 256]),
    ),
)


def evaluate(model, train_env, episodes, seed):
    """Mean return of the deterministic policy, observations normalised with the
    training statistics (frozen)."""
    env = gym.make("Hopper-v5")
    returns = []
    for e in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + e)
        state, start, total, done = None, np.ones((1,), bool), 0.0, False
        while not done:
            x = train_env.normalize_obs(obs[None, :])
            action, state = model.predict(x, state=state, episode_start=start, deterministic=True)
            obs, reward, term, trunc, _ = env.step(action[0])
            total += reward
            start = np.zeros((1,), bool)
            done = term or trunc
        returns.append(total)
    env.close()
    return float(np.mean(returns))


class Budget(BaseCallback):
    """Stops at the wall-clock budget; evaluates every `every` steps, off the clock."""

    def __init__(self, seconds, every, episodes, seed, out):
        super().__init__()
        self.seconds, self.every, self.episodes, self.seed, self.out = seconds, every, episodes, seed, out
        self.train_s, self.last, self.next_eval = 0.0, time.monotonic(), every

    def _on_step(self):
        now = time.monotonic()
        self.train_s += now - self.last
        self.last = now
        if self.num_timesteps >= self.next_eval:
            self.next_eval += self.every
            ret = evaluate(self.model, self.training_env, self.episodes, self.seed)
            line = {"wall_s": round(self.train_s, 3), "env_steps": self.num_timesteps, "eval_return": ret}
            self.out.write(json.dumps(line) + "\n")
            self.out.flush()
            print(line, file=sys.stderr, flush=True)
            self.last = time.monotonic()
        return self.train_s < self.seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--eval-every", type=int, default=20_000)
    ap.add_argument("--eval-episodes", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (satr runs two jobs on 2 cores)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    env = VecNormalize(make_vec_env("Hopper-v5", n_envs=1, seed=args.seed))
    model = RecurrentPPO("MlpLstmPolicy", env, seed=args.seed, device="cpu", verbose=0, **ZOO_HOPPER)
    with open(args.out, "w") as out:
        budget = Budget(args.hours * 3600, args.eval_every, args.eval_episodes, args.seed, out)
        model.learn(total_timesteps=10**9, callback=budget)
    return 0


if __name__ == "__main__":
    sys.exit(main())
