#!/usr/bin/env python3
"""Tables of the locomotion study (issue #21), standard library only.

    scripts/locomotion_status.py SWEEP_DIR BUDGET
        Copies the finished runs of a sweep (metrics.jsonl, config.toml) into
        docs/results/locomotion/<sweep>/ and prints two Markdown tables: one row per
        run (final return = mean eval return of the last 5 generations, best, when the
        eval return first reached 1000 / 2000 / 3000, the last generation's
        diagnostics, the generations whose KL reached the budget), and one row per
        cell over its finished seeds. Works while the
        sweep runs; `satr sweep` writes its own summary.json when it ends.

    scripts/locomotion_status.py --budget-plot TUNE_DIR PNG
        Final return against the KL budget of every fixed_kl, SATR raw + adam and EC
        lr 0.3 run (the same Adam step, under a constant budget or none): matplotlib.

    scripts/locomotion_status.py --ppo SATR_CELL_DIR PPO_JSONL [PPO_JSONL ...] [--plot PNG]
        The speed claim: wall time and env steps to each return level reached, for the
        seeds of one satr cell (a directory of seed-* runs) and the PPO-LSTM runs of
        scripts/ppo_lstm.py, and the ratio of the medians (PPO / satr: "x times faster
        at matched return"). `--plot` also draws eval return against wall time and
        against env steps, every run a line (matplotlib: run it with .venv-ppo's
        Python, scripts/setup_ppo_lstm.sh).
"""

import json
import shutil
import statistics
import sys
from pathlib import Path

from small_population_report import permutation_p

THRESHOLDS = (1000, 2000, 3000)
LAST = 5
# The reference every cell is compared with: EC at its published lr, which was also
# its best of three in the tuning (docs/results/locomotion/README.md).
EC_CELL = "rule-ec-lr-0.15"


