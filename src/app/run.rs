//! Driving a run: generations until the end, the target or a stop request, the
//! observers told of each, checkpoints on schedule; and reopening a run to resume it.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::TrainError;
use super::metrics::Metrics;
use super::observer::GenerationObserver;
use super::run_dir::{RunDir, RunLock};
use super::trainer::Trainer;
use crate::checkpoint::{self, Checkpoint};
use crate::config::Config;
use crate::evaluation::PopulationEvaluator;
use crate::tasks::TaskSpec;

/// How a run is driven from outside.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Set by the SIGINT/SIGTERM handler: checkpoint after the current generation and stop.
    pub stop: Arc<AtomicBool>,
    /// True on every process of a multi-process run but one: it computes everything
    /// and writes nothing (no checkpoints).
    pub secondary: bool,
    /// Combines this process's stop flag with the other processes' after each
    /// generation (a collective), so that all of them stop at the same generation.
    pub stop_vote: Option<fn(bool) -> bool>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub generations: u32,
    pub last: Option<Metrics>,
    /// Generation at which `run.target_return` was first reached.
    pub solved_at: Option<u32>,
    /// True when stopped by a signal before the planned end.
    pub interrupted: bool,
}

/// Runs `trainer` to `config.generations` (or the target return, or a stop request),
/// telling `observers` of every generation and checkpointing into `dir` when given
/// one (without, nothing is written: the observers see everything).
pub fn run(
    trainer: &mut Trainer,
    dir: Option<&RunDir>,
    opts: &RunOptions,
    observers: &mut [Box<dyn GenerationObserver>],
) -> Result<RunSummary, TrainError> {
    let mut summary = RunSummary {
        generations: trainer.generation,
        last: None,
        solved_at: None,
        interrupted: false,
    };
    let every = trainer.config.run.checkpoint_every;
    let result = loop {
        if trainer.finished() {
            break Ok(());
        }
        let m = match trainer.step() {
            Ok(m) => m,
            Err(e) => break Err(e),
        };
        if let Some(e) = observers.iter_mut().find_map(|o| o.generation(&m).err()) {
            break Err(e);
        }
        let solved = matches!((trainer.config.run.target_return, m.eval_return), (Some(t), Some(e)) if e >= t);
        if solved && summary.solved_at.is_none() {
            summary.solved_at = Some(m.generation);
        }
        summary.last = Some(m);
        summary.generations = trainer.generation;
        let stop = opts.stop.load(Ordering::SeqCst);
        let stop = opts.stop_vote.map_or(stop, |vote| vote(stop));
        let finished = trainer.finished() || solved;
        let due =
            stop || finished || (every > 0 && (trainer.generation as usize).is_multiple_of(every));
        if let Some(dir) = dir.filter(|_| due && !opts.secondary) {
            if let Err(e) = trainer.checkpoint().save(&dir.checkpoint_path()) {
                break Err(e.into());
            }
        }
        if stop {
            summary.interrupted = !finished;
        }
        if stop || solved {
            break Ok(());
        }
    };
    observers.iter_mut().for_each(|o| o.finish());
    result.map(|()| summary)
}

/// Reopens the run directory of a checkpoint (or of a run directory) and rebuilds the
/// trainer with the evaluator `make` builds from the checkpoint's config (after
/// `overrides`). With `write` false (the secondary processes of a multi-process run)
/// the run directory is only read; otherwise metrics past the checkpoint are dropped
/// and `config.toml` is rewritten.
pub fn resume(
    path: &Path,
    overrides: &[String],
    make: impl FnOnce(&Config, &TaskSpec) -> Result<Box<dyn PopulationEvaluator>, TrainError>,
    write: bool,
) -> Result<(Trainer, RunDir, Option<RunLock>), TrainError> {
    let ck_path = checkpoint::resolve(path);
    let mut ck = Checkpoint::load(&ck_path)?;
    if !overrides.is_empty() {
        let text = ck.config.to_toml();
        ck.config = Config::from_toml_with_overrides(&text, overrides)?;
    }
    let dir = RunDir::of_checkpoint(&ck_path)?;
    // Before anything is built or touched: a run another process is training is
    // refused, naming it.
    let lock = if write { Some(dir.lock()?) } else { None };
    let task = ck.config.resolve_task()?;
    let evaluator = make(&ck.config, &task)?;
    let generation = ck.generation;
    let trainer = Trainer::from_checkpoint(ck, task, evaluator)?;
    if write {
        dir.metrics().truncate(generation)?;
        dir.write_config(&trainer.config)?;
    }
    Ok((trainer, dir, lock))
}
