#!/usr/bin/env python3
"""Run SATR's variants and the baselines side by side on one task, several seeds,
and print a markdown table: generations until the eval return first reaches the
target, and the final eval return (mean of the last 5 generations).

Example (the README's results):
  cargo build --release
  scripts/compare_rules.py --config configs/cartpole.toml --target 475 --seeds 0 1 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

RULES = {
    # name: --set overrides on top of the preset
    "satr raw+adam": ["optimizer.rule=\"satr\"", "optimizer.signal=\"raw\"", "optimizer.direction=\"adam\""],
    "satr unbiased+natural": [
        "optimizer.rule=\"satr\"", "optimizer.signal=\"unbiased\"", "optimizer.direction=\"natural\"",
        "optimizer.epsilon=2000.0", "optimizer.beta_s=0.9",
    ],
    "ec": ["optimizer.rule=\"ec\"", "optimizer.lr=0.15"],
    "fixed_kl": ["optimizer.rule=\"fixed_kl\"", "optimizer.direction=\"adam\""],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--target", type=float, required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--generations", type=int)
    ap.add_argument("--fixed-delta", type=float, default=5.0, help="KL budget of fixed_kl")
    ap.add_argument("--set", action="append", default=[], help="extra overrides for every run")
    ap.add_argument("--rules", nargs="+", default=list(RULES))
    ap.add_argument("--bin", default="target/release/satr")
    ap.add_argument("--out", default="runs/compare")
    args = ap.parse_args()

    rows = []
    for rule in args.rules:
        results = []
        for seed in args.seeds:
            name = f"{rule.replace(' ', '_').replace('+', '_')}-s{seed}"
            sets = RULES[rule] + args.set + [f"seed={seed}", f"run.out_dir=\"{args.out}\"", f"run.name=\"{name}\""]
            if rule == "fixed_kl":
                sets.append(f"optimizer.fixed_delta={args.fixed_delta}")
            if args.generations:
                sets.append(f"generations={args.generations}")
            run_dir = os.path.join(args.out, name)
            if not os.path.exists(os.path.join(run_dir, "checkpoints", "latest.ckpt")):
                cmd = [args.bin, "train", "--quiet", "--config", args.config]
                for s in sets:
                    cmd += ["--set", s]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            ms = [json.loads(l) for l in open(os.path.join(run_dir, "metrics.jsonl"))]
            solved = next((m["generation"] for m in ms if m["eval_return"] is not None and m["eval_return"] >= args.target), None)
            final = statistics.mean(m["eval_return"] for m in ms[-5:])
            results.append((seed, solved, final, ms[-1]["wall_s"]))
            print(f"{rule} seed {seed}: solved at {solved}, final {final:.1f}, {ms[-1]['wall_s']:.0f} s", file=sys.stderr)
        rows.append((rule, results))

    print(f"| rule | solved (gen, per seed) | final eval return (per seed) | mean final | mean wall s |")
    print("|---|---|---|---|---|")
    for rule, results in rows:
        solved = ", ".join("-" if s is None else str(s) for _, s, _, _ in results)
        finals = ", ".join(f"{f:.1f}" for _, _, f, _ in results)
        mean = statistics.mean(f for _, _, f, _ in results)
        wall = statistics.mean(w for _, _, _, w in results)
        print(f"| {rule} | {solved} | {finals} | {mean:.1f} | {wall:.0f} |")


if __name__ == "__main__":
    main()
