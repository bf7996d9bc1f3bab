#!/usr/bin/env python3
"""Copies the finished runs of a locomotion sweep (metrics.jsonl, config.toml) into
docs/results/locomotion/<sweep>/ and prints a Markdown table of them: final return
(mean eval return of the last 5 generations), best, when the eval return first reached
1000 / 2000 / 3000 (generation, env steps), and the last generation's diagnostics.
For sweeps still running; `satr sweep` writes the full summary when a sweep ends.

    scripts/locomotion_status.py sweeps/locomotion/hopper-tune 8000000
"""

import json
import shutil
import sys
from pathlib import Path


def main():
    sweep, budget = Path(sys.argv[1]), int(sys.argv[2])
    dest = Path("docs/results/locomotion") / sweep.name
    print("| cell | seed | env steps | final return | best | 1000 at | 2000 at | 3000 at | entropy | clip fraction | kl |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(sweep.glob("*/seed-*")):
        lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").exists() else []
        ms = [json.loads(line) for line in lines]
        if not ms or ms[-1]["env_steps"] < budget:
            continue
        out = dest / run.parent.name / run.name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")
        shutil.copy(run / "config.toml", out / "config.toml")
        last = ms[-5:]

        def hit(t):
            m = next((m for m in ms if m["eval_return"] >= t), None)
            return f"g{m['generation']}, {m['env_steps'] / 1e6:.2f} M" if m else "-"

        fmt = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
        print(
            f"| {run.parent.name} | {run.name[5:]} | {ms[-1]['env_steps']:,} | "
            f"{sum(m['eval_return'] for m in last) / len(last):.0f} | "
            f"{max(m['eval_return'] for m in ms):.0f} | {hit(1000)} | {hit(2000)} | {hit(3000)} | "
            f"{fmt(ms[-1].get('entropy'))} | {fmt(ms[-1].get('clip_fraction'))} | {fmt(ms[-1].get('kl'))} |"
        )


if __name__ == "__main__":
    main()
