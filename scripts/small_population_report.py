#!/usr/bin/env python3
"""Tables of the small-population study (issue #10) from its sweep directories.

    scripts/small_population_report.py STUDY_DIR OUT_DIR [SATR_BINARY]

STUDY_DIR holds the sweep directories `<task>-tune` and `<task>-p<P>` that
`satr sweep configs/sweeps/small-population/<file>.toml` wrote. Writes into OUT_DIR:
`tables.md` (per task: the tuning and, per population, every rule's final eval return
over seeds, its success rate and worst drawdown, each compared with the best-tuned
EC by an exact two-sided permutation test on the seeds' final returns), each sweep's
`summary.md`/`summary.csv`/`summary.json` under `<sweep>/`, and, given the binary,
learning curves (`<task>-p<P>.png`) and diagnostics (`<task>-p16-diagnostics.png`)
drawn with `satr plot`. Standard library only.
"""

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

TASKS = ["acrobot", "cartpole-pos", "pendulum", "hopper"]
POPULATIONS = [16, 32, 64, 256]
ALPHA = 0.05


def finals(sweep_dir, cell):
    """Each complete seed's final return (the mean of its last last_k eval returns)."""
    summary = json.loads((sweep_dir / "summary.json").read_text())
    k = summary["last_k"]
    out = []
    for r in summary["runs"]:
        if r["cell"] != cell or r["status"] not in ("finished", "skipped"):
            continue
        run = sweep_dir / Path(r["dir"]).parent.name / Path(r["dir"]).name
        evals = [json.loads(line).get("eval_return") for line in
                 (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        evals = [e for e in evals if e is not None][-k:]
        if evals:
            out.append(sum(evals) / len(evals))
    return out


def permutation_p(a, b):
    """Exact two-sided permutation test of the difference of means."""
    if len(a) < 2 or len(b) < 2:
        return None
    pooled = a + b
    observed = abs(sum(a) / len(a) - sum(b) / len(b))
    count = total = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        xa = [pooled[i] for i in idx]
        xb = [pooled[i] for i in range(len(pooled)) if i not in idx]
        total += 1
        if abs(sum(xa) / len(xa) - sum(xb) / len(xb)) >= observed - 1e-12:
            count += 1
    return count / total


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def table(sweep_dir, ec_cell=None):
    summary = json.loads((sweep_dir / "summary.json").read_text())
    cells = summary["cells"]
    if ec_cell is None:
        ecs = [c for c in cells if c["cell"].startswith("rule=ec") and c["final_return"]]
        ec_cell = max(ecs, key=lambda c: c["final_return"]["mean"])["cell"] if ecs else None
    ec = finals(sweep_dir, ec_cell) if ec_cell else []
    rows = ["| rule (setting) | seeds | final return (mean ± std) | success | worst drawdown | mean KL | vs best EC (p) |",
            "|---|---|---|---|---|---|---|"]
    for c in cells:
        f = c["final_return"]
        mine = finals(sweep_dir, c["cell"])
        p = None if c["cell"] == ec_cell else permutation_p(mine, ec)
        mark = ""
        if p is not None and p < ALPHA and f:
            ec_mean = sum(ec) / len(ec)
            mark = " better" if f["mean"] > ec_mean else " worse"
        rows.append("| {} | {}/{} | {} ± {} | {} | {} | {} | {}{} |".format(
            c["cell"].removeprefix("rule="), c["complete"], c["seeds"],
            fmt(f and f["mean"]), fmt(f and f["std"]), fmt(c["success_rate"], 2),
            fmt(c["worst_drawdown"], 2), fmt(c["kl_mean"]),
            "(best EC)" if c["cell"] == ec_cell else fmt(p, 3), mark))
    return "\n".join(rows), summary


def rule_name(cell):
    """`rule=satr-raw-adam epsilon=45` -> (`satr-raw-adam`, `epsilon=45`)."""
    name = cell.removeprefix("rule=")
    rule, _, setting = name.partition(" ")
    return rule, setting


def compact(study, task):
    """One row per rule, one column per population: mean ± std, success, and the
    permutation test against that population's best-tuned EC."""
    pops = [p for p in POPULATIONS if (study / f"{task}-p{p}" / "summary.json").exists()]
    if not pops:
        return []
    rows, order = {}, []
    for pop in pops:
        d = study / f"{task}-p{pop}"
        summary = json.loads((d / "summary.json").read_text())
        ecs = [c for c in summary["cells"] if c["cell"].startswith("rule=ec") and c["final_return"]]
        ec_cell = max(ecs, key=lambda c: c["final_return"]["mean"])["cell"]
        ec = finals(d, ec_cell)
        for c in summary["cells"]:
            rule, setting = rule_name(c["cell"])
            if rule not in rows:
                rows[rule] = {"setting": setting}
                order.append(rule)
            f = c["final_return"]
            if not f:
                rows[rule][pop] = "-"
                continue
            cell = f"{f['mean']:.1f} ± {fmt(f['std'])}"
            if c["success_rate"] is not None:
                cell += f" ({c['success_rate']:.0%})"
            if c["cell"] != ec_cell:
                p = permutation_p(finals(d, c["cell"]), ec)
                if p is not None and p < ALPHA:
                    ec_mean = sum(ec) / len(ec)
                    cell = ("**" + cell + "** ▲") if f["mean"] > ec_mean else (cell + " ▼")
            rows[rule][pop] = cell
    head = "| rule (tuned setting) | " + " | ".join(f"P {p}" for p in pops) + " |"
    lines = [head, "|---|" + "---|" * len(pops)]
    for rule in order:
        r = rows[rule]
        lines.append(f"| {rule} ({r['setting']}) | " + " | ".join(r.get(p, "-") for p in pops) + " |")
    return lines


def diagnostics(study, task):
    """Per rule at P 16 and P 32: the update's figures averaged over every generation
    of every seed."""
    lines = ["| P | rule | rho (mean) | S / E_tot (mean) | generations with S / E_tot > 1% | S = 0 | mean KL | clip fraction at the end | entropy at the end |",
             "|---|---|---|---|---|---|---|---|---|"]
    for pop in (16, 32):
        d = study / f"{task}-p{pop}"
        if not (d / "summary.json").exists():
            continue
        for cell in sorted(p.name for p in d.iterdir() if p.is_dir()):
            rho, share, kl, zero = [], [], [], []
            clip_end, ent_end = [], []
            for seed in sorted((d / cell).iterdir()):
                ms = [json.loads(l) for l in (seed / "metrics.jsonl").read_text().splitlines() if l.strip()]
                if not ms:
                    continue
                for m in ms:
                    rho.append(m["snr"] or 0.0)
                    kl.append(m["kl"])
                    if m["signal_energy"] is not None and m["total_energy"]:
                        share.append(m["signal_energy"] / m["total_energy"])
                        zero.append(m["signal_energy"] == 0.0)
                clip_end.append(ms[-1]["clip_fraction"])
                ent_end.append(ms[-1]["entropy"])
            mean = lambda xs: sum(xs) / len(xs) if xs else None
            big = mean([x > 0.01 for x in share]) if share else None
            lines.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                pop, cell.removeprefix("rule-"), fmt(mean(rho), 4), fmt(mean(share), 4),
                "-" if big is None else f"{big:.0%}",
                "-" if not zero else f"{mean(zero):.0%}", fmt(mean(kl)),
                fmt(mean(clip_end), 2), fmt(mean(ent_end), 3)))
    return lines


