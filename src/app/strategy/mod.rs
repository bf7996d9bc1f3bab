//! Ask/tell: the training loop with the environment on the caller's side.
//!
//! A [`Strategy`] is a run's state (`p`, the optimizer, the observation statistics,
//! the generation) without a task or an evaluator. [`Strategy::ask`] samples this
//! generation's members exactly as the CPU evaluator does (train members `0..P` from
//! the Philox genome streams, eval members `P..P+E` on the mode genome) and returns
//! them as a [`Population`] of packed networks; the caller runs its own episodes,
//! stepping every member's network with [`Population::act`], and hands the fitness of
//! every train member back to [`Strategy::tell`], which updates `p` as
//! [`super::Trainer::step`] does. **Higher fitness is better.**
//!
//! Driven as the evaluator drives its tasks (episodes reset from
//! [`crate::tasks::EpisodeKey::reset_stream`] of `(seed, generation, member, episode)`, one `act` per
//! environment step while the episode runs, at most the step limit, fitness = mean
//! return), a strategy reaches the same `p` as a [`super::Trainer`], bit for bit
//! (`tests/engine/strategy.rs`).

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;
use thiserror::Error;

mod population;

use self::population::Member;
pub use self::population::Population;
use super::error::TrainError;
use super::metrics::Metrics;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::config::{Config, ConfigError};
use crate::cpu::{sample_genomes, NetState, PackedNet};
use crate::distribution::{self, words_for};
use crate::evaluation::{Normalizer, ObsStats};
use crate::network::{Constants, Shape};
use crate::optimizer::{self, Optimizer};
use crate::tasks::ActionSpace;

/// What an ask/tell call can refuse.
#[derive(Debug, Error)]
pub enum StrategyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The run does not fit in memory, or a checkpoint does not fit the strategy.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// An array of the wrong length (observations, actions, fitness, a mask).
    #[error("{what}: expected {expected} values, got {found}")]
    Size {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// `tell` was given a population of another generation (or another strategy).
    #[error("tell: the population is of generation {asked}, but the strategy is at generation {current} (ask again)")]
    Stale { asked: u32, current: u32 },
    /// The sizes given do not make a network (no observations, no actions).
    #[error("{0}")]
    Space(String),
    /// Every train member's fitness is NaN or infinite.
    #[error("generation {generation}: all {members} train members have a non-finite fitness")]
    NonFinite { generation: u32, members: usize },
}

fn size(what: &'static str, expected: usize, found: usize) -> Result<(), StrategyError> {
    if expected == found {
        Ok(())
    } else {
        Err(StrategyError::Size {
            what,
            expected,
            found,
        })
    }
}

/// The state of an ask/tell run: `p`, the optimizer, the observation statistics of
/// the generations told so far, the generation.
#[derive(Debug, Clone)]
pub struct Strategy {
    pub config: Config,
    pub p: Vec<f64>,
    pub optimizer: Optimizer,
    /// Observations of all told generations (the next normaliser).
    pub obs_stats: ObsStats,
    /// Generations told.
    pub generation: u32,
    pub env_steps: u64,
    pub wall_s: f64,
    space: ActionSpace,
    shape: Shape,
}

impl Strategy {
    /// A fresh strategy (`p = 0.5` everywhere) for observations of `obs_dim` values
    /// and actions in `space`. The config's `task` is not looked up: the caller brings
    /// the environment; its other values are validated.
    pub fn new(config: Config, obs_dim: usize, space: ActionSpace) -> Result<Self, StrategyError> {
        config.validate_settings()?;
        if obs_dim == 0 {
            return Err(StrategyError::Space(
                "the observation size must be at least 1".into(),
            ));
        }
        match &space {
            ActionSpace::Discrete(n) if *n == 0 => {
                return Err(StrategyError::Space(
                    "a discrete action space needs at least 1 action".into(),
                ))
            }
            ActionSpace::Continuous { low, high } => {
                if low.is_empty() || low.len() != high.len() {
                    return Err(StrategyError::Space(format!(
                        "a continuous action space needs as many lower as upper bounds, at \
                         least one (got {} and {})",
                        low.len(),
                        high.len()
                    )));
                }
                if low
                    .iter()
                    .zip(high)
                    .any(|(l, h)| !(l.is_finite() && h.is_finite() && l <= h))
                {
                    return Err(StrategyError::Space(
                        "a continuous action space needs finite bounds with low <= high".into(),
                    ));
                }
            }
            _ => {}
        }
        let shape = Shape::new(&config.network, obs_dim, space.outputs());
        super::memory::check(&config, &shape)?;
        let dim = shape.layout().len();
        Ok(Strategy {
            optimizer: Optimizer::new(config.optimizer.clone(), dim),
            p: vec![0.5; dim],
            obs_stats: ObsStats::new(obs_dim),
            generation: 0,
            env_steps: 0,
            wall_s: 0.0,
            config,
            space,
            shape,
        })
    }

    /// Continues from a checkpoint (written by [`Strategy::save`] or by a run of the
    /// trainer). The checkpoint holds no action space: give it, or `None` for the
    /// config's task from the registry (a built-in task, say).
    pub fn from_checkpoint(
        ck: Checkpoint,
        space: Option<ActionSpace>,
    ) -> Result<Self, StrategyError> {
        let space = match space {
            Some(s) => s,
            None => crate::tasks::registry::find(&ck.config.task)
                .and_then(|t| t.action_space())
                .map_err(|e| {
                    StrategyError::Space(format!(
                        "the checkpoint holds no action space and its task is not known here \
                         ({e}); give the action space"
                    ))
                })?,
        };
        let obs_dim = ck.obs_stats.mean.len();
        let mut s = Strategy::new(ck.config.clone(), obs_dim, space)?;
        let needed_by = "the strategy's network and action space";
        super::trainer::check_fits(&ck, s.p.len(), obs_dim, needed_by, needed_by)?;
        s.p = ck.p;
        s.optimizer.state = ck.optimizer;
        s.obs_stats = ck.obs_stats;
        s.generation = ck.generation;
        s.env_steps = ck.env_steps;
        s.wall_s = ck.wall_s;
        Ok(s)
    }

