#!/usr/bin/env python3
"""Speed of Python-driven training against the built-in task (issue #19's benchmark).

For each pair, the same population, network, seed and generations are trained twice in
turn, `--repeat` times: once on satr's built-in task, once on the Gymnasium
environment through the Python package. The rate of a run is its env steps over its
wall seconds, both from the run's own last metrics.jsonl line (the trainer's clock:
process start-up and environment construction are not in it). The Gymnasium run's
time is split into the environment's own reset/step calls, the bridge around them
(attaching to the interpreter, building actions, reading and checking results), and
satr (networks, bookkeeping, the update): `satr._satr.bridge_times`.

    .venv/bin/python scripts/bench_python.py --satr-bin target/release/satr [--repeat 3]

The built-in `hopper` needs a satr binary built with `--features mujoco` (the Python
package is built without MuJoCo) and `eval "$(scripts/setup_mujoco.sh)"`; without
`--satr-bin` the Hopper pair is skipped. Prints a Markdown table; `--json FILE` also
writes every run's figures.

`--brax` instead splits the time of `brax:hopper` runs (JAX's step vs satr's
networks vs the bridge) at P 64 and 256, in the Brax environment (.venv-brax):

    .venv-brax/bin/python scripts/bench_python.py --brax [--steps 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import satr
from satr import _satr

HOPPER = {
    "population": 256,
    "generations": 2,
    "seed": 0,
    "network.neurons": 256,
    "evaluation.eval_members": 4,
}

#: (label, built-in task, Gymnasium task, overrides shared by both, Gymnasium-only overrides)
PAIRS = [
    (
        "CartPole P 1024, 10 generations",
        "cartpole",
        "gym:CartPole-v1",
        {"population": 1024, "generations": 10, "seed": 0},
        {"gym.vectorization": "vector_entry_point"},
    ),
    (
        # Training to the 500 cap: episodes grow long, and the networks' share with them.
        "CartPole P 1024, 30 generations",
        "cartpole",
        "gym:CartPole-v1",
        {"population": 1024, "generations": 30, "seed": 0},
        {"gym.vectorization": "vector_entry_point"},
    ),
    (
        "CartPole P 1024 (sync)",
        "cartpole",
        "gym:CartPole-v1",
        {"population": 1024, "generations": 10, "seed": 0},
        {"gym.vectorization": "sync"},
    ),
    (
        "Hopper P 256",
        "hopper",
        "gym:Hopper-v5",
        HOPPER,
        {},
    ),
    (
        "Hopper P 256, 2 step threads",
        "hopper",
        "gym:Hopper-v5",
        HOPPER,
        {"gym.step_threads": 2},
    ),
    (
        "Hopper P 256, per member",
        "hopper",
        "gym:Hopper-v5",
        HOPPER,
        {"evaluation.stepping": "per_member"},
    ),
]


def last_metrics(run_dir: Path) -> dict:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return json.loads(lines[-1])


def builtin_run(task: str, overrides: dict, out: Path, satr_bin: str | None) -> dict:
    """A built-in task's run: in this process for the package's tasks, else through
    the satr binary (MuJoCo)."""
    if task in satr.tasks():
        run = satr.train(task, overrides=overrides, backend="cpu", out_dir=out, progress=False)
        m = run.metrics[-1]
    else:
        name = f"{task}-{time.monotonic_ns()}"
        cmd = [satr_bin, "train", "--backend", "cpu", "--quiet"]
        for k, v in {**overrides, "task": task, "run.out_dir": str(out), "run.name": name}.items():
            cmd += ["--set", f"{k}={json.dumps(v)}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        m = last_metrics(out / name)
    return {"env_steps": m["env_steps"], "wall_s": m["wall_s"]}


def gym_run(task: str, overrides: dict, out: Path) -> dict:
    _satr.bridge_times(True)
    run = satr.train(task, overrides=overrides, backend="cpu", out_dir=out, progress=False)
    env_s, bridge_s, calls = _satr.bridge_times(True)
    m = run.metrics[-1]
    return {
        "env_steps": m["env_steps"],
        "wall_s": m["wall_s"],
        "env_s": env_s,
        "bridge_s": bridge_s,
        "calls": calls,
    }


def brax_split(args) -> int:
    """One generation of brax:hopper at each population: env-steps/s and the split."""
    print("| population | N | steps per episode | env-steps/s | JAX env / satr / bridge |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for population in (64, 256):
            shared = {
                "population": population,
                "generations": 2,
                "network.neurons": 256,
                "evaluation.eval_members": 4,
                "evaluation.max_episode_steps": args.steps,
                "brax.backend": args.backend,
                "evaluation.cost_figures": not args.no_cost_figures,
            }
            # The first generation compiles (each chunk size once): the second is timed.
            _satr.bridge_times(True)
            run = satr.train("brax:hopper", overrides=shared, backend="cpu", out_dir=tmp, progress=False)
            first, last = run.metrics[0], run.metrics[-1]
            wall = last["wall_s"] - first["wall_s"]
            steps = last["env_steps"] - first["env_steps"]
            env_s, bridge_s, _ = _satr.bridge_times(True)
            # bridge_times covers both generations: scale by the second's share of the wall.
            share = wall / last["wall_s"]
            env, bridge = env_s * share / wall, bridge_s * share / wall
            print(
                f"| {population} | 256 | {args.steps} | {steps / wall:.3g} | "
                f"{env:.0%} / {1 - env - bridge:.0%} / {bridge:.0%} |",
                flush=True,
            )
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brax", action="store_true", help="split brax:hopper runs' time instead")
    ap.add_argument("--steps", type=int, default=50, help="--brax: episode step limit")
    ap.add_argument("--backend", default="generalized", help="--brax: Brax backend")
    ap.add_argument("--no-cost-figures", action="store_true",
                    help="--brax: evaluation.cost_figures = false (no one-member replay)")
    ap.add_argument("--satr-bin", help="a satr binary with MuJoCo, for the built-in hopper")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="run the pair of this label, or else those whose label contains it")
    ap.add_argument("--json", help="write every run's figures here")
    args = ap.parse_args()
    if args.brax:
        return brax_split(args)
    rows, record = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        exact = any(p[0] == args.only for p in PAIRS)
        for label, builtin, gym_task, shared, extra in PAIRS:
            if args.only and (label != args.only if exact else args.only not in label):
                continue
            if builtin not in satr.tasks() and not args.satr_bin:
                print(f"skipped {label}: the built-in {builtin} needs --satr-bin", file=sys.stderr)
                continue
            ratios, shares = [], []
            for r in range(args.repeat):
                b = builtin_run(builtin, shared, out, args.satr_bin)
                g = gym_run(gym_task, {**shared, **extra}, out)
                b_rate = b["env_steps"] / b["wall_s"]
                g_rate = g["env_steps"] / g["wall_s"]
                env = g["env_s"] / g["wall_s"]
                bridge = g["bridge_s"] / g["wall_s"]
                ratios.append(g_rate / b_rate)
                shares.append((b_rate, g_rate, 1.0 - env - bridge, env, bridge))
                record.append({"pair": label, "repeat": r, "builtin": b, "gym": g})
                print(
                    f"{label} #{r}: built-in {b_rate:.3g} env-steps/s, Gymnasium {g_rate:.3g} "
                    f"(ratio {g_rate / b_rate:.3f}; satr {1 - env - bridge:.0%}, env {env:.0%}, "
                    f"bridge {bridge:.0%})",
                    file=sys.stderr,
                    flush=True,
                )
            med = statistics.median(ratios)
            col = lambda i: statistics.median(s[i] for s in shares)  # noqa: E731
            rows.append(
                f"| {label} | `{builtin}` | `{gym_task}` {json.dumps(extra) if extra else ''} | "
                f"{col(0):.3g} | {col(1):.3g} | **{med:.2f}** ({min(ratios):.2f}-{max(ratios):.2f}) | "
                f"{col(2):.0%} / {col(3):.0%} / {col(4):.0%} |"
            )
    print("| pair | built-in | Gymnasium | built-in env-steps/s | Gymnasium env-steps/s | ratio (median, range) | satr / env / bridge |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n({args.repeat} runs of each, in turn; {os.cpu_count()} CPUs; medians)")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
