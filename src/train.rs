//! The training loop: evaluate a generation through a [`PopulationEvaluator`], shape the
//! fitness, reduce, update `p` with the configured rule, and record metrics (SPEC 7).
//! Also the run directory: `config.toml`, `metrics.jsonl`, `checkpoints/`.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use thiserror::Error;

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::config::{Backend, Config, ConfigError};
use crate::cpu::CpuEvaluator;
use crate::distribution;
use crate::evaluation::{
    EngineError, GenerationRequest, Normalizer, ObsStats, PopulationEvaluator, TaskFactory,
};
use crate::network::Shape;
use crate::optimizer::{self, Optimizer};
use crate::tasks::{make_task, TaskError};

/// Anything that can stop a run.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint that does not fit the config it is resumed with.
    #[error("cannot resume: {0}")]
    Resume(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of `metrics.jsonl` (SPEC 7); `None` is written as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub generation: u32,
    pub eval_return: Option<f64>,
    pub train_return_mean: f64,
    pub train_return_max: f64,
    pub train_return_min: f64,
    pub total_energy: Option<f64>,
    pub signal_energy: Option<f64>,
    pub snr: Option<f64>,
    pub kl_budget: Option<f64>,
    pub kl: f64,
    pub eta: Option<f64>,
    pub entropy: f64,
    pub clip_fraction: f64,
    pub env_steps: u64,
    pub wall_s: f64,
    pub env_steps_per_s: f64,
}

/// A task factory for a built-in task name.
pub fn task_factory(name: &str) -> Result<TaskFactory, TaskError> {
    make_task(name)?;
    let name = name.to_string();
    Ok(Arc::new(move || {
        make_task(&name).expect("task name checked when the factory was made")
    }))
}

/// The network shape of a config's task.
pub fn shape_for(config: &Config) -> Result<Shape, TaskError> {
    let task = make_task(&config.task)?;
    Ok(Shape::new(
        &config.network,
        task.obs_dim(),
        task.action_space().outputs(),
    ))
}

/// Builds the evaluator the config asks for (SPEC's backends behind one interface).
pub fn make_evaluator(config: &Config) -> Result<Box<dyn PopulationEvaluator>, TrainError> {
    let factory = task_factory(&config.task)?;
    match config.backend {
        Backend::Cpu => Ok(Box::new(CpuEvaluator::new(&config.network, factory))),
        Backend::Gpu => gpu_evaluator(config, factory, false)?.ok_or_else(|| {
            EngineError::Gpu(
                "backend = \"gpu\" but no GPU adapter was found (see `satr info`); use backend = \"cpu\" or \"auto\"".into(),
            )
            .into()
        }),
        Backend::Auto => match gpu_evaluator(config, factory.clone(), true)? {
            Some(ev) => {
                tracing::info!(device = %ev.describe(), "backend auto: using the GPU");
                Ok(ev)
            }
            None => {
                tracing::warn!("backend auto: no hardware GPU adapter found, using the CPU bitset engine");
                Ok(Box::new(CpuEvaluator::new(&config.network, factory)))
            }
        },
    }
}

/// The GPU evaluator, or `None` when there is no adapter (or, with `hardware_only`, no
/// adapter that is not a software rasteriser).
#[cfg(feature = "gpu")]
fn gpu_evaluator(
    config: &Config,
    factory: TaskFactory,
    hardware_only: bool,
) -> Result<Option<Box<dyn PopulationEvaluator>>, TrainError> {
    use crate::config::GpuMode;
    use crate::gpu::{list_adapters, GpuContext, GpuEvaluator, GpuOptions};
    if hardware_only && !list_adapters().iter().any(|a| a.device_type != "Cpu") {
        return Ok(None);
    }
    let Some(ctx) = GpuContext::new()? else {
        return Ok(None);
    };
    if hardware_only && ctx.adapter_info.device_type == wgpu::DeviceType::Cpu {
        return Ok(None);
    }
    let on_device = config.gpu.mode == GpuMode::Generation
        && crate::gpu::tasks::task_wgsl(&config.task).is_some();
    let ev = if on_device {
        GpuEvaluator::full_generation(&ctx, &config.network, &config.task, GpuOptions::default())?
    } else {
        GpuEvaluator::new(&ctx, &config.network, factory)?
    };
    Ok(Some(Box::new(ev)))
}

