//! Update rules for the Bernoulli distribution over connections (SPEC section 4):
//! SATR (`signal` raw/unbiased x `direction` adam/natural), EC's Adam rule, and a
//! fixed-KL trust region. The rules see only `p` and the population reductions.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// Which update rule runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Signal-Adaptive Trust Region (SPEC 4.1).
    Satr,
    /// EC's rule: Adam on the gradient, then clip (SPEC 4.2).
    Ec,
    /// As SATR with a constant KL budget `fixed_delta`.
    FixedKl,
}

/// The signal energy `S` that scales SATR's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    /// `S = E_tot`.
    Raw,
    /// `S = max(0, S_u)`, optionally smoothed by `beta_s`.
    Unbiased,
}

/// The step direction of SATR and fixed-KL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// EC's Adam step as a proposal, only ever shrunk.
    Adam,
    /// The natural gradient `g`, scaled to fill the budget.
    Natural,
}

/// Fitness shaping applied before the reductions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shaping {
    /// Centred ranks in [-0.5, 0.5], ties averaged.
    CenteredRanks,
    /// Raw fitness values.
    None,
}

/// Hyperparameters of every rule (the `[optimizer]` section of a config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    pub rule: Rule,
    pub signal: Signal,
    pub direction: Direction,
    pub shaping: Shaping,
    /// KL budget per unit of signal energy (`satr`).
    pub epsilon: f64,
    /// Upper bound on the KL budget (`satr`).
    pub delta_max: f64,
    /// Largest step multiplier for `direction = natural`.
    pub eta_max: f64,
    /// EMA factor for `signal = unbiased` (0 = no smoothing).
    pub beta_s: f64,
    /// Constant KL budget of `fixed_kl`.
    pub fixed_delta: f64,
    /// Probabilities are kept in `[p_min, 1 - p_min]`.
    pub p_min: f64,
    /// Adam learning rate (`ec`, and the proposal of `direction = adam`).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub adam_eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            rule: Rule::Satr,
            signal: Signal::Raw,
            direction: Direction::Adam,
            shaping: Shaping::CenteredRanks,
            epsilon: 15.0,
            delta_max: 1e9,
            eta_max: 1e6,
            beta_s: 0.0,
            fixed_delta: 1.0,
            p_min: 1e-3,
            lr: 0.3,
            beta1: 0.9,
            beta2: 0.999,
            adam_eps: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Checks every value; errors name the key as `optimizer.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// The per-coordinate population reductions of SPEC 4 (computed by a backend).
#[derive(Debug, Clone, PartialEq)]
pub struct Reductions {
    /// `A_i = sum_k u_k x[k][i]`.
    pub a: Vec<f64>,
    /// `B_i = sum_k u_k^2 x[k][i]`.
    pub b: Vec<f64>,
    /// `U1 = sum_k u_k`.
    pub u1: f64,
    /// `U2 = sum_k u_k^2`.
    pub u2: f64,
    /// Number of train members `P`.
    pub population: usize,
}

/// Mutable state of the rules (saved in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OptimizerState {
    /// Adam first moment.
    pub m: Vec<f64>,
    /// Adam second moment.
    pub v: Vec<f64>,
    /// Adam step count.
    pub t: u64,
    /// EMA of the unbiased signal energy, once started.
    pub signal_ema: Option<f64>,
}

/// What one update reports (SPEC 4.2 / 7); `None` where a rule has no such value.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct UpdateStats {
    pub total_energy: Option<f64>,
    pub signal_energy: Option<f64>,
    pub snr: Option<f64>,
    pub kl_budget: Option<f64>,
    /// Exact KL(old || new) of the step taken.
    pub kl: f64,
    pub eta: Option<f64>,
    /// Mean Bernoulli entropy of `p` after the step, in nats.
    pub entropy: f64,
    /// Fraction of coordinates at `p_min` or `1 - p_min` after the step.
    pub clip_fraction: f64,
}

/// An update rule with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    pub config: OptimizerConfig,
    pub state: OptimizerState,
}

impl Optimizer {
    /// A fresh optimizer for a genome of `dim` coordinates.
    pub fn new(config: OptimizerConfig, dim: usize) -> Self {
        Optimizer {
            config,
            state: OptimizerState {
                m: vec![0.0; dim],
                v: vec![0.0; dim],
                t: 0,
                signal_ema: None,
            },
        }
    }

    /// Updates `p` in place from the reductions and reports the step.
    pub fn step(&mut self, p: &mut [f64], red: &Reductions) -> UpdateStats {
        let _ = (p, red);
        UpdateStats::default()
    }
}

/// Shapes raw fitness values into utilities `u_k`.
pub fn shape(fitness: &[f64], shaping: Shaping) -> Vec<f64> {
    let _ = shaping;
    fitness.to_vec()
}
