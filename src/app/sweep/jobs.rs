//! The runs of a sweep: each (cell, seed) sorted into invalid, failed, skipped or a
//! job (new or resumed) before anything runs, and one job run to its end or a stop.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::spec::{Cell, SweepSpec};
use super::summary::{RunRecord, RunStatus};
use crate::app::engines::Engines;
use crate::app::error::TrainError;
use crate::app::observer::GenerationObserver;
use crate::app::run::{self, RunOptions};
use crate::app::run_dir::RunDir;
use crate::app::tensorboard;
use crate::app::trainer::Trainer;
use crate::checkpoint::Checkpoint;
use crate::config::Config;

/// How a planned run starts.
pub(super) enum Start {
    New,
    Resume,
}

/// One (cell, seed) to run.
pub(super) struct Job {
    pub(super) index: usize,
    pub(super) cfg: Config,
    pub(super) dir: RunDir,
    pub(super) start: Start,
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
    if cfg.run_complete(ck.generation, ck.env_steps) {
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
pub(super) fn run_job(
    engines: &Engines<'_>,
    job: &Job,
    stop: &Arc<AtomicBool>,
) -> Result<bool, TrainError> {
    // The lock is held until the job ends (another sweep process on the same
    // directory gets a failed run naming this one).
    let (mut trainer, dir, _lock) = match job.start {
        Start::New => {
            let task = job.cfg.resolve_task()?;
            let ev = engines.evaluator(&job.cfg, &task)?;
            let (dir, lock) = RunDir::create(&job.cfg)?;
            (Trainer::new(job.cfg.clone(), task, ev)?, dir, Some(lock))
        }
        Start::Resume => {
            let grow = [format!("generations={}", job.cfg.generations)];
            run::resume(&job.dir.path, &grow, |c, t| engines.evaluator(c, t), true)?
        }
    };
    let mut observers: Vec<Box<dyn GenerationObserver>> = vec![Box::new(dir.metrics().appender()?)];
    observers.extend(tensorboard::observer(
        &trainer.config,
        &dir.path,
        trainer.generation,
    )?);
    let opts = RunOptions {
        stop: stop.clone(),
        secondary: false,
        stop_vote: None,
    };
    Ok(run::run(&mut trainer, Some(&dir), &opts, &mut observers)?.interrupted)
}

/// Every (cell, seed) sorted out before anything runs.
pub(super) struct Plan {
    /// One per (cell, seed), in order; a job's stays `not_started` until it reports.
    pub(super) records: Vec<RunRecord>,
    pub(super) jobs: Vec<Job>,
    /// Per cell, why its config is invalid.
    pub(super) invalid: Vec<Option<String>>,
    /// The sweep's target, else the runs' `run.target_return`.
    pub(super) target: Option<f64>,
}

/// Sorts every (cell, seed) into invalid, failed (a run directory it must not
/// touch), skipped (finished before), or a job (new or resumed).
pub(super) fn plan(spec: &SweepSpec, cells: &[Cell], base_text: &str, dir: &Path) -> Plan {
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
