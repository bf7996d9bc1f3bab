//! `satr sweep`: a grid of configs (the cartesian product of axes over a base config)
//! times seeds, each an ordinary run directory `<sweep>/<cell>/seed-<seed>`, run
//! `jobs` at a time in this process, then summarised per cell ([`summary`]).
//!
//! Re-running the same sweep skips the runs that are finished (every generation, or
//! the run's own `run.target_return`, done according to its checkpoint and metrics) and
//! resumes the others from their checkpoints; a run whose checkpoint holds another
//! config (other than `generations`, which may grow) is an error of that run, never
//! overwritten. A stop signal checkpoints every active run and starts no new one. One
//! process only: under several MPI ranks the sweep is refused (run it without mpirun).

mod jobs;
pub mod spec;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use thiserror::Error;

use self::jobs::{plan, run_job};
use self::spec::{Cell, StepsBudget, SweepSpec};
use self::summary::{CellSummary, RunRecord, RunStatus, Summary};
use super::engines::Engines;
use super::error::TrainError;
use super::metrics::Metrics;
use super::run_dir::RunDir;

/// What can stop a sweep as a whole (a single run's error is recorded instead).
#[derive(Debug, Error)]
pub enum SweepError {
    /// The sweep file or the command line's axes, seeds or flags.
    #[error("sweep: {0}")]
    Spec(String),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// What `satr sweep` was asked.
#[derive(Debug, Clone, Default)]
pub struct SweepArgs {
    /// The sweep file.
    pub file: Option<PathBuf>,
    /// `--base`: the base config (overrides the file's `base`).
    pub base: Option<PathBuf>,
    /// `--set key=value`, after the file's `[set]`.
    pub set: Vec<String>,
    /// `--axis key=v1,v2`.
    pub axes: Vec<String>,
    /// `--seeds` (replaces the file's list).
    pub seeds: Option<Vec<u64>>,
    /// Runs at once (at least 1).
    pub jobs: usize,
    /// The sweep directory (default: the file's `out`, else `sweeps/<file stem>`).
    pub out: Option<PathBuf>,
    /// A progress bar (only on a terminal).
    pub progress: bool,
    /// The caller's stop request: once set, every active run checkpoints after its
    /// generation and no new run starts (the command line sets it on SIGINT/SIGTERM).
    pub stop: Arc<AtomicBool>,
}

/// How a sweep ended.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub summary: Summary,
    /// Stopped by a signal before every run was done.
    pub interrupted: bool,
}

impl std::fmt::Display for SweepOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |s: RunStatus| self.summary.runs.iter().filter(|r| r.status == s).count();
        write!(
            f,
            "sweep: {} runs: {} finished, {} skipped (done before), {} failed, {} invalid",
            self.summary.runs.len(),
            count(RunStatus::Finished),
            count(RunStatus::Skipped),
            count(RunStatus::Failed),
            count(RunStatus::Invalid),
        )?;
        if self.interrupted {
            write!(
                f,
                "; interrupted ({} stopped with a checkpoint, {} not started): re-run the same command to continue",
                count(RunStatus::Interrupted),
                count(RunStatus::NotStarted)
            )?;
        }
        write!(f, "; summary in {}", self.dir.join("summary.md").display())
    }
}

/// The sweep directory of `args`.
fn sweep_dir(args: &SweepArgs, spec: &SweepSpec) -> Result<PathBuf, SweepError> {
    if let Some(o) = args.out.clone().or_else(|| spec.out.clone()) {
        return Ok(o);
    }
    let stem = args
        .file
        .as_deref()
        .and_then(Path::file_stem)
        .ok_or_else(|| {
            SweepError::Spec("without a sweep file, name the sweep directory with --out".into())
        })?;
    Ok(Path::new("sweeps").join(stem))
}

