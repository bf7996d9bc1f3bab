//! `satr train`: a new run from a config, or a resumed one, driven to its end with
//! the metrics file, the progress bar and the log line watching.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::engines::Engines;
use super::error::TrainError;
use super::observer::{GenerationObserver, LogLine, ProgressBar};
use super::run::{self, RunOptions, RunSummary};
use super::run_dir::RunDir;
use super::tensorboard;
use super::trainer::Trainer;
use super::world::stop_vote;
use crate::config::{Backend, Config};
use crate::tasks::TaskSpec;

/// What `satr train` was asked.
#[derive(Debug, Clone, Default)]
pub struct TrainArgs {
    /// Config file (the built-in default when `None`).
    pub config: Option<PathBuf>,
    /// `key=value` overrides.
    pub set: Vec<String>,
    /// `--backend`: replaces the config's (or the resumed checkpoint's) `backend`,
    /// after the `set` overrides.
    pub backend: Option<Backend>,
    /// A run directory or checkpoint to continue.
    pub resume: Option<PathBuf>,
    /// Show a progress bar (only on a terminal, and only on rank 0).
    pub progress: bool,
    /// The caller's stop request: once set, the run finishes the current generation,
    /// writes a checkpoint and returns (the command line sets it on SIGINT/SIGTERM).
    pub stop: Arc<AtomicBool>,
}

/// How a `satr train` ended.
pub struct TrainOutcome {
    pub trainer: Trainer,
    pub dir: RunDir,
    pub summary: RunSummary,
    /// Whether this process wrote the run (rank 0).
    pub writer: bool,
}

/// Runs `satr train`.
pub fn train(engines: &Engines<'_>, args: TrainArgs) -> Result<TrainOutcome, TrainError> {
    let world = engines.world();
    // Rank 0 alone writes the run directory and prints.
    let writer = world.rank() == 0;
    // `--backend` over the config's key (validation does not read it).
    let with_backend = |cfg: &Config| match args.backend {
        Some(backend) => Config {
            backend,
            ..cfg.clone()
        },
        None => cfg.clone(),
    };
    // Held until the run ends: no other process may train this run meanwhile.
    let (mut trainer, dir, _lock) = match &args.resume {
        Some(path) => {
            if args.config.is_some() {
                return Err(TrainError::Usage(
                    "--resume takes the config from the checkpoint; use --set to change keys"
                        .into(),
                ));
            }
            let make =
                |cfg: &Config, task: &TaskSpec| engines.run_evaluator(&with_backend(cfg), task);
            let (mut t, d, lock) = run::resume(path, &args.set, make, writer)?;
            if args.backend.is_some() {
                // The checkpoint's config with the new backend, as every later
                // checkpoint and `config.toml` record it.
                t.config = with_backend(&t.config);
                if writer {
                    d.write_config(&t.config)?;
                }
            }
            tracing::info!(generation = t.generation, dir = %d.path.display(), "resuming");
            (t, d, lock)
        }
        None => {
            let cfg = with_backend(&Config::load(args.config.as_deref(), &args.set)?);
            let task = cfg.resolve_task()?;
            let evaluator = engines.run_evaluator(&cfg, &task)?;
            let (dir, lock) = if writer {
                let (d, l) = RunDir::create(&cfg)?;
                (d, Some(l))
            } else {
                // Never written: the secondary ranks only compute.
                let d = RunDir {
                    path: PathBuf::from(&cfg.run.out_dir),
                };
                (d, None)
            };
            (Trainer::new(cfg, task, evaluator)?, dir, lock)
        }
    };
    let cfg = &trainer.config;
    tracing::info!(
        task = %cfg.task,
        population = cfg.population,
        neurons = cfg.network.neurons,
        rule = ?cfg.optimizer.rule,
        backend = %trainer.backend(),
        world_size = world.size(),
        dir = %dir.path.display(),
        "training"
    );
    let mut observers: Vec<Box<dyn GenerationObserver>> = Vec::new();
    if writer {
        observers.push(Box::new(dir.metrics().appender()?));
        observers.extend(tensorboard::observer(cfg, &dir.path, trainer.generation)?);
        if args.progress {
            observers.push(Box::new(ProgressBar::new(
                cfg.generations as u64,
                trainer.generation as u64,
            )));
        }
    }
    observers.push(Box::new(LogLine));
    let opts = RunOptions {
        stop: args.stop.clone(),
        secondary: !writer,
        stop_vote: stop_vote(world),
    };
    let summary = run::run(&mut trainer, Some(&dir), &opts, &mut observers)?;
    Ok(TrainOutcome {
        trainer,
        dir,
        summary,
        writer,
    })
}

/// The line `satr train` ends with.
impl std::fmt::Display for TrainOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (s, dir) = (&self.summary, self.dir.path.display());
        if s.interrupted {
            return write!(
                f,
                "interrupted after generation {}; checkpoint written. Resume with: satr train --resume {dir}",
                s.generations
            );
        }
        let last = s.last.as_ref();
        let eval = last
            .and_then(|m| m.eval_return)
            .map_or("n/a".into(), |e| format!("{e:.2}"));
        let solved = s
            .solved_at
            .map(|g| format!(" (target reached at generation {g})"))
            .unwrap_or_default();
        let secs = last.map_or(0.0, |m| m.wall_s);
        write!(
            f,
            "done: {} generations, eval return {eval}{solved}, {secs:.1} s; outputs in {dir}",
            s.generations
        )
    }
}

/// FNV-1a over the bits of `p`: equal digests mean bit-identical distributions, which
/// is what tests compare across process counts.
pub fn p_digest(p: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in p {
        for b in x.to_bits().to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
