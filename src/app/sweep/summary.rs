//! Per-cell statistics over seeds and the three summary files (`summary.csv`,
//! `summary.json`, `summary.md`), computed from the runs' typed metrics records.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::SweepError;
use crate::app::metrics::Metrics;

/// Mean, sample standard deviation and the 95% Student-t interval of the mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stat {
    pub n: usize,
    pub mean: f64,
    /// `None` below two values.
    pub std: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
}

impl Stat {
    /// `None` for no values.
    pub fn of(xs: &[f64]) -> Option<Stat> {
        let n = xs.len();
        if n == 0 {
            return None;
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let (mut std, mut lo, mut hi) = (None, None, None);
        if n >= 2 {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let s = var.sqrt();
            let half = t_quantile_975(n - 1) * s / (n as f64).sqrt();
            (std, lo, hi) = (Some(s), Some(mean - half), Some(mean + half));
        }
        Some(Stat {
            n,
            mean,
            std,
            ci95_low: lo,
            ci95_high: hi,
        })
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t_quantile_975(df: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, df as f64)
        .expect("df >= 1")
        .inverse_cdf(0.975)
}

/// The mean of the last `k` eval returns of a run (fewer if it has fewer).
pub fn final_return(ms: &[Metrics], k: usize) -> Option<f64> {
    let evals: Vec<f64> = ms.iter().filter_map(|m| m.eval_return).collect();
    let last = &evals[evals.len().saturating_sub(k)..];
    (!last.is_empty()).then(|| last.iter().sum::<f64>() / last.len() as f64)
}

/// The generations of a run done within `budget` cumulative env steps (all of them
/// without a budget).
pub fn within_budget(mut ms: Vec<Metrics>, budget: Option<u64>) -> Vec<Metrics> {
    if let Some(b) = budget {
        ms.retain(|m| m.env_steps <= b);
    }
    ms
}

/// The first record whose eval return reaches `target`.
pub fn first_reaching(ms: &[Metrics], target: f64) -> Option<&Metrics> {
    ms.iter()
        .find(|m| m.eval_return.is_some_and(|e| e >= target))
}

/// The worst drawdown of a series of eval returns `e_0, e_1, ...` from index `start`:
/// with `B_t = max(e_start..=e_t)` the best so far, the largest `(B_t - e_t) / |B_t|`
/// over `t >= start` (the fall `B_t - e_t` itself where `B_t = 0`). 0 when the
/// series never falls; `None` when `start` is past its end.
pub fn drawdown(evals: &[f64], start: usize) -> Option<f64> {
    let tail = evals.get(start..).filter(|t| !t.is_empty())?;
    let mut best = f64::NEG_INFINITY;
    let mut worst = 0.0f64;
    for &e in tail {
        best = best.max(e);
        let fall = best - e;
        let rel = if best == 0.0 { fall } else { fall / best.abs() };
        worst = worst.max(rel);
    }
    Some(worst)
}

/// A run's drawdown as the summary reports it: from the first generation reaching
/// `target`, or without a target from the (first) best eval return. `None` for a run
/// that never reached the target or has no eval returns.
pub fn run_drawdown(ms: &[Metrics], target: Option<f64>) -> Option<f64> {
    let evals: Vec<f64> = ms.iter().filter_map(|m| m.eval_return).collect();
    let start = match target {
        Some(t) => evals.iter().position(|&e| e >= t)?,
        None => {
            let best = evals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            evals.iter().position(|&e| e == best)?
        }
    };
    drawdown(&evals, start)
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// One cell's row of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSummary {
    pub cell: String,
    /// The cell's axis values (strings without quotes).
    pub values: Vec<(String, String)>,
    pub seeds: usize,
    /// Runs with all their generations (or the target) done.
    pub complete: usize,
    pub failed: usize,
    /// Why the cell's config is invalid (then nothing ran).
    pub invalid: Option<String>,
    /// The final eval return (mean of the last k generations) over complete runs.
    pub final_return: Option<Stat>,
    /// Share of complete runs that reached the target (`None` without a target).
    pub success_rate: Option<f64>,
    /// Means over the runs that reached the target: generations (counting the one that
    /// reached it), env steps and wall seconds up to and including it.
    pub generations_to_target: Option<f64>,
    pub env_steps_to_target: Option<f64>,
    pub wall_s_to_target: Option<f64>,
    /// The worst [`run_drawdown`] over the complete runs.
    pub worst_drawdown: Option<f64>,
    /// Means over generations, then over runs.
    pub kl_mean: Option<f64>,
    pub entropy_mean: Option<f64>,
}

impl CellSummary {
    /// The row of a cell whose complete runs recorded `runs`.
    pub fn new(
        cell: String,
        values: Vec<(String, String)>,
        seeds: usize,
        failed: usize,
        runs: &[Vec<Metrics>],
        target: Option<f64>,
        last_k: usize,
    ) -> Self {
        let finals: Vec<f64> = runs
            .iter()
            .filter_map(|r| final_return(r, last_k))
            .collect();
        let hits: Vec<&Metrics> = match target {
            Some(t) => runs.iter().filter_map(|r| first_reaching(r, t)).collect(),
            None => Vec::new(),
        };
        let per_run = |f: fn(&Metrics) -> f64| -> Vec<f64> {
            runs.iter()
                .filter_map(|r| mean(&r.iter().map(f).collect::<Vec<_>>()))
                .collect()
        };
        CellSummary {
            cell,
            values,
            seeds,
            complete: runs.len(),
            failed,
            invalid: None,
            final_return: Stat::of(&finals),
            success_rate: target
                .filter(|_| !runs.is_empty())
                .map(|_| hits.len() as f64 / runs.len() as f64),
            generations_to_target: mean(
                &hits
                    .iter()
                    .map(|m| m.generation as f64 + 1.0)
                    .collect::<Vec<_>>(),
            ),
            env_steps_to_target: mean(&hits.iter().map(|m| m.env_steps as f64).collect::<Vec<_>>()),
            wall_s_to_target: mean(&hits.iter().map(|m| m.wall_s).collect::<Vec<_>>()),
            worst_drawdown: runs
                .iter()
                .filter_map(|r| run_drawdown(r, target))
                .reduce(f64::max),
            kl_mean: mean(&per_run(|m| m.update.kl)),
            entropy_mean: mean(&per_run(|m| m.update.entropy)),
        }
    }

    /// The row of an invalid cell.
    pub fn invalid(cell: String, values: Vec<(String, String)>, seeds: usize, why: String) -> Self {
        let mut s = CellSummary::new(cell, values, seeds, 0, &[], None, 1);
        s.invalid = Some(why);
        s
    }
}

/// What happened to one run in this invocation of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Ran to its end now.
    Finished,
    /// Finished before: not run again.
    Skipped,
    /// Stopped by a signal, with a checkpoint.
    Interrupted,
    /// An error (recorded); the sweep went on.
    Failed,
    /// The sweep was stopped before it started.
    NotStarted,
    /// Its cell's config does not validate.
    Invalid,
}

impl RunStatus {
    /// Whether the run's metrics are complete (it counts in the summary).
    pub fn complete(self) -> bool {
        matches!(self, RunStatus::Finished | RunStatus::Skipped)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = serde_json::to_value(self).expect("status serialises");
        f.write_str(v.as_str().expect("a unit variant"))
    }
}

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    pub cell: String,
    pub seed: u64,
    pub dir: String,
    pub status: RunStatus,
    pub error: Option<String>,
}