#[cfg(not(feature = "gpu"))]
fn gpu_evaluator(
    _config: &Config,
    _factory: TaskFactory,
    _hardware_only: bool,
) -> Result<Option<Box<dyn PopulationEvaluator>>, TrainError> {
    Ok(None)
}

/// The state of a run and the loop that advances it one generation at a time.
pub struct Trainer {
    pub config: Config,
    pub p: Vec<f64>,
    pub optimizer: Optimizer,
    /// Observations of all completed generations (the next normaliser).
    pub obs_stats: ObsStats,
    /// Generations completed.
    pub generation: u32,
    pub env_steps: u64,
    pub wall_s: f64,
    evaluator: Box<dyn PopulationEvaluator>,
}

impl Trainer {
    /// A fresh run: `p = 0.5` everywhere (SPEC 2).
    pub fn new(
        config: Config,
        evaluator: Box<dyn PopulationEvaluator>,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        let shape = shape_for(&config)?;
        let dim = shape.layout().len();
        Ok(Trainer {
            optimizer: Optimizer::new(config.optimizer.clone(), dim),
            p: vec![0.5; dim],
            obs_stats: ObsStats::new(shape.obs_dim),
            generation: 0,
            env_steps: 0,
            wall_s: 0.0,
            config,
            evaluator,
        })
    }

    /// Continues from a checkpoint exactly where it stopped.
    pub fn from_checkpoint(
        ck: Checkpoint,
        evaluator: Box<dyn PopulationEvaluator>,
    ) -> Result<Self, TrainError> {
        let mut t = Trainer::new(ck.config.clone(), evaluator)?;
        if ck.p.len() != t.p.len() {
            return Err(TrainError::Resume(format!(
                "checkpoint has {} probabilities, the config's network needs {}",
                ck.p.len(),
                t.p.len()
            )));
        }
        if ck.obs_stats.mean.len() != t.obs_stats.mean.len() {
            return Err(TrainError::Resume(
                "observation statistics do not match the task".into(),
            ));
        }
        let st = &ck.optimizer;
        if st.m.len() != ck.p.len() || st.v.len() != ck.p.len() {
            return Err(TrainError::Resume(
                "optimizer state does not match the genome length".into(),
            ));
        }
        let p_min = ck.config.optimizer.p_min;
        if ck.p.iter().any(|&x| !(x >= p_min && x <= 1.0 - p_min)) {
            return Err(TrainError::Resume(format!(
                "probabilities outside [{p_min}, {}]",
                1.0 - p_min
            )));
        }
        t.p = ck.p;
        t.optimizer.state = ck.optimizer;
        t.obs_stats = ck.obs_stats;
        t.generation = ck.generation;
        t.env_steps = ck.env_steps;
        t.wall_s = ck.wall_s;
        Ok(t)
    }

    /// The state to save.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            generation: self.generation,
            config: self.config.clone(),
            p: self.p.clone(),
            optimizer: self.optimizer.state.clone(),
            obs_stats: self.obs_stats.clone(),
            env_steps: self.env_steps,
            wall_s: self.wall_s,
        }
    }

    /// Backend description.
    pub fn backend(&self) -> String {
        self.evaluator.describe()
    }

    /// Runs one generation and updates `p`.
    pub fn step(&mut self) -> Result<Metrics, TrainError> {
        let start = Instant::now();
        let cfg = &self.config;
        let max_steps = cfg.episode_step_limit()?;
        let thresholds = distribution::thresholds(&self.p);
        let normalizer = Normalizer::from_stats(&self.obs_stats, cfg.evaluation.clip_obs);
        let req = GenerationRequest::new(
            cfg.seed,
            self.generation,
            &self.p,
            &thresholds,
            &normalizer,
            cfg.population,
            max_steps,
        )
        .with_eval(
            cfg.evaluation.eval_members,
            cfg.evaluation.episodes_per_member,
        );
        let fit = self.evaluator.evaluate(&req)?;
        let u = optimizer::shape(&fit.train, cfg.optimizer.shaping);
        let red = self.evaluator.reductions(&req, &u)?;
        let stats = self.optimizer.step(&mut self.p, &red);
        self.obs_stats.merge(&fit.obs_stats);
        let elapsed = start.elapsed().as_secs_f64();
        self.env_steps += fit.env_steps;
        self.wall_s += elapsed;
        let generation = self.generation;
        self.generation += 1;
        let n = fit.train.len() as f64;
        Ok(Metrics {
            generation,
            eval_return: (!fit.eval.is_empty())
                .then(|| fit.eval.iter().sum::<f64>() / fit.eval.len() as f64),
            train_return_mean: fit.train.iter().sum::<f64>() / n,
            train_return_max: fit.train.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            train_return_min: fit.train.iter().cloned().fold(f64::INFINITY, f64::min),
            total_energy: stats.total_energy,
            signal_energy: stats.signal_energy,
            snr: stats.snr,
            kl_budget: stats.kl_budget,
            kl: stats.kl,
            eta: stats.eta,
            entropy: stats.entropy,
            clip_fraction: stats.clip_fraction,
            env_steps: self.env_steps,
            wall_s: self.wall_s,
            env_steps_per_s: fit.env_steps as f64 / elapsed.max(1e-9),
        })
    }
}

