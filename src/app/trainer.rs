//! The state of a run and one generation of it: evaluate through a
//! [`PopulationEvaluator`], shape the fitness, reduce, update `p` with the configured
//! rule (a pure function of `p` and the reductions), and report [`Metrics`].

use std::sync::Arc;
use std::time::Instant;

use super::error::TrainError;
use super::metrics::Metrics;
use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::distribution;
use crate::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use crate::optimizer::{self, Optimizer};
use crate::policy::cost::PolicyCost;
use crate::policy::episodes::{self, EpisodeKey};
use crate::policy::Policy;
use crate::tasks::TaskSpec;

/// At or below this population a run starts with a warning about its noise level.
pub const SMALL_POPULATION: usize = 4;

/// The state of a run and the evaluator that advances it.
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
    /// The run's task, resolved once (the evaluator, the cost probe and the policy
    /// all use this spec).
    task: Arc<TaskSpec>,
    evaluator: Box<dyn PopulationEvaluator>,
}

impl Trainer {
    /// A fresh run: `p = 0.5` everywhere (SPEC 2), on `task` (the config's task,
    /// resolved) evaluated by `evaluator` (built for that task).
    pub fn new(
        config: Config,
        task: Arc<TaskSpec>,
        evaluator: Box<dyn PopulationEvaluator>,
    ) -> Result<Self, TrainError> {
        config.validate()?;
        if task.name() != config.task {
            return Err(TrainError::Mismatch(format!(
                "the config names task `{}` but the trainer was given `{}`",
                config.task,
                task.name()
            )));
        }
        let shape = config.shape_for(&task);
        if evaluator.obs_dim() != shape.obs_dim {
            return Err(TrainError::Mismatch(format!(
                "the evaluator observes {} values but task `{}` has {}",
                evaluator.obs_dim(),
                task.name(),
                shape.obs_dim
            )));
        }
        // Before the genome-sized arrays below (and the reductions) are allocated.
        super::memory::check(&config, &shape)?;
        let dim = shape.layout().len();
        if config.population <= SMALL_POPULATION {
            // With centred ranks the noise energy of the gradient estimate is about
            // D / (12 P) (SPEC 4.1); the signal measured on the built-in tasks is ~1%
            // of the energy even at P 16-256 (docs/results/small-population).
            tracing::warn!(
                population = config.population,
                noise_energy = dim as f64 / (12.0 * config.population as f64),
                "population {} is too small for a usable gradient estimate: its noise energy \
                 is about D / (12 P) = {:.0} (D = {dim} coordinates), so each step is mostly \
                 noise; use population >= 16",
                config.population,
                dim as f64 / (12.0 * config.population as f64),
            );
        }
        Ok(Trainer {
            optimizer: Optimizer::new(config.optimizer.clone(), dim),
            p: vec![0.5; dim],
            obs_stats: ObsStats::new(shape.obs_dim),
            generation: 0,
            env_steps: 0,
            wall_s: 0.0,
            config,
            task,
            evaluator,
        })
    }

