//! A trained policy outside training: the mode genome of a run (SPEC 2) with all that
//! runs it (the SPEC 1 constants, the frozen observation normaliser, the task's action
//! mapping). [`episodes`] steps it on the CPU one episode at a time, in the evaluator's
//! order and arithmetic, and reports every step (`satr eval --transcript`) and what it
//! cost ([`cost`]: spikes, synaptic operations); [`export`] writes it to files other
//! tools read (safetensors, NIR).

pub mod cost;
pub mod episodes;
pub mod export;

use thiserror::Error;

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::cpu::PackedNet;
use crate::distribution::{self, bit};
use crate::evaluation::{Normalizer, ObsStats};
use crate::network::{Constants, NetworkConfig, Shape};
use crate::tasks::{ActionSpace, Task, TaskError, TaskSpec};
use std::sync::Arc;

/// Why a policy could not be built or written.
#[derive(Debug, Error)]
pub enum PolicyError {
    #[error(transparent)]
    Task(#[from] TaskError),
    /// The distribution does not fit the config's network (a damaged checkpoint).
    #[error(
        "the checkpoint holds {found} probabilities, but its config's network needs {expected}"
    )]
    Length { expected: usize, found: usize },
    /// The observation statistics do not fit the task.
    #[error(
        "the checkpoint's observation statistics have {found} dimensions, the task has {expected}"
    )]
    ObsDim { expected: usize, found: usize },
    /// A file format refused the data.
    #[error("{format}: {reason}")]
    Format {
        format: &'static str,
        reason: String,
    },
}

/// The mode genome of a distribution and everything needed to run it.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The task the policy was trained on.
    pub task: String,
    /// Its spec, resolved once by whoever built the policy.
    pub spec: Arc<TaskSpec>,
    pub network: NetworkConfig,
    pub shape: Shape,
    pub constants: Constants,
    /// The mode genome, packed bits in SPEC 1 order.
    pub genome: Vec<u64>,
    /// Observation mean and population variance the normaliser was frozen from.
    pub obs_mean: Vec<f64>,
    pub obs_var: Vec<f64>,
    pub clip_obs: f64,
    pub normalizer: Normalizer,
    pub action: ActionSpace,
    /// Generations completed when the policy was taken.
    pub generation: u32,
    /// The run's seed (eval episodes draw their starts from it).
    pub seed: u64,
}

impl Policy {
    /// The mode genome of `p` under `cfg` on `task` (the config's task, resolved),
    /// normalised with `obs_stats`.
    pub fn new(
        cfg: &Config,
        task: &Arc<TaskSpec>,
        p: &[f64],
        obs_stats: &ObsStats,
        generation: u32,
    ) -> Result<Self, PolicyError> {
        let shape = cfg.shape_for(task);
        let expected = shape.layout().len();
        if p.len() != expected {
            return Err(PolicyError::Length {
                expected,
                found: p.len(),
            });
        }
        if obs_stats.mean.len() != shape.obs_dim || obs_stats.m2.len() != shape.obs_dim {
            return Err(PolicyError::ObsDim {
                expected: shape.obs_dim,
                found: obs_stats.mean.len(),
            });
        }
        let action = task.action_space()?;
        Ok(Policy {
            task: task.name().to_string(),
            spec: task.clone(),
            network: cfg.network.clone(),
            shape,
            constants: Constants::new(&cfg.network, &shape),
            genome: distribution::mode_genome(p),
            obs_mean: obs_stats.mean.clone(),
            obs_var: obs_stats.variance(),
            clip_obs: cfg.evaluation.clip_obs,
            normalizer: Normalizer::from_stats(obs_stats, cfg.evaluation.clip_obs),
            action,
            generation,
            seed: cfg.seed,
        })
    }

    /// The policy of a checkpoint, on its task (resolved in the registry).
    pub fn from_checkpoint(ck: &Checkpoint) -> Result<Self, PolicyError> {
        let task = ck.config.resolve_task()?;
        Policy::new(&ck.config, &task, &ck.p, &ck.obs_stats, ck.generation)
    }

    /// A fresh instance of the policy's task.
    pub fn make_task(&self) -> Result<Box<dyn Task>, TaskError> {
        self.spec.make()
    }

    /// The packed layouts the CPU engine runs.
    pub fn net(&self) -> PackedNet {
        PackedNet::from_genome(self.shape, &self.genome)
    }

    /// `W_in[j][n]`.
    pub fn w_in(&self, j: usize, n: usize) -> bool {
        bit(&self.genome, self.shape.layout().w_in(j, n))
    }

    /// `W_h[j][n]` (presynaptic `j`, postsynaptic `n`).
    pub fn w_h(&self, j: usize, n: usize) -> bool {
        bit(&self.genome, self.shape.layout().w_h(j, n))
    }

    /// `W_out[n][k]`.
    pub fn w_out(&self, n: usize, k: usize) -> bool {
        bit(&self.genome, self.shape.layout().w_out(n, k))
    }

    /// `sigma_n`: +1 for excitatory neurons, -1 for inhibitory ones.
    pub fn sign(&self, n: usize) -> i8 {
        if n < self.shape.n_exc {
            1
        } else {
            -1
        }
    }
}