/// How a run is driven from outside.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Set by the SIGINT/SIGTERM handler: checkpoint after the current generation and stop.
    pub stop: Arc<AtomicBool>,
    /// True on every process of a multi-process run but one: it computes everything
    /// and writes nothing (no metrics, no checkpoints).
    pub secondary: bool,
    /// Combines this process's stop flag with the other processes' after each
    /// generation (a collective), so that all of them stop at the same generation.
    pub stop_vote: Option<fn(bool) -> bool>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run_dir: PathBuf,
    pub generations: u32,
    pub last: Option<Metrics>,
    /// Generation at which `run.target_return` was first reached.
    pub solved_at: Option<u32>,
    /// True when stopped by a signal before the planned end.
    pub interrupted: bool,
}

/// A run directory: `config.toml`, `metrics.jsonl`, `checkpoints/latest.ckpt`.
pub struct RunDir {
    pub path: PathBuf,
}

impl RunDir {
    /// Creates a new run directory for a config (name from `run.name`, or task-seed-time).
    pub fn create(config: &Config) -> Result<Self, TrainError> {
        let path = Self::path_for(config);
        if path.join("checkpoints").join("latest.ckpt").exists() {
            return Err(TrainError::Resume(format!(
                "{} already holds a run; resume it with `satr train --resume {}` or choose another run.name",
                path.display(),
                path.display()
            )));
        }
        fs::create_dir_all(path.join("checkpoints")).map_err(io(&path))?;
        let cfg_path = path.join("config.toml");
        fs::write(&cfg_path, config.to_toml()).map_err(io(&cfg_path))?;
        Ok(RunDir { path })
    }

    /// Where [`RunDir::create`] puts a config's run, creating nothing.
    pub fn path_for(config: &Config) -> PathBuf {
        let name = if config.run.name.is_empty() {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            format!("{}-s{}-{}", config.task, config.seed, secs)
        } else {
            config.run.name.clone()
        };
        Path::new(&config.run.out_dir).join(name)
    }

    /// The checkpoint file.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.path.join("checkpoints").join("latest.ckpt")
    }

    /// The metrics file.
    pub fn metrics_path(&self) -> PathBuf {
        self.path.join("metrics.jsonl")
    }

    /// Drops metric lines of generations at or after `generation` (written after the
    /// checkpoint being resumed), so the file reads as one uninterrupted run.
    pub fn truncate_metrics(&self, generation: u32) -> Result<(), TrainError> {
        let path = self.metrics_path();
        if !path.exists() {
            return Ok(());
        }
        let f = File::open(&path).map_err(io(&path))?;
        let mut kept = String::new();
        for line in BufReader::new(f).lines() {
            let line = line.map_err(io(&path))?;
            let g = serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| v.get("generation").and_then(|g| g.as_u64()));
            if matches!(g, Some(g) if g < generation as u64) {
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        let tmp = path.with_extension("jsonl.tmp");
        fs::write(&tmp, kept).map_err(io(&tmp))?;
        fs::rename(&tmp, &path).map_err(io(&path))?;
        Ok(())
    }
}

