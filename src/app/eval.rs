//! `satr eval`: the mode genome of a checkpoint over fresh episodes.

use std::path::Path;

use serde::Serialize;

use super::engines::Engines;
use super::error::TrainError;
use crate::checkpoint::{self, Checkpoint};
use crate::config::Backend;
use crate::distribution;
use crate::evaluation::{GenerationRequest, Normalizer};

/// The returns of a checkpoint's evaluation (printed as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub task: String,
    pub generation: u32,
    pub episodes: usize,
    pub mean_return: f64,
    pub std_return: f64,
    pub min_return: f64,
    pub max_return: f64,
}

/// Evaluates the checkpoint at `path` (a file or a run directory) over `episodes`
/// episodes with `seed` (default: the run's), on `backend` (default: the run's).
pub fn eval(
    engines: &Engines<'_>,
    path: &Path,
    episodes: usize,
    seed: Option<u64>,
    backend: Option<&str>,
) -> Result<EvalReport, TrainError> {
    if episodes == 0 {
        return Err(TrainError::Usage("--episodes must be at least 1".into()));
    }
    let mut ck = Checkpoint::load(&checkpoint::resolve(path))?;
    if let Some(b) = backend {
        ck.config.backend = b.parse::<Backend>()?;
    }
    let cfg = &ck.config;
    let mut evaluator = engines.evaluator(cfg)?;
    let th = distribution::thresholds(&ck.p);
    let norm = Normalizer::from_stats(&ck.obs_stats, cfg.evaluation.clip_obs);
    let req = GenerationRequest::new(
        seed.unwrap_or(cfg.seed),
        ck.generation,
        &ck.p,
        &th,
        &norm,
        0,
        cfg.episode_step_limit()?,
    )
    .with_eval(episodes, 1);
    let r = evaluator.evaluate(&req)?.eval;
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    Ok(EvalReport {
        task: cfg.task.clone(),
        generation: ck.generation,
        episodes,
        mean_return: mean,
        std_return: (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
        min_return: r.iter().cloned().fold(f64::INFINITY, f64::min),
        max_return: r.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    })
}
