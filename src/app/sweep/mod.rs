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

pub mod spec;
pub mod summary;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use thiserror::Error;

use self::spec::{Cell, SweepSpec};
use self::summary::{CellSummary, RunRecord, RunStatus, Summary};
use super::engines::Engines;
use super::error::TrainError;
use super::observer::GenerationObserver;
use super::process;
use super::run::{self, RunOptions};
use super::run_dir::RunDir;
use super::trainer::Trainer;
use crate::checkpoint::Checkpoint;
use crate::config::Config;

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

/// How a planned run starts.
enum Start {
    New,
    Resume,
}

/// One (cell, seed) to run.
struct Job {
    index: usize,
    cfg: Config,
    dir: RunDir,
    start: Start,
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

/// The config of one (cell, seed), placed in the sweep directory.
fn cell_config(
    base_text: &str,
    spec: &SweepSpec,
    cell: &Cell,
    seed: u64,
    dir: &Path,
) -> Result<Config, TrainError> {
    let mut o = spec.set.clone();
    o.extend(cell.overrides());
    o.push(format!("seed={seed}"));
    let out = toml::Value::String(dir.join(cell.dir_name()).display().to_string());
    o.push(format!("run.out_dir={out}"));
    o.push(format!("run.name=\"seed-{seed}\""));
    Ok(Config::from_toml_with_overrides(base_text, &o)?)
}

/// Two configs that differ at most in `generations` and `run.out_dir` (a moved sweep).
fn same_run(a: &Config, b: &Config) -> bool {
    let norm = |c: &Config| {
        let mut c = c.clone();
        c.generations = 0;
        c.run.out_dir.clear();
        c
    };
    norm(a) == norm(b)
}

/// Whether the run in `dir` is finished; `Err` for a run this sweep must not touch.
fn finished(dir: &RunDir, cfg: &Config) -> Result<Option<bool>, TrainError> {
    let ck_path = dir.checkpoint_path();
    if !ck_path.exists() {
        return Ok(None);
    }
    let ck = Checkpoint::load(&ck_path)?;
    if !same_run(&ck.config, cfg) {
        return Err(TrainError::Resume(format!(
            "{} holds a run of another config; move it away or use another --out",
            dir.path.display()
        )));
    }
    if ck.generation as usize >= cfg.generations {
        return Ok(Some(true));
    }
    let solved = cfg.run.target_return.is_some_and(|t| {
        dir.metrics().read().is_ok_and(|ms| {
            ms.iter()
                .any(|m| m.generation < ck.generation && m.eval_return.is_some_and(|e| e >= t))
        })
    });
    Ok(Some(solved))
}

/// Runs one job to its end (or a stop); `true` when it was interrupted.
fn run_job(engines: &Engines<'_>, job: &Job, stop: &Arc<AtomicBool>) -> Result<bool, TrainError> {
    let (mut trainer, dir) = match job.start {
        Start::New => {
            let ev = engines.evaluator(&job.cfg)?;
            let dir = RunDir::create(&job.cfg)?;
            // Records of an attempt killed before its first checkpoint.
            dir.metrics().truncate(0)?;
            (Trainer::new(job.cfg.clone(), ev)?, dir)
        }
        Start::Resume => {
            let grow = [format!("generations={}", job.cfg.generations)];
            run::resume(&job.dir.path, &grow, |c| engines.evaluator(c), true)?
        }
    };
    let mut observers: Vec<Box<dyn GenerationObserver>> = vec![Box::new(dir.metrics().appender()?)];
    let opts = RunOptions {
        stop: stop.clone(),
        secondary: false,
        stop_vote: None,
    };
    Ok(run::run(&mut trainer, &dir, &opts, &mut observers)?.interrupted)
}

/// Every (cell, seed) sorted out before anything runs.
struct Plan {
    /// One per (cell, seed), in order; a job's stays `not_started` until it reports.
    records: Vec<RunRecord>,
    jobs: Vec<Job>,
    /// Per cell, why its config is invalid.
    invalid: Vec<Option<String>>,
    /// The sweep's target, else the runs' `run.target_return`.
    target: Option<f64>,
}

/// Sorts every (cell, seed) into invalid, failed (a run directory it must not
/// touch), skipped (finished before), or a job (new or resumed).
fn plan(spec: &SweepSpec, cells: &[Cell], base_text: &str, dir: &Path) -> Plan {
    let mut p = Plan {
        records: Vec::new(),
        jobs: Vec::new(),
        invalid: vec![None; cells.len()],
        target: spec.target_return,
    };
    for (ci, cell) in cells.iter().enumerate() {
        for &seed in &spec.seeds {
            let label = cell.label();
            let run_dir = RunDir {
                path: dir.join(cell.dir_name()).join(format!("seed-{seed}")),
            };
            let mut record = RunRecord {
                cell: label.clone(),
                seed,
                dir: run_dir.path.display().to_string(),
                status: RunStatus::NotStarted,
                error: None,
            };
            match cell_config(base_text, spec, cell, seed, dir) {
                Err(e) => {
                    if p.invalid[ci].is_none() {
                        tracing::warn!(cell = %label, error = %e, "invalid cell: not run");
                    }
                    p.invalid[ci] = Some(e.to_string());
                    record.status = RunStatus::Invalid;
                    record.error = Some(e.to_string());
                }
                Ok(cfg) => {
                    p.target = p.target.or(cfg.run.target_return);
                    match finished(&run_dir, &cfg) {
                        Ok(Some(true)) => {
                            tracing::info!(cell = %label, seed, "skipped: finished before");
                            record.status = RunStatus::Skipped;
                        }
                        Ok(done) => p.jobs.push(Job {
                            index: p.records.len(),
                            cfg,
                            dir: run_dir,
                            start: if done.is_some() {
                                Start::Resume
                            } else {
                                Start::New
                            },
                        }),
                        Err(e) => {
                            tracing::warn!(cell = %label, seed, error = %e, "run failed");
                            record.status = RunStatus::Failed;
                            record.error = Some(e.to_string());
                        }
                    }
                }
            }
            p.records.push(record);
        }
    }
    p
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
    let stop = process::stop_flag()?;
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
    let rows = cells
        .iter()
        .zip(invalid)
        .map(|(cell, bad)| {
            let label = cell.label();
            let values: Vec<(String, String)> = cell
                .values
                .iter()
                .map(|(k, v)| (k.clone(), spec::value_text(v)))
                .collect();
            let n = spec.seeds.len();
            if let Some(why) = bad {
                return CellSummary::invalid(label, values, n, why.clone());
            }
            let mine = records.iter().filter(|r| r.cell == label);
            let failed = mine
                .clone()
                .filter(|r| r.status == RunStatus::Failed)
                .count();
            let runs: Vec<_> = mine
                .filter(|r| r.status.complete())
                .filter_map(|r| {
                    RunDir {
                        path: PathBuf::from(&r.dir),
                    }
                    .metrics()
                    .read()
                    .ok()
                })
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
        cells: rows,
        runs: records,
    }
}
