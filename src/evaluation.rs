//! The evaluation protocol (SPEC 5) and the seam between the training loop and the
//! backends: a [`PopulationEvaluator`] turns `(p, seed, generation, task)` into the
//! fitness of every member and the reductions `A`, `B` of SPEC 4.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::optimizer::Reductions;
use crate::tasks::{Action, ActionSpace, Task, TaskError};

/// Errors a backend can raise while evaluating a generation.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A population or network that cannot fit the device, naming the limit.
    #[error("{0}")]
    TooLarge(String),
    /// A GPU failure (adapter, device, pipeline or mapping).
    #[error("GPU backend: {0}")]
    Gpu(String),
    /// An operation this backend does not provide.
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
}

/// Builds a fresh task instance (one per member being evaluated, so they run in parallel).
pub type TaskFactory = Arc<dyn Fn() -> Box<dyn Task> + Send + Sync>;

/// Running mean and variance of observations (Welford), merged across members with
/// Chan's formula in member order so the result is independent of thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsStats {
    pub count: u64,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ObsStats {
    /// No observations yet.
    pub fn new(dim: usize) -> Self {
        ObsStats {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Adds one observation.
    pub fn push(&mut self, obs: &[f64]) {
        self.count += 1;
        let n = self.count as f64;
        for ((m, m2), &o) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(obs) {
            let delta = o - *m;
            *m += delta / n;
            *m2 += delta * (o - *m);
        }
    }

    /// Merges another set of statistics into this one.
    pub fn merge(&mut self, other: &ObsStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = na + nb;
        for i in 0..self.mean.len() {
            let delta = other.mean[i] - self.mean[i];
            self.mean[i] += delta * nb / n;
            self.m2[i] += other.m2[i] + delta * delta * na * nb / n;
        }
        self.count += other.count;
    }

    /// Population variance per dimension (1 where nothing was seen yet).
    pub fn variance(&self) -> Vec<f64> {
        if self.count == 0 {
            return vec![1.0; self.mean.len()];
        }
        self.m2.iter().map(|m2| m2 / self.count as f64).collect()
    }
}

/// The observation normaliser of SPEC 5, frozen for one generation:
/// `x = clip((o - mean) / sqrt(var + 1e-8), -clip, clip)`, rounded to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    pub mean: Vec<f64>,
    pub inv_std: Vec<f64>,
    pub clip: f64,
}

impl Normalizer {
    /// Freezes the statistics seen so far.
    pub fn from_stats(stats: &ObsStats, clip: f64) -> Self {
        Normalizer {
            mean: stats.mean.clone(),
            inv_std: stats
                .variance()
                .iter()
                .map(|v| 1.0 / (v + 1e-8).sqrt())
                .collect(),
            clip,
        }
    }

    /// Normalises one observation into `x`.
    pub fn apply(&self, obs: &[f64], x: &mut [f32]) {
        for (((x, &o), &m), &s) in x.iter_mut().zip(obs).zip(&self.mean).zip(&self.inv_std) {
            *x = ((o - m) * s).clamp(-self.clip, self.clip) as f32;
        }
    }
}

/// Maps network outputs to an action (SPEC 1): discrete = argmax (lowest index on ties);
/// continuous = `clip(out, -1, 1)` scaled affinely onto `[low, high]`.
pub fn action_from_output<'a>(
    space: &ActionSpace,
    out: &[f32],
    buf: &'a mut Vec<f64>,
) -> Action<'a> {
    match space {
        ActionSpace::Discrete(n) => {
            let mut best = 0;
            for k in 1..*n {
                if out[k] > out[best] {
                    best = k;
                }
            }
            Action::Discrete(best)
        }
        ActionSpace::Continuous { low, high } => {
            buf.clear();
            for ((&o, &lo), &hi) in out.iter().zip(low).zip(high) {
                let a = (o as f64).clamp(-1.0, 1.0);
                buf.push(lo + (a + 1.0) * 0.5 * (hi - lo));
            }
            Action::Continuous(buf)
        }
    }
}

/// Everything a backend needs to evaluate one generation.
#[derive(Debug, Clone)]
pub struct GenerationRequest<'a> {
    pub seed: u64,
    pub generation: u32,
    /// The distribution (for the mode genome of eval members).
    pub p: &'a [f64],
    /// `threshold(p_i)` of SPEC 3, computed once by the host.
    pub thresholds: &'a [u32],
    /// Train members `P` (member indices `0..P`).
    pub population: usize,
    /// Eval members `E` (member indices `P..P+E`), all running the mode genome.
    pub eval_members: usize,
    pub episodes_per_member: usize,
    /// Episodes end at this many steps even if the task's own limit is larger.
    pub max_episode_steps: usize,
    /// Frozen observation normaliser.
    pub normalizer: &'a Normalizer,
}

