//! The `[optimizer]` section: which rule runs and its hyperparameters.

use serde::{Deserialize, Serialize};

use crate::config::error::ConfigError;

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
    /// `S = max(0, C)` with `C` the Fisher inner product of this generation's
    /// gradient and the previous one's, optionally smoothed by `beta_s`: the two
    /// generations' noises are independent, so `C` estimates the signal energy
    /// without the single-generation noise floor that `S_u` subtracts.
    Cross,
}

/// How the KL budget follows the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// `delta = epsilon * S` (nats per unit of signal energy).
    Energy,
    /// `delta = epsilon * max(r, budget_floor)` with `r = S / E_tot` the signal's
    /// share of the gradient energy (both smoothed alike): `epsilon` nats under a
    /// clean signal, contracting with the noise share, never below the floor.
    Snr,
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
    /// The update rule.
    pub rule: Rule,
    /// Signal energy scaling the budget (`satr`; reported by `fixed_kl`).
    pub signal: Signal,
    /// Step direction (`satr` and `fixed_kl`).
    pub direction: Direction,
    /// How the budget follows the signal (`satr`).
    pub budget: Budget,
    /// Smallest signal share `budget = snr` uses, in [0, 1].
    pub budget_floor: f64,
    /// Fitness shaping before the reductions.
    pub shaping: Shaping,
    /// KL budget per unit of signal energy (`satr`, `budget = energy`), or the
    /// budget in nats under a clean signal (`budget = snr`).
    pub epsilon: f64,
    /// Upper bound on the KL budget (`satr`).
    pub delta_max: f64,
    /// Largest step multiplier for `direction = natural`.
    pub eta_max: f64,
    /// EMA factor for `signal = unbiased | cross` (0 = no smoothing).
    pub beta_s: f64,
    /// Constant KL budget of `fixed_kl`.
    pub fixed_delta: f64,
    /// Probabilities are kept in `[p_min, 1 - p_min]`.
    pub p_min: f64,
    /// No coordinate moves more than this in one generation (every rule): from the
    /// middle no single step reaches a bound. The default, 0.45, is above Adam's first
    /// step at the default `lr` (0.3), so it bounds runaway steps (natural directions,
    /// huge budgets at tiny populations) without touching ordinary ones.
    pub max_step: f64,
    /// Adam learning rate (`ec`, and the proposal of `direction = adam`).
    pub lr: f64,
    /// Adam first-moment decay.
    pub beta1: f64,
    /// Adam second-moment decay.
    pub beta2: f64,
    /// Adam denominator guard.
    pub adam_eps: f64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        OptimizerConfig {
            rule: Rule::Satr,
            signal: Signal::Raw,
            direction: Direction::Adam,
            budget: Budget::Energy,
            budget_floor: 0.1,
            shaping: Shaping::CenteredRanks,
            epsilon: 15.0,
            delta_max: 1e9,
            eta_max: 1e6,
            beta_s: 0.0,
            fixed_delta: 1.0,
            p_min: 1e-3,
            max_step: 0.45,
            lr: 0.3,
            beta1: 0.9,
            beta2: 0.999,
            adam_eps: 1e-8,
        }
    }
}

impl OptimizerConfig {
    /// Checks every value; errors name the key as `optimizer.<field>`.
    ///
    /// Every numeric field is checked whatever the rule, so a config that
    /// validates stays valid when only `rule` is switched.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const NON_NEG: &str = "a finite number >= 0";
        const POSITIVE: &str = "a finite number > 0";
        const UNIT: &str = "[0, 1)";
        let non_neg = |x: f64| x >= 0.0;
        let positive = |x: f64| x > 0.0;
        let unit = |x: f64| (0.0..1.0).contains(&x);
        require("epsilon", self.epsilon, non_neg, NON_NEG)?;
        require("delta_max", self.delta_max, non_neg, NON_NEG)?;
        require("eta_max", self.eta_max, positive, POSITIVE)?;
        require("beta_s", self.beta_s, unit, UNIT)?;
        require(
            "budget_floor",
            self.budget_floor,
            |x| (0.0..=1.0).contains(&x),
            "[0, 1]",
        )?;
        require("fixed_delta", self.fixed_delta, non_neg, NON_NEG)?;
        require("p_min", self.p_min, |x| x > 0.0 && x < 0.5, "(0, 0.5)")?;
        require("max_step", self.max_step, |x| x > 0.0 && x <= 1.0, "(0, 1]")?;
        require("lr", self.lr, positive, POSITIVE)?;
        require("beta1", self.beta1, unit, UNIT)?;
        require("beta2", self.beta2, unit, UNIT)?;
        require("adam_eps", self.adam_eps, positive, POSITIVE)?;
        Ok(())
    }
}

/// Rejects non-finite values up front, since NaN slips through every comparison.
fn require(
    field: &str,
    value: f64,
    ok: impl Fn(f64) -> bool,
    allowed: &str,
) -> Result<(), ConfigError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(ConfigError::range(
            &format!("optimizer.{field}"),
            value,
            allowed,
        ))
    }
}