    /// Reads a checkpoint file (see [`Strategy::from_checkpoint`]).
    pub fn load(path: &Path, space: Option<ActionSpace>) -> Result<Self, StrategyError> {
        Self::from_checkpoint(Checkpoint::load(path)?, space)
    }

    /// The state to save (the trainer's checkpoint format).
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

    /// Writes [`Strategy::checkpoint`] to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), StrategyError> {
        Ok(self.checkpoint().save(path)?)
    }

    /// The action space.
    pub fn action_space(&self) -> &ActionSpace {
        &self.space
    }

    /// The network shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// True once the config's generations (or `run.max_env_steps`) are spent.
    pub fn finished(&self) -> bool {
        self.config.run_complete(self.generation, self.env_steps)
    }

    /// The members of this generation: train members `0..P` sampled from `p` (the
    /// CPU evaluator's genomes, bit for bit), eval members `P..P+E` on the mode
    /// genome, each network reset for its episode 0.
    pub fn ask(&self) -> Population {
        let start = Instant::now();
        let cfg = &self.config;
        let (seed, generation) = (cfg.seed, self.generation);
        let population = cfg.population;
        let eval = cfg.evaluation.eval_members;
        let words = words_for(self.p.len());
        let thresholds = distribution::thresholds(&self.p);
        let mode = distribution::mode_genome(&self.p);
        let mut genomes = vec![0u64; words * population];
        sample_genomes(
            &thresholds,
            &vec![0; words],
            seed,
            generation,
            population,
            0,
            &mut genomes,
        );
        let constants = Constants::new(&cfg.network, &self.shape);
        let shape = self.shape;
        let members = (0..population + eval)
            .into_par_iter()
            .map(|m| {
                let genome = if m < population {
                    &genomes[m * words..(m + 1) * words]
                } else {
                    &mode[..]
                };
                let mut state = NetState::new(&shape);
                state.reset(&constants, seed, generation, m as u32, 0);
                Member {
                    net: PackedNet::from_genome(shape, genome),
                    state,
                    stats: ObsStats::new(shape.obs_dim),
                    episode: 0,
                    steps: 0,
                    x: vec![0.0; shape.obs_dim],
                    out: vec![0.0; shape.act_dim],
                    buf: Vec::with_capacity(shape.act_dim),
                }
            })
            .collect();
        Population {
            seed,
            generation,
            population,
            eval_members: eval,
            shape,
            space: self.space.clone(),
            constants,
            normalizer: Normalizer::from_stats(&self.obs_stats, cfg.evaluation.clip_obs),
            genomes,
            members,
            started: start,
        }
    }

    /// Updates `p` from the fitness of every train member of `population` (this
    /// generation's [`Strategy::ask`]), higher being better; `eval` is the eval
    /// members' fitness, if the caller ran them (it is only reported). Non-finite
    /// fitness ranks last. Returns the generation's record (without the cost figures,
    /// which need a task to replay).
    pub fn tell(
        &mut self,
        population: &Population,
        fitness: &[f64],
        eval: Option<&[f64]>,
    ) -> Result<Metrics, StrategyError> {
        if population.generation != self.generation
            || population.seed != self.config.seed
            || population.shape != self.shape
            || population.population != self.config.population
        {
            return Err(StrategyError::Stale {
                asked: population.generation,
                current: self.generation,
            });
        }
        size(
            "fitness of the train members",
            population.population,
            fitness.len(),
        )?;
        let eval = eval.unwrap_or(&[]);
        if !eval.is_empty() {
            size(
                "fitness of the eval members",
                population.eval_members,
                eval.len(),
            )?;
        }
        let finite = |xs: &[f64]| {
            xs.iter()
                .copied()
                .filter(|x| x.is_finite())
                .collect::<Vec<_>>()
        };
        let (train, evals) = (finite(fitness), finite(eval));
        if train.is_empty() {
            return Err(StrategyError::NonFinite {
                generation: self.generation,
                members: fitness.len(),
            });
        }
        let non_finite = (fitness.len() - train.len() + eval.len() - evals.len()) as u32;
        let cfg = &self.config;
        let u = optimizer::shape(fitness, cfg.optimizer.shaping);
        let red = distribution::reductions(&population.genomes, self.p.len(), &u);
        let update = self.optimizer.step(&mut self.p, &red);
        self.obs_stats.merge(&population.obs_stats());
        let steps = population.env_steps();
        let elapsed = population.started.elapsed().as_secs_f64();
        self.env_steps += steps;
        self.wall_s += elapsed;
        let generation = self.generation;
        self.generation += 1;
        let n = train.len() as f64;
        Ok(Metrics {
            generation,
            eval_return: (!evals.is_empty())
                .then(|| evals.iter().sum::<f64>() / evals.len() as f64),
            train_return_mean: train.iter().sum::<f64>() / n,
            train_return_max: train.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            train_return_min: train.iter().cloned().fold(f64::INFINITY, f64::min),
            non_finite_members: non_finite,
            cost: None,
            update,
            env_steps: self.env_steps,
            wall_s: self.wall_s,
            env_steps_per_s: steps as f64 / elapsed.max(1e-9),
        })
    }
}
