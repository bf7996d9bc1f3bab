//! `satr eval`: the mode genome of a checkpoint over fresh episodes, with what it
//! costs to run and, on request, a transcript of every step.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use super::engines::Engines;
use super::error::{io_error, TrainError};
use crate::checkpoint::{self, Checkpoint};
use crate::config::Backend;
use crate::distribution;
use crate::evaluation::{GenerationRequest, Normalizer};
use crate::policy::cost::PolicyCost;
use crate::policy::episodes::{self, EpisodeKey, Runner};
use crate::policy::Policy;
use crate::tasks::Action;

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
    /// Spikes and synaptic operations of the same episodes, run on the CPU.
    pub cost: PolicyCost,
}

/// The episodes `satr eval` runs: eval member `m` of the checkpoint's generation
/// (a request of no train members), its episode 0, for `m` in `0..episodes`.
pub fn eval_keys(seed: u64, generation: u32, episodes: usize) -> Vec<EpisodeKey> {
    (0..episodes as u32)
        .map(|member| EpisodeKey {
            seed,
            generation,
            member,
            episode: 0,
        })
        .collect()
}

/// Evaluates the checkpoint at `path` (a file or a run directory) over `episodes`
/// episodes with `seed` (default: the run's), on `backend` (default: the run's);
/// with `transcript`, also writes every step of every episode there (JSON lines).
pub fn eval(
    engines: &Engines<'_>,
    path: &Path,
    episodes: usize,
    seed: Option<u64>,
    backend: Option<&str>,
    transcript: Option<&Path>,
) -> Result<EvalReport, TrainError> {
    if episodes == 0 {
        return Err(TrainError::Usage("--episodes must be at least 1".into()));
    }
    let mut ck = Checkpoint::load(&checkpoint::resolve(path))?;
    if let Some(b) = backend {
        ck.config.backend = b.parse::<Backend>()?;
    }
    let cfg = &ck.config;
    let seed = seed.unwrap_or(cfg.seed);
    let policy = Policy::from_checkpoint(&ck)?;
    let max_steps = cfg.episode_step_limit(&policy.spec);
    let mut evaluator = engines.evaluator(cfg, &policy.spec)?;
    let th = distribution::thresholds(&ck.p);
    let norm = Normalizer::from_stats(&ck.obs_stats, cfg.evaluation.clip_obs);
    let req = GenerationRequest::new(seed, ck.generation, &ck.p, &th, &norm, 0, max_steps)
        .with_eval(episodes, 1);
    let r = evaluator.evaluate(&req)?.eval;
    let keys = eval_keys(seed, ck.generation, episodes);
    // The transcript's episodes are these episodes: its run counts their cost.
    let cost = match transcript {
        Some(t) => write_transcript(&policy, &keys, max_steps, t)?,
        None => episodes::run_all(&policy, &keys, max_steps)?.1,
    };
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
        cost,
    })
}

/// f32 values as the f64 numbers they are, so a reader parsing JSON numbers as f64
/// gets every bit back.
fn wide(xs: &[f32]) -> Vec<f64> {
    xs.iter().map(|&x| x as f64).collect()
}

/// Writes the transcript of `keys`' episodes to `path` (atomically): per episode a
/// line with its key, one line per step (`obs`, normalised input `x`, raw outputs
/// `out`, `action`, `reward`, `spikes`) and a closing line with its return. Returns
/// the cost of those episodes.
pub fn write_transcript(
    policy: &Policy,
    keys: &[EpisodeKey],
    max_steps: usize,
    path: &Path,
) -> Result<PolicyCost, TrainError> {
    let mut runner = Runner::new(policy)?;
    crate::atomic_write::write_with(
        path,
        |p, e| io_error(p)(e),
        |out| {
            let mut failed = None;
            for (e, &key) in keys.iter().enumerate() {
                writeln!(out, "{}", json!({"episode": e, "key": key})).map_err(io_error(path))?;
                let summary = runner.episode(key, max_steps, |s| {
                    let action = match s.action {
                        Action::Discrete(k) => json!(k),
                        Action::Continuous(a) => json!(a),
                    };
                    let line = json!({
                        "episode": e, "step": s.step, "obs": s.obs, "x": wide(s.x),
                        "out": wide(s.out), "action": action, "reward": s.reward,
                        "spikes": s.spikes,
                    });
                    if let Err(err) = writeln!(out, "{line}") {
                        failed.get_or_insert(err);
                    }
                })?;
                if let Some(err) = failed.take() {
                    return Err(io_error(path)(err));
                }
                let end = json!({"episode": e, "return": summary.ret, "steps": summary.steps});
                writeln!(out, "{end}").map_err(io_error(path))?;
            }
            Ok(())
        },
    )?;
    Ok(runner.cost())
}