def headline(study):
    """Per task and population: the default SATR (`satr-raw-adam`) against the best EC."""
    lines = ["| task | " + " | ".join(f"P {p}" for p in POPULATIONS) + " |",
             "|---|" + "---|" * len(POPULATIONS)]
    for task in TASKS:
        cells = []
        for pop in POPULATIONS:
            d = study / f"{task}-p{pop}"
            if not (d / "summary.json").exists():
                cells.append("not run")
                continue
            summary = json.loads((d / "summary.json").read_text())
            ecs = [c for c in summary["cells"] if c["cell"].startswith("rule=ec") and c["final_return"]]
            ec = max(ecs, key=lambda c: c["final_return"]["mean"])
            sat = [c for c in summary["cells"] if c["cell"].startswith("rule=satr-raw-adam")][0]
            a, b = finals(d, sat["cell"]), finals(d, ec["cell"])
            p = permutation_p(a, b)
            mark = ""
            if p is not None and p < ALPHA:
                mark = " ▲" if sum(a) / len(a) > sum(b) / len(b) else " ▼"
            f, g = sat["final_return"], ec["final_return"]
            cells.append(f"SATR {f['mean']:.1f} ± {fmt(f['std'])}{mark}<br>EC {g['mean']:.1f} ± {fmt(g['std'])}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return lines


def main(study, out, binary=None):
    study, out = Path(study), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Small-population study: tables", "",
             "Generated by `scripts/small_population_report.py` from the sweeps of "
             "`configs/sweeps/small-population/`. Final return = mean eval return of the "
             "last 5 generations of each seed; `vs best EC` = exact two-sided permutation "
             f"test of the seeds' final returns against the best-tuned EC cell (marked "
             f"better/worse at p < {ALPHA}).", ""]
    for task in TASKS:
        tune = study / f"{task}-tune"
        if not (tune / "summary.json").exists():
            continue
        lines += [f"## {task}", "", "### Tuning (P 32, 3 seeds)", ""]
        t, _ = table(tune)
        lines += [t, ""]
        for pop in POPULATIONS:
            d = study / f"{task}-p{pop}"
            if not (d / "summary.json").exists():
                continue
            t, _ = table(d)
            lines += [f"### P {pop} (5 seeds)", "", t, ""]
    for d in sorted(study.iterdir()):
        if (d / "summary.json").exists():
            dest = out / d.name
            dest.mkdir(exist_ok=True)
            for f in ("summary.md", "summary.csv", "summary.json"):
                shutil.copy(d / f, dest / f)
            if binary and not d.name.endswith("-tune"):
                subprocess.run([binary, "plot", str(d), "--x", "env-steps", "-o",
                                str(out / f"{d.name}.png"), "--width", "900",
                                "--height", "520"], check=True)
                if d.name.endswith("-p16"):
                    subprocess.run([binary, "plot", str(d), "--diagnostics", "--band",
                                    "none", "-o", str(out / f"{d.name}-diagnostics.png")],
                                   check=True)
    (out / "tables.md").write_text("\n".join(lines) + "\n")
    short = ["Final eval return (mean ± std over 5 seeds; success rate against the task's "
             "target in brackets). ▲ / ▼: better / worse than the best-tuned EC at that "
             f"population by an exact permutation test, p < {ALPHA} (not corrected for the "
             "many comparisons); bold: better.", ""]
    for task in TASKS:
        c = compact(study, task)
        if c:
            short += [f"### {task}", ""] + c + [""]
    (out / "compact.md").write_text("\n".join(short) + "\n")
    diag = ["Averages over every generation of every seed (`rho` = max(0, S_u) / E_tot, SPEC "
            "4.1; `S / E_tot` = the signal the rule's budget used, as a share of the "
            "gradient's energy, 1 for `raw`; `S = 0`: the budget of an energy-scaled rule "
            "collapsed to zero).", ""]
    for task in TASKS:
        if (study / f"{task}-p16" / "summary.json").exists():
            diag += [f"### {task}", ""] + diagnostics(study, task) + [""]
    (out / "diagnostics.md").write_text("\n".join(diag) + "\n")
    (out / "headline.md").write_text("\n".join(headline(study)) + "\n")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(*sys.argv[1:])