/// Runs `trainer` to `config.generations`, writing metrics and checkpoints into `dir`.
pub fn run(
    trainer: &mut Trainer,
    dir: &RunDir,
    opts: &RunOptions,
) -> Result<RunSummary, TrainError> {
    let total = trainer.config.generations as u64;
    let bar = if opts.progress {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] gen {pos}/{len} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_position(trainer.generation as u64);
    let metrics_path = dir.metrics_path();
    let mut metrics_file = if opts.secondary {
        None
    } else {
        Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&metrics_path)
                .map_err(io(&metrics_path))?,
        )
    };
    let mut summary = RunSummary {
        run_dir: dir.path.clone(),
        generations: trainer.generation,
        last: None,
        solved_at: None,
        interrupted: false,
    };
    let every = trainer.config.run.checkpoint_every;
    while (trainer.generation as usize) < trainer.config.generations {
        let m = trainer.step()?;
        if let Some(f) = metrics_file.as_mut() {
            let line = serde_json::to_string(&m).expect("metrics serialise");
            writeln!(f, "{line}").map_err(io(&metrics_path))?;
            f.flush().map_err(io(&metrics_path))?;
        }
        let eval = m
            .eval_return
            .map(|e| format!("{e:.1}"))
            .unwrap_or_else(|| "-".into());
        bar.set_position(trainer.generation as u64);
        bar.set_message(format!(
            "eval {eval} train {:.1} kl {:.3} {:.0} env-steps/s",
            m.train_return_mean, m.kl, m.env_steps_per_s
        ));
        tracing::info!(
            generation = m.generation,
            eval_return = %eval,
            train_mean = m.train_return_mean,
            kl = m.kl,
            env_steps_per_s = m.env_steps_per_s,
            "generation done"
        );
        let solved = matches!((trainer.config.run.target_return, m.eval_return), (Some(t), Some(e)) if e >= t);
        if solved && summary.solved_at.is_none() {
            summary.solved_at = Some(m.generation);
        }
        summary.last = Some(m);
        summary.generations = trainer.generation;
        let stop = opts.stop.load(Ordering::SeqCst);
        let stop = opts.stop_vote.map_or(stop, |vote| vote(stop));
        let finished = trainer.generation as usize >= trainer.config.generations || solved;
        let due =
            stop || finished || (every > 0 && (trainer.generation as usize).is_multiple_of(every));
        if due && !opts.secondary {
            trainer.checkpoint().save(&dir.checkpoint_path())?;
        }
        if stop {
            summary.interrupted = !finished;
            break;
        }
        if solved {
            break;
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Opens the run directory of a checkpoint for resuming and rebuilds the trainer.
pub fn resume(path: &Path, overrides: &[String]) -> Result<(Trainer, RunDir), TrainError> {
    resume_with(path, overrides, make_evaluator, true)
}

/// [`resume`] with the evaluator built by `make` from the checkpoint's config; with
/// `write` false (the secondary processes of a multi-process run) the run directory
/// is only read.
pub fn resume_with(
    path: &Path,
    overrides: &[String],
    make: impl FnOnce(&Config) -> Result<Box<dyn PopulationEvaluator>, TrainError>,
    write: bool,
) -> Result<(Trainer, RunDir), TrainError> {
    let ck_path = checkpoint::resolve(path);
    let mut ck = Checkpoint::load(&ck_path)?;
    if !overrides.is_empty() {
        let text = ck.config.to_toml();
        ck.config = Config::from_toml_with_overrides(&text, overrides)?;
    }
    let run_dir = ck_path
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| {
            TrainError::Resume(format!(
                "{} is not inside a run directory",
                ck_path.display()
            ))
        })?
        .to_path_buf();
    let evaluator = make(&ck.config)?;
    let generation = ck.generation;
    let trainer = Trainer::from_checkpoint(ck, evaluator)?;
    let dir = RunDir { path: run_dir };
    if !write {
        return Ok((trainer, dir));
    }
    dir.truncate_metrics(generation)?;
    let cfg_path = dir.path.join("config.toml");
    fs::write(&cfg_path, trainer.config.to_toml()).map_err(io(&cfg_path))?;
    Ok((trainer, dir))
}