def load(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def first_at(ms, t):
    """The first record whose eval return reaches `t`, or None."""
    return next((m for m in ms if m["eval_return"] >= t), None)


def drawdown(evals, start_at):
    """satr's sweep summary's drawdown: from the first generation reaching `start_at`,
    the largest fall of the eval return below its best so far, relative to that best."""
    start = next((i for i, e in enumerate(evals) if e >= start_at), None)
    if start is None:
        return None
    best, worst = float("-inf"), 0.0
    for e in evals[start:]:
        best = max(best, e)
        worst = max(worst, (best - e) / abs(best) if best else best - e)
    return worst


def window_means(evals):
    """The mean of each generation's eval return and the LAST - 1 before it (the window
    of `final`). One eval in which the hopper falls counts fully in `drawdown` (0.82-0.99
    in every Hopper P 64 cell); the drawdown of these means separates a run that loses
    its gait from one that stumbles once."""
    return [statistics.mean(evals[max(0, i - LAST + 1):i + 1]) for i in range(len(evals))]


def final(ms):
    return sum(m["eval_return"] for m in ms[-LAST:]) / len(ms[-LAST:])


def fmt(v, spec=".3g"):
    return "-" if v is None else format(v, spec)


def binding(ms):
    """The generations whose KL reached the rule's budget (within 1%): where the trust
    region, not the direction's own step (Adam's lr, the natural step's eta_max),
    set the step. None for rules without a budget (EC)."""
    if all(m.get("kl_budget") is None for m in ms):
        return None
    return [m["generation"] for m in ms
            if m.get("kl_budget") is not None and m["kl"] >= 0.99 * m["kl_budget"]]


def fmt_binding(gens):
    if gens is None:
        return "-"
    return f"{len(gens)}" + (f" (last g{gens[-1]})" if gens else "")


def median(xs):
    return statistics.median(xs) if xs else None


def run_rows(sweep, budget):
    """Copies the finished runs and prints one row each; returns {cell: [metrics]}."""
    dest = Path("docs/results/locomotion") / sweep.name
    cells = {}
    print("| cell | seed | env steps | final return | best | 1000 at | 2000 at | 3000 at | entropy | clip fraction | kl | budget binds: generations |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for run in sorted(sweep.glob("*/seed-*")):
        ms = load(run / "metrics.jsonl") if (run / "metrics.jsonl").exists() else []
        if not ms or ms[-1]["env_steps"] < budget:
            continue
        out = dest / run.parent.name / run.name
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "metrics.jsonl", out / "metrics.jsonl")
        shutil.copy(run / "config.toml", out / "config.toml")
        cells.setdefault(run.parent.name, []).append(ms)

        def hit(t):
            m = first_at(ms, t)
            return f"g{m['generation']}, {m['env_steps'] / 1e6:.2f} M" if m else "-"

        print(
            f"| {run.parent.name} | {run.name[5:]} | {ms[-1]['env_steps']:,} | {final(ms):.0f} | "
            f"{max(m['eval_return'] for m in ms):.0f} | {hit(1000)} | {hit(2000)} | {hit(3000)} | "
            f"{fmt(ms[-1].get('entropy'))} | {fmt(ms[-1].get('clip_fraction'))} | {fmt(ms[-1].get('kl'))} | "
            f"{fmt_binding(binding(ms))} of {len(ms)} |"
        )
    return cells


def cell_rows(cells):
    """One row per cell: final return over seeds, success and median time to each
    threshold among the seeds that reached it, worst drawdown after first reaching
    1000, the last generation's diagnostics averaged over seeds, and the difference of
    mean final return against EC_CELL with an exact two-sided permutation test (with
    3 seeds a cell the smallest possible p is 0.1)."""
    ec = [final(ms) for ms in cells.get(EC_CELL, [])]
    print()
    print(
        "| cell | seeds | final return mean ± std (min) | "
        + " | ".join(f"{t}: reached, median gen / M steps / wall s" for t in THRESHOLDS)
        + f" | worst drawdown after 1000 | drawdown of the {LAST}-generation mean: median (worst)"
        + " | entropy | clip fraction | kl | kl budget | budget binds: median generations"
        + f" | vs {EC_CELL[5:]}: difference (p) |"
    )
    print("|---|---|---|" + "---|" * len(THRESHOLDS) + "---|---|---|---|---|---|---|---|")
    for cell, runs in sorted(cells.items()):
        finals = [final(ms) for ms in runs]
        std = statistics.stdev(finals) if len(finals) > 1 else None
        parts = []
        for t in THRESHOLDS:
            hits = [m for m in (first_at(ms, t) for ms in runs) if m]
            if hits:
                parts.append(
                    f"{len(hits)}/{len(runs)}, g{median([m['generation'] for m in hits]):.0f} / "
                    f"{median([m['env_steps'] for m in hits]) / 1e6:.2f} / "
                    f"{median([m['wall_s'] for m in hits]):.0f}"
                )
            else:
                parts.append(f"0/{len(runs)}")
        evals = [[m["eval_return"] for m in ms] for ms in runs]
        downs = [d for d in (drawdown(e, 1000) for e in evals) if d is not None]
        smooth = [d for d in (drawdown(window_means(e), 1000) for e in evals) if d is not None]
        binds = [b for b in (binding(ms) for ms in runs) if b is not None]

        p = None if cell == EC_CELL else permutation_p(finals, ec)
        vs = "-" if p is None else f"{statistics.mean(finals) - statistics.mean(ec):+.0f} ({p:.2g})"

        def end(key):
            vals = [ms[-1][key] for ms in runs if ms[-1].get(key) is not None]
            return statistics.mean(vals) if vals else None

        print(
            f"| {cell} | {len(runs)} | {statistics.mean(finals):.0f} ± {fmt(std, '.0f')} "
            f"({min(finals):.0f}) | " + " | ".join(parts) + f" | {fmt(max(downs) if downs else None, '.2f')} | "
            f"{fmt(median(smooth), '.2f')} ({fmt(max(smooth) if smooth else None, '.2f')}) | "
            f"{fmt(end('entropy'))} | {fmt(end('clip_fraction'))} | {fmt(end('kl'))} | "
            f"{fmt(end('kl_budget'))} | {fmt(median([len(b) for b in binds]) if binds else None, '.0f')} | {vs} |"
        )


def ppo_rows(cell_dir, ppo_files):
    satr = [load(r / "metrics.jsonl") for r in sorted(Path(cell_dir).glob("seed-*"))]
    ppo = [load(f) for f in ppo_files]
    top = min(max(max(m["eval_return"] for m in ms) for ms in satr),
              max(max(m["eval_return"] for m in ms) for ms in ppo))
    levels = [r for r in range(500, int(top) + 1, 500)]
    print(f"satr: {cell_dir} ({len(satr)} seeds); PPO-LSTM: {len(ppo)} runs")
    print()
    print("| eval return | satr: reached, median wall s / M steps | PPO-LSTM: reached, median wall s / M steps | wall-time ratio PPO / satr |")
    print("|---|---|---|---|")
    for level in levels:
        row = []
        walls = []
        for runs in (satr, ppo):
            hits = [m for m in (first_at(ms, level) for ms in runs) if m]
            w = median([m["wall_s"] for m in hits])
            walls.append(w)
            row.append(
                f"{len(hits)}/{len(runs)}"
                + (f", {w:.0f} / {median([m['env_steps'] for m in hits]) / 1e6:.2f}" if hits else "")
            )
        ratio = walls[1] / walls[0] if None not in walls and walls[0] > 0 else None
        print(f"| {level} | {row[0]} | {row[1]} | {fmt(ratio, '.2f')} |")


def ppo_plot(cell_dir, ppo_files, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [(f"satr {Path(cell_dir).name} {r.name}", "tab:blue", load(r / "metrics.jsonl"))
            for r in sorted(Path(cell_dir).glob("seed-*"))]
    runs += [(f"PPO-LSTM {Path(f).stem}", "tab:red", load(f)) for f in ppo_files]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for ax, key, label, scale in ((axes[0], "wall_s", "wall time (h)", 3600.0),
                                  (axes[1], "env_steps", "env steps (M)", 1e6)):
        for name, colour, ms in runs:
            ax.plot([m[key] / scale for m in ms], [m["eval_return"] for m in ms],
                    color=colour, alpha=0.8, linewidth=1, label=name)
        ax.set_xlabel(label)
        ax.set_ylabel("eval return")
        ax.grid(alpha=0.3)
    axes[1].set_xscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle("Hopper-v5: satr against PPO-LSTM on the same 2-core machine")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def budget_plot(sweep_dir, png):
    """Final return against the KL budget for the rules that take the preset's Adam step
    (lr 0.3) under a constant budget: fixed_kl (its fixed_delta), SATR raw + adam (its
    budget, epsilon times a signal that stayed at the rank-noise floor: the run's
    median), and EC at lr 0.3, the same step with no budget, drawn at the right."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {"fixed_kl": [], "satr-raw-adam": [], "ec lr 0.3 (no budget)": []}
    for run in sorted(Path(sweep_dir).glob("rule-*/seed-*")):
        ms = load(run / "metrics.jsonl")
        cell = run.parent.name
        budgets = [m["kl_budget"] for m in ms if m.get("kl_budget") is not None]
        if cell.startswith("rule-fixed-kl-"):
            groups["fixed_kl"].append((statistics.median(budgets), final(ms)))
        elif cell.startswith("rule-satr-raw-adam-epsilon-"):
            groups["satr-raw-adam"].append((statistics.median(budgets), final(ms)))
        elif cell == "rule-ec-lr-0.3":
            groups["ec lr 0.3 (no budget)"].append((None, final(ms)))
    finite = [b for g in groups.values() for b, _ in g if b is not None]
    right = max(finite) * 4
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (name, pts), marker in zip(groups.items(), "os^"):
        xs = [right if b is None else b for b, _ in pts]
        ax.scatter(xs, [f for _, f in pts], marker=marker, label=name, alpha=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("KL budget per generation (nats; EC at the right: none)")
    ax.set_ylabel("final eval return (last 5 generations)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("Hopper-v5 P 64, 8 M steps: one Adam step under a constant KL budget")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"wrote {png}")


def main():
    args = sys.argv[1:]
    png = None
    if "--plot" in args:
        i = args.index("--plot")
        png = args[i + 1]
        del args[i:i + 2]
    if args[:1] == ["--budget-plot"] and len(args) == 3:
        budget_plot(args[1], args[2])
    elif args[:1] == ["--ppo"] and len(args) >= 3:
        ppo_rows(args[1], args[2:])
        if png:
            ppo_plot(args[1], args[2:], png)
    elif len(args) == 2:
        cell_rows(run_rows(Path(args[0]), int(args[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