    /// Continues from a checkpoint exactly where it stopped.
    pub fn from_checkpoint(
        ck: Checkpoint,
        task: Arc<TaskSpec>,
        evaluator: Box<dyn PopulationEvaluator>,
    ) -> Result<Self, TrainError> {
        let mut t = Trainer::new(ck.config.clone(), task, evaluator)?;
        let network = format!("the config's network (N {})", t.config.network.neurons);
        let dim = t.obs_stats.mean.len();
        let task = format!("task `{}`, which observes {dim} values,", t.task.name());
        check_fits(&ck, t.p.len(), dim, &network, &task)?;
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

    /// The run's task.
    pub fn task(&self) -> &Arc<TaskSpec> {
        &self.task
    }

    /// The policy of the current distribution: its mode genome with the normaliser of
    /// every generation so far (what a checkpoint of this moment exports).
    pub fn policy(&self) -> Result<Policy, TrainError> {
        Ok(Policy::new(
            &self.config,
            &self.task,
            &self.p,
            &self.obs_stats,
            self.generation,
        )?)
    }

    /// Backend description.
    pub fn backend(&self) -> String {
        self.evaluator.describe()
    }

    /// True once every planned generation has run (or `run.max_env_steps` is spent).
    pub fn finished(&self) -> bool {
        self.config.run_complete(self.generation, self.env_steps)
    }

    /// What the mode genome of this generation costs to run: the first eval member's
    /// episodes (member `P`, the ones the evaluation just ran) replayed on the CPU with
    /// every spike counted. `None` without eval members or with
    /// `evaluation.cost_figures` off.
    fn eval_cost(&self, max_steps: usize) -> Result<Option<PolicyCost>, TrainError> {
        let cfg = &self.config;
        // A batched-only task has no single-member instance to replay on.
        if cfg.evaluation.eval_members == 0
            || !self.task.per_member()
            || !cfg.evaluation.cost_figures
        {
            return Ok(None);
        }
        let policy = Policy::new(cfg, &self.task, &self.p, &self.obs_stats, self.generation)?;
        let keys: Vec<EpisodeKey> = (0..cfg.evaluation.episodes_per_member as u32)
            .map(|episode| EpisodeKey {
                seed: cfg.seed,
                generation: self.generation,
                member: cfg.population as u32,
                episode,
            })
            .collect();
        Ok(Some(episodes::run_all(&policy, &keys, max_steps)?.1))
    }

    /// Runs one generation and updates `p`.
    pub fn step(&mut self) -> Result<Metrics, TrainError> {
        let start = Instant::now();
        let cfg = &self.config;
        let max_steps = cfg.episode_step_limit(&self.task);
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
        let finite = |xs: &[f64]| {
            xs.iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect::<Vec<_>>()
        };
        let (train, eval) = (finite(&fit.train), finite(&fit.eval));
        if train.is_empty() && !fit.train.is_empty() {
            return Err(TrainError::NonFinite {
                generation: self.generation,
                members: fit.train.len(),
            });
        }
        let non_finite = (fit.train.len() - train.len() + fit.eval.len() - eval.len()) as u32;
        if non_finite > 0 {
            tracing::warn!(
                generation = self.generation,
                members = non_finite,
                "non-finite fitness (NaN or infinite reward or observation): ranked last"
            );
        }
        let cost = self.eval_cost(max_steps)?;
        let u = optimizer::shape(&fit.train, cfg.optimizer.shaping);
        let red = self.evaluator.reductions(&req, &u)?;
        let stats = self.optimizer.step(&mut self.p, &red);
        self.obs_stats.merge(&fit.obs_stats);
        let elapsed = start.elapsed().as_secs_f64();
        self.env_steps += fit.env_steps;
        self.wall_s += elapsed;
        let generation = self.generation;
        self.generation += 1;
        let n = train.len() as f64;
        Ok(Metrics {
            generation,
            eval_return: (!eval.is_empty()).then(|| eval.iter().sum::<f64>() / eval.len() as f64),
            train_return_mean: train.iter().sum::<f64>() / n,
            train_return_max: train.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            train_return_min: train.iter().cloned().fold(f64::INFINITY, f64::min),
            non_finite_members: non_finite,
            cost: cost.map(Into::into),
            update: stats,
            env_steps: self.env_steps,
            wall_s: self.wall_s,
            env_steps_per_s: fit.env_steps as f64 / elapsed.max(1e-9),
        })
    }
}

/// A checkpoint's arrays fit a network of `coordinates` and observations of `obs_dim`
/// values (`network` and `observer` name what needs them in the error), and its
/// probabilities lie inside the configured bounds. Shared by [`Trainer::from_checkpoint`]
/// and `Strategy::from_checkpoint`.
pub(crate) fn check_fits(
    ck: &Checkpoint,
    coordinates: usize,
    obs_dim: usize,
    network: &str,
    observer: &str,
) -> Result<(), TrainError> {
    let mismatch = |what, found, expected, needed_by: &str| TrainError::CheckpointMismatch {
        what,
        found,
        expected,
        needed_by: needed_by.to_string(),
    };
    if ck.p.len() != coordinates {
        return Err(mismatch("distribution p", ck.p.len(), coordinates, network));
    }
    let (mean, m2) = (ck.obs_stats.mean.len(), ck.obs_stats.m2.len());
    if mean != obs_dim || m2 != obs_dim {
        let found = if mean != obs_dim { mean } else { m2 };
        return Err(mismatch("observation normaliser", found, obs_dim, observer));
    }
    let st = &ck.optimizer;
    for (what, found) in [
        ("optimizer state m", st.m.len()),
        ("optimizer state v", st.v.len()),
    ] {
        if found != ck.p.len() {
            return Err(mismatch(what, found, ck.p.len(), network));
        }
    }
    let p_min = ck.config.optimizer.p_min;
    if ck.p.iter().any(|&x| !(x >= p_min && x <= 1.0 - p_min)) {
        return Err(TrainError::CheckpointOutOfRange {
            low: p_min,
            high: 1.0 - p_min,
        });
    }
    Ok(())
}