/// Runs `satr sweep`.
pub fn sweep(engines: &Engines<'_>, args: SweepArgs) -> Result<SweepOutcome, SweepError> {
    if engines.world().size() > 1 {
        return Err(SweepError::Spec(
            "satr sweep runs in one process; start it without mpirun (use --jobs for parallel runs)"
                .into(),
        ));
    }
    let spec = SweepSpec::load(
        args.file.as_deref(),
        args.base.as_deref(),
        &args.set,
        &args.axes,
        args.seeds.clone(),
    )?;
    let dir = sweep_dir(&args, &spec)?;
    let base_text = match &spec.base {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            SweepError::Spec(format!("cannot read base config {}: {e}", p.display()))
        })?,
        None => String::new(),
    };
    std::fs::create_dir_all(&dir).map_err(|error| SweepError::Io {
        path: dir.clone(),
        error,
    })?;
    let stop = args.stop.clone();
    let cells = spec.cells();
    let mut names = std::collections::BTreeSet::new();
    if let Some(c) = cells.iter().find(|c| !names.insert(c.dir_name())) {
        return Err(SweepError::Spec(format!(
            "two cells share the folder name `{}`; give distinct axis values",
            c.dir_name()
        )));
    }
    let plan = plan(&spec, &cells, &base_text, &dir);
    let mut records = plan.records;
    let jobs = plan.jobs;
    let total = records.len() as u64;
    let bar = args.progress.then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] runs {pos}/{len} {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        b.set_position(total - jobs.len() as u64);
        b
    });
    tracing::info!(
        dir = %dir.display(),
        cells = cells.len(),
        runs = total,
        to_run = jobs.len(),
        jobs = args.jobs.max(1),
        "sweep"
    );
    // The workers: each takes the next job until none is left or a stop is requested.
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Result<bool, String>)>();
    // The best final return so far (of the runs complete before or now), for the bar.
    let mut best: Option<(f64, String)> = None;
    let last_k = spec.last_k;
    let mut consider = move |rec: &RunRecord| -> (Option<f64>, String) {
        let last = run_final(rec, last_k);
        if let Some(v) = last.filter(|_| rec.status.complete()) {
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, format!("{} seed {}", rec.cell, rec.seed)));
            }
        }
        let msg = best
            .as_ref()
            .map_or(String::new(), |(v, who)| format!("best {v:.2} ({who})"));
        (last, msg)
    };
    if let Some(b) = &bar {
        for r in records.iter().filter(|r| r.status == RunStatus::Skipped) {
            b.set_message(consider(r).1);
        }
    }
    std::thread::scope(|s| {
        for _ in 0..args.jobs.max(1).min(jobs.len()) {
            let (tx, next, jobs, stop) = (tx.clone(), &next, &jobs, &stop);
            s.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(job) = jobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    break;
                };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_job(engines, job, stop)
                }));
                let r = match r {
                    Ok(r) => r.map_err(|e| e.to_string()),
                    Err(p) => Err(p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .map_or("panicked".into(), |m| format!("panicked: {m}"))),
                };
                if tx.send((job.index, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (index, r) in rx {
            let rec = &mut records[index];
            match r {
                Ok(false) => rec.status = RunStatus::Finished,
                Ok(true) => rec.status = RunStatus::Interrupted,
                Err(e) => {
                    rec.status = RunStatus::Failed;
                    rec.error = Some(e);
                }
            }
            let (last, msg) = consider(rec);
            let final_text = last.map_or("-".into(), |v| format!("{v:.2}"));
            match &rec.error {
                Some(e) => {
                    tracing::warn!(cell = %rec.cell, seed = rec.seed, error = %e, "run failed")
                }
                None => {
                    tracing::info!(cell = %rec.cell, seed = rec.seed, status = %rec.status, final_return = %final_text, "run done")
                }
            }
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(msg);
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let interrupted = records
        .iter()
        .any(|r| matches!(r.status, RunStatus::Interrupted | RunStatus::NotStarted));
    let summary = summarise(&spec, &cells, &plan.invalid, records, plan.target);
    summary.write(&dir)?;
    Ok(SweepOutcome {
        dir,
        summary,
        interrupted,
    })
}

/// The final return of a run's metrics so far.
fn run_final(rec: &RunRecord, last_k: usize) -> Option<f64> {
    let dir = RunDir {
        path: PathBuf::from(&rec.dir),
    };
    let ms = dir.metrics().read().ok()?;
    summary::final_return(&ms, last_k)
}

/// The summary of every cell from its runs' metrics (complete runs only).
fn summarise(
    spec: &SweepSpec,
    cells: &[Cell],
    invalid: &[Option<String>],
    records: Vec<RunRecord>,
    target: Option<f64>,
) -> Summary {
    let read = |r: &RunRecord| {
        RunDir {
            path: PathBuf::from(&r.dir),
        }
        .metrics()
        .read()
        .ok()
    };
    let labels: Vec<String> = cells.iter().map(Cell::label).collect();
    let runs: Vec<Vec<Vec<Metrics>>> = labels
        .iter()
        .map(|label| {
            records
                .iter()
                .filter(|r| &r.cell == label && r.status.complete())
                .filter_map(read)
                .collect()
        })
        .collect();
    let budget = match spec.env_steps_budget {
        Some(StepsBudget::Steps(b)) => Some(b),
        Some(StepsBudget::Fewest) => runs
            .iter()
            .flatten()
            .filter_map(|ms| ms.last().map(|m| m.env_steps))
            .min(),
        None => None,
    };
    let rows = cells
        .iter()
        .zip(labels)
        .zip(invalid)
        .zip(runs)
        .map(|(((cell, label), bad), runs)| {
            let values: Vec<(String, String)> = cell
                .values
                .iter()
                .map(|(k, v)| (k.clone(), spec::value_text(v)))
                .collect();
            let n = spec.seeds.len();
            if let Some(why) = bad {
                return CellSummary::invalid(label, values, n, why.clone());
            }
            let failed = records
                .iter()
                .filter(|r| r.cell == label && r.status == RunStatus::Failed)
                .count();
            let runs: Vec<_> = runs
                .into_iter()
                .map(|ms| summary::within_budget(ms, budget))
                .collect();
            CellSummary::new(label, values, n, failed, &runs, target, spec.last_k)
        })
        .collect();
    Summary {
        base: spec.base.as_ref().map(|p| p.display().to_string()),
        axes: spec.axes.iter().map(|a| a.key.clone()).collect(),
        seeds: spec.seeds.clone(),
        target_return: target,
        last_k: spec.last_k,
        env_steps_budget: budget,
        cells: rows,
        runs: records,
    }
}
