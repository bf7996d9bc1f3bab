//! The evaluation protocol (SPEC 5) and the seam between the training loop and the
//! backends: a [`PopulationEvaluator`] turns `(p, seed, generation, task)` into the
//! fitness of every member and the reductions `A`, `B` of SPEC 4.

mod episode;
mod lockstep;
mod normalizer;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use self::episode::{action_from_output, EpisodeLedger, MemberEpisodes};
pub use self::lockstep::{Lockstep, LockstepNet};
pub use self::normalizer::{Normalizer, ObsStats};
pub use crate::distribution::Reductions;
use crate::tasks::TaskError;

/// Errors a backend can raise while evaluating a generation.
#[derive(Debug, Error)]
pub enum EngineError {
    #[error(transparent)]
    Task(#[from] TaskError),
    /// A population or network that cannot fit the device, naming the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The network config is invalid (names the key and the allowed range).
    #[error(transparent)]
    Config(#[from] crate::config::error::ConfigError),
    /// A GPU failure (adapter, device, pipeline or mapping).
    #[error("GPU backend: {0}")]
    Gpu(String),
    /// The GPU device was lost (driver reset, removal, destruction): the evaluator
    /// cannot continue; a new device (a new process, or a new `Engines`) is needed.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A request the evaluator cannot serve (members out of range, sizes that do not
    /// match its network): a caller's mistake, not a backend failure.
    #[error("bad evaluation request: {0}")]
    BadRequest(String),
}

/// How a host evaluator steps members' tasks (the config key `evaluation.stepping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stepping {
    /// Lockstep for tasks that bring their own batched constructor (or have no other),
    /// member by member otherwise.
    #[default]
    Auto,
    /// Each member's episodes run start to end on one thread, its task beside its
    /// network in cache (the faster path for tasks stepped one member at a time).
    PerMember,
    /// All members of a chunk step together: every network, then one batched task call.
    Lockstep,
}

/// Builds a fresh task instance (one per member being evaluated, so they run in parallel).
pub use crate::tasks::TaskFactory;

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

impl<'a> GenerationRequest<'a> {
    /// A request for `population` train members, one episode each, no eval members
    /// (add them with [`GenerationRequest::with_eval`]).
    pub fn new(
        seed: u64,
        generation: u32,
        p: &'a [f64],
        thresholds: &'a [u32],
        normalizer: &'a Normalizer,
        population: usize,
        max_episode_steps: usize,
    ) -> Self {
        GenerationRequest {
            seed,
            generation,
            p,
            thresholds,
            population,
            eval_members: 0,
            episodes_per_member: 1,
            max_episode_steps,
            normalizer,
        }
    }

    /// The same request with `eval_members` mode-genome members and
    /// `episodes_per_member` episodes for every member.
    pub fn with_eval(self, eval_members: usize, episodes_per_member: usize) -> Self {
        GenerationRequest {
            eval_members,
            episodes_per_member,
            ..self
        }
    }

    /// Train and eval members together, `P + E`.
    pub fn members(&self) -> usize {
        self.population + self.eval_members
    }
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

/// A backend that evaluates populations. The training loop sees only this. `Send`, so
/// a trainer can be held and driven from another thread (or another language).
pub trait PopulationEvaluator: Send {
    /// Backend and device, for logs and metrics.
    fn describe(&self) -> String;
    /// The task's observation dimension (sizes the merged statistics).
    fn obs_dim(&self) -> usize;
    /// Runs only members `members` (indices `0..P` train, `P..P+E` eval) and returns
    /// their outcomes in order: the building block for spreading one population over
    /// several processes.
    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError>;
    /// Runs every train and eval member of the request.
    fn evaluate(&mut self, req: &GenerationRequest<'_>) -> Result<GenerationFitness, EngineError> {
        let outcomes = self.evaluate_members(req, 0..req.members())?;
        Ok(GenerationFitness::from_members(
            req.population,
            self.obs_dim(),
            &outcomes,
        ))
    }
    /// The reductions `A`, `B` of the train genomes of `req` under utilities `u`
    /// (called after [`PopulationEvaluator::evaluate`] for the same request).
    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError>;
    /// [`PopulationEvaluator::reductions`] for the coordinates of genome words `words`
    /// only (`64 * words.start .. min(64 * words.end, D)`), with this backend's own
    /// arithmetic, so that the pieces of any split of the words, put together, are bit
    /// for bit what `reductions` returns: the building block for splitting the
    /// reductions over processes. `u1`, `u2` and `population` are the whole request's.
    /// The default samples those words of every train genome on the host and sums in
    /// f64 in member order, as the CPU backend's `reductions` does
    /// ([`crate::distribution::reductions_of_words`]); a backend that reduces otherwise
    /// must override it.
    fn reductions_of_words(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
        words: std::ops::Range<usize>,
    ) -> Result<Reductions, EngineError> {
        Ok(crate::distribution::reductions_of_words(
            req.thresholds,
            req.seed,
            req.generation,
            utilities,
            words,
        ))
    }
}