/// What one generation's evaluation returns.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationFitness {
    /// Mean episodic return of each train member.
    pub train: Vec<f64>,
    /// Mean episodic return of each eval member.
    pub eval: Vec<f64>,
    /// Observations seen this generation (all members), for the next normaliser.
    pub obs_stats: ObsStats,
    /// Environment steps taken (all members, all episodes).
    pub env_steps: u64,
}

/// What one member's episodes produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberOutcome {
    /// Mean episodic return.
    pub fitness: f64,
    /// Environment steps taken.
    pub env_steps: u64,
    /// Observations seen.
    pub obs_stats: ObsStats,
}

impl GenerationFitness {
    /// Assembles a generation from the outcomes of members `0..P+E` in member order
    /// (the order fixes the floating-point merge of the observation statistics).
    pub fn from_members(population: usize, obs_dim: usize, outcomes: &[MemberOutcome]) -> Self {
        let mut out = GenerationFitness {
            train: Vec::with_capacity(population),
            eval: Vec::with_capacity(outcomes.len().saturating_sub(population)),
            obs_stats: ObsStats::new(obs_dim),
            env_steps: 0,
        };
        for (m, r) in outcomes.iter().enumerate() {
            if m < population {
                out.train.push(r.fitness);
            } else {
                out.eval.push(r.fitness);
            }
            out.env_steps += r.env_steps;
            out.obs_stats.merge(&r.obs_stats);
        }
        out
    }
}

/// A backend that evaluates populations. The training loop sees only this.
pub trait PopulationEvaluator {
    /// Backend and device, for logs and metrics.
    fn describe(&self) -> String;
    /// Runs every train and eval member of the request.
    fn evaluate(&mut self, req: &GenerationRequest<'_>) -> Result<GenerationFitness, EngineError>;
    /// Runs only members `members` (indices `0..P` train, `P..P+E` eval) and returns
    /// their outcomes in order: the building block for spreading one population over
    /// several processes.
    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        let _ = (req, members);
        Err(EngineError::Unsupported(format!(
            "{} cannot evaluate a subset of members",
            self.describe()
        )))
    }
    /// The reductions `A`, `B` of the train genomes of `req` under utilities `u`
    /// (called after [`PopulationEvaluator::evaluate`] for the same request).
    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stats_equal_sequential() {
        let obs: Vec<[f64; 2]> = (0..50)
            .map(|i| [i as f64 * 0.3, (i * i) as f64 % 7.0])
            .collect();
        let mut all = ObsStats::new(2);
        obs.iter().for_each(|o| all.push(o));
        let mut a = ObsStats::new(2);
        let mut b = ObsStats::new(2);
        obs[..17].iter().for_each(|o| a.push(o));
        obs[17..].iter().for_each(|o| b.push(o));
        a.merge(&b);
        assert_eq!(a.count, all.count);
        for i in 0..2 {
            assert!((a.mean[i] - all.mean[i]).abs() < 1e-12);
            assert!((a.m2[i] - all.m2[i]).abs() < 1e-9);
        }
    }

    #[test]
    fn actions() {
        let mut buf = Vec::new();
        assert_eq!(
            action_from_output(&ActionSpace::Discrete(3), &[0.5, 0.7, 0.7], &mut buf),
            Action::Discrete(1)
        );
        let space = ActionSpace::Continuous {
            low: vec![-2.0],
            high: vec![2.0],
        };
        assert_eq!(
            action_from_output(&space, &[3.0], &mut buf),
            Action::Continuous(&[2.0])
        );
        assert_eq!(
            action_from_output(&space, &[-0.25], &mut buf),
            Action::Continuous(&[-0.5])
        );
    }

    #[test]
    fn normalizer_clips() {
        let mut s = ObsStats::new(1);
        s.push(&[1.0]);
        s.push(&[3.0]);
        let n = Normalizer::from_stats(&s, 5.0);
        let mut x = [0.0f32];
        n.apply(&[3.0], &mut x);
        assert!((x[0] - 1.0).abs() < 1e-6);
        n.apply(&[100.0], &mut x);
        assert_eq!(x[0], 5.0);
    }
}