/// The whole summary, as `summary.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub base: Option<String>,
    pub axes: Vec<String>,
    pub seeds: Vec<u64>,
    pub target_return: Option<f64>,
    pub last_k: usize,
    /// Runs were scored up to this many env steps.
    pub env_steps_budget: Option<u64>,
    pub cells: Vec<CellSummary>,
    pub runs: Vec<RunRecord>,
}

fn opt(x: Option<f64>) -> String {
    x.map(|x| format!("{x}")).unwrap_or_default()
}

fn short(x: Option<f64>) -> String {
    x.map(|x| format!("{x:.4}")).unwrap_or_else(|| "-".into())
}

impl Summary {
    /// Writes `summary.csv`, `summary.json` and `summary.md` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e: std::io::Error| SweepError::Io { path: p, error: e }
        };
        let json = dir.join("summary.json");
        let text = serde_json::to_string_pretty(self).expect("summary serialises");
        std::fs::write(&json, text + "\n").map_err(io(&json))?;
        let csv_path = dir.join("summary.csv");
        std::fs::write(&csv_path, self.csv()).map_err(io(&csv_path))?;
        let md = dir.join("summary.md");
        std::fs::write(&md, self.markdown()).map_err(io(&md))?;
        Ok(())
    }

    const COLUMNS: [&'static str; 16] = [
        "seeds",
        "complete",
        "failed",
        "final_mean",
        "final_std",
        "ci95_low",
        "ci95_high",
        "success_rate",
        "generations_to_target",
        "env_steps_to_target",
        "wall_s_to_target",
        "worst_drawdown",
        "kl_mean",
        "entropy_mean",
        "invalid",
        "cell",
    ];

    /// One row per cell: the axis values, then [`Self::COLUMNS`]; empty = none.
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let header: Vec<&str> = self
            .axes
            .iter()
            .map(String::as_str)
            .chain(Self::COLUMNS)
            .collect();
        w.write_record(&header).expect("csv in memory");
        for c in &self.cells {
            let f = c.final_return.as_ref();
            let mut row: Vec<String> = c.values.iter().map(|(_, v)| v.clone()).collect();
            row.extend([
                c.seeds.to_string(),
                c.complete.to_string(),
                c.failed.to_string(),
                opt(f.map(|s| s.mean)),
                opt(f.and_then(|s| s.std)),
                opt(f.and_then(|s| s.ci95_low)),
                opt(f.and_then(|s| s.ci95_high)),
                opt(c.success_rate),
                opt(c.generations_to_target),
                opt(c.env_steps_to_target),
                opt(c.wall_s_to_target),
                opt(c.worst_drawdown),
                opt(c.kl_mean),
                opt(c.entropy_mean),
                c.invalid.clone().unwrap_or_default(),
                c.cell.clone(),
            ]);
            w.write_record(&row).expect("csv in memory");
        }
        String::from_utf8(w.into_inner().expect("csv in memory")).expect("utf-8")
    }

    /// A table for reading.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# Sweep summary\n\n");
        let _ = writeln!(
            s,
            "Base: {}; seeds {:?}; final return = mean eval return of the last {} generations; target {}.\n",
            self.base.as_deref().unwrap_or("(built-in default)"),
            self.seeds,
            self.last_k,
            self.target_return.map_or("none".into(), |t| t.to_string()),
        );
        if let Some(b) = self.env_steps_budget {
            let _ = writeln!(
                s,
                "Each run scored on its generations within {b} env steps.\n"
            );
        }
        s.push_str("| cell | runs | final return (mean ± std) | 95% CI | success | gens to target | env steps to target | worst drawdown | KL | entropy |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
        for c in &self.cells {
            if let Some(why) = &c.invalid {
                let _ = writeln!(
                    s,
                    "| {} | invalid: {} | | | | | | | | |",
                    c.cell,
                    why.replace('|', "/")
                );
                continue;
            }
            let f = c.final_return.as_ref();
            let _ = writeln!(
                s,
                "| {} | {}/{}{} | {} ± {} | [{}, {}] | {} | {} | {} | {} | {} | {} |",
                c.cell,
                c.complete,
                c.seeds,
                if c.failed > 0 {
                    format!(" ({} failed)", c.failed)
                } else {
                    String::new()
                },
                short(f.map(|s| s.mean)),
                short(f.and_then(|s| s.std)),
                short(f.and_then(|s| s.ci95_low)),
                short(f.and_then(|s| s.ci95_high)),
                short(c.success_rate),
                short(c.generations_to_target),
                c.env_steps_to_target
                    .map_or("-".into(), |x| format!("{x:.0}")),
                short(c.worst_drawdown),
                short(c.kl_mean),
                short(c.entropy_mean),
            );
        }
        let problems: Vec<&RunRecord> = self
            .runs
            .iter()
            .filter(|r| r.error.is_some() && r.status != RunStatus::Invalid)
            .collect();
        if !problems.is_empty() {
            s.push_str("\n## Runs with errors\n\n");
            for r in problems {
                let _ = writeln!(
                    s,
                    "- {} seed {} ({}): {}",
                    r.cell,
                    r.seed,
                    r.status,
                    r.error.as_deref().unwrap_or("")
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optimizer::UpdateStats;

    #[test]
    fn the_t_interval_matches_the_table() {
        // t(0.975; 4) = 2.776445 (any table); mean 3, s = sqrt(2.5).
        let s = Stat::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!(s.mean, 3.0);
        assert!((s.std.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        let half = 2.776445 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((s.ci95_high.unwrap() - (3.0 + half)).abs() < 1e-5);
        assert!((s.ci95_low.unwrap() - (3.0 - half)).abs() < 1e-5);
        assert!((t_quantile_975(1) - 12.706205).abs() < 1e-5);
        let one = Stat::of(&[7.0]).unwrap();
        assert_eq!((one.mean, one.std, one.ci95_low), (7.0, None, None));
        assert!(Stat::of(&[]).is_none());
    }

    #[test]
    fn drawdown_is_the_largest_relative_fall_below_the_best_so_far() {
        // Best so far: 10, 20, 20, 20, 30, 30; falls 0, 0, 5, 2, 0, 15.
        let e = [10.0, 20.0, 15.0, 18.0, 30.0, 15.0];
        assert_eq!(drawdown(&e, 0), Some(0.5));
        assert_eq!(drawdown(&e, 1), Some(0.5));
        assert_eq!(drawdown(&e, 5), Some(0.0));
        assert_eq!(drawdown(&e, 6), None);
        // Negative returns: from -100 down to -150 is a fall of half of |best|.
        assert_eq!(drawdown(&[-100.0, -150.0, -90.0], 0), Some(0.5));
        // A best of zero: the fall itself.
        assert_eq!(drawdown(&[0.0, -3.0], 0), Some(3.0));
    }

    fn rec(generation: u32, eval: f64) -> Metrics {
        Metrics {
            generation,
            eval_return: Some(eval),
            train_return_mean: 0.0,
            train_return_max: 0.0,
            train_return_min: 0.0,
            non_finite_members: 0,
            cost: None,
            update: UpdateStats {
                kl: generation as f64,
                entropy: 1.0,
                ..UpdateStats::default()
            },
            env_steps: 100 * (generation as u64 + 1),
            wall_s: generation as f64,
            env_steps_per_s: 0.0,
        }
    }

    #[test]
    fn a_cell_summarises_its_runs() {
        let a: Vec<Metrics> = [1.0, 5.0, 3.0, 6.0]
            .iter()
            .enumerate()
            .map(|(g, &e)| rec(g as u32, e))
            .collect();
        let b: Vec<Metrics> = [1.0, 2.0, 2.0, 2.0]
            .iter()
            .enumerate()
            .map(|(g, &e)| rec(g as u32, e))
            .collect();
        assert_eq!(final_return(&a, 2), Some(4.5));
        assert_eq!(final_return(&a, 10), Some(3.75));
        let c = CellSummary::new("x".into(), vec![], 2, 0, &[a, b], Some(4.0), 2);
        assert_eq!(c.final_return.as_ref().unwrap().mean, 3.25);
        assert_eq!(c.success_rate, Some(0.5));
        assert_eq!(c.generations_to_target, Some(2.0));
        assert_eq!(c.env_steps_to_target, Some(200.0));
        // From 5 (reached) down to 3: 2/5.
        assert_eq!(c.worst_drawdown, Some(0.4));
        assert_eq!(c.kl_mean, Some(1.5));
        assert_eq!(c.entropy_mean, Some(1.0));
    }
}
