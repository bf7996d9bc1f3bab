//! Update rules for the Bernoulli distribution over connections (SPEC section 4):
//! SATR (`signal` raw/unbiased x `direction` adam/natural), EC's Adam rule, and a
//! fixed-KL trust region. The rules are pure: they see only `p` and the population
//! reductions, and import no backend, task or I/O.

mod config;
mod fisher;
mod shaping;

use serde::{Deserialize, Serialize};

pub use self::config::{Budget, Direction, OptimizerConfig, Rule, Shaping, Signal};
use self::fisher::{
    apply, chunked_sum, clip, energies_with_gradient, entropy_term, kl_at, largest_step, Range,
};
pub use self::fisher::{clip_fraction, energies, gradient, kl_bernoulli, mean_entropy, Energies};
pub use self::shaping::shape;
use crate::distribution::Reductions;

/// Mutable state of the rules (saved in checkpoints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct OptimizerState {
    /// Adam first moment.
    pub m: Vec<f64>,
    /// Adam second moment.
    pub v: Vec<f64>,
    /// Adam step count.
    pub t: u64,
    /// EMA of the unclamped signal estimate (`S_u` or `C`), once started.
    pub signal_ema: Option<f64>,
    /// EMA of `E_tot` with the same factor (`budget = snr` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_ema: Option<f64>,
    /// The previous generation's gradient (`signal = cross` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prev_gradient: Vec<f64>,
}

/// What one update reports (SPEC 4.2 / 7); `None` where a rule has no such value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UpdateStats {
    /// `E_tot` (every rule).
    pub total_energy: Option<f64>,
    /// `S`, the signal energy per `signal` (`satr`, `fixed_kl`).
    pub signal_energy: Option<f64>,
    /// `rho` (every rule).
    pub snr: Option<f64>,
    /// `delta`, the KL budget (`satr`, `fixed_kl`).
    pub kl_budget: Option<f64>,
    /// Exact KL(old || new) of the step taken.
    pub kl: f64,
    /// The step multiplier `t` found by the search (`satr`, `fixed_kl`).
    pub eta: Option<f64>,
    /// Mean Bernoulli entropy of `p` after the step, in nats.
    pub entropy: f64,
    /// Fraction of coordinates at `p_min` or `1 - p_min` after the step.
    pub clip_fraction: f64,
}

/// An update rule with its state.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimizer {
    /// Hyperparameters (validate them before stepping).
    pub config: OptimizerConfig,
    /// Adam moments and signal EMA.
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
                energy_ema: None,
                prev_gradient: Vec::new(),
            },
        }
    }

    /// Updates `p` in place from the reductions and reports the step.
    ///
    /// `p` is first projected into `[p_min, 1 - p_min]`; that is a no-op for
    /// any `p` this optimizer produced, and it keeps every `1 / v_i` finite.
    /// The Adam moments advance only for the rules that use them (`ec`, and
    /// `satr`/`fixed_kl` with `direction = adam`); the signal EMA advances for
    /// `satr` and `fixed_kl` (whose reported `S` follows `signal` too).
    ///
    /// # Panics
    /// If `red.a`, `red.b` (or a non-empty Adam state) do not have `p.len()`
    /// coordinates: that is a wiring bug, not a configuration problem.
    pub fn step(&mut self, p: &mut [f64], red: &Reductions) -> UpdateStats {
        let dim = p.len();
        assert_eq!(red.a.len(), dim, "Reductions::a has the wrong length");
        assert_eq!(red.b.len(), dim, "Reductions::b has the wrong length");
        let (lo, hi) = self.bounds();
        for x in p.iter_mut() {
            *x = clip(*x, lo, hi);
        }
        let range = Range {
            lo,
            hi,
            max_step: self.config.max_step,
        };
        let g = gradient(p, red);
        let e = energies_with_gradient(p, &g, red);
        let cfg = self.config.clone();

        let mut stats = UpdateStats {
            total_energy: Some(e.total),
            snr: Some(e.snr),
            ..UpdateStats::default()
        };
        match cfg.rule {
            Rule::Ec => {
                let d = self.adam_direction(&g);
                stats.kl = kl_at(p, &d, 1.0, range);
                apply(p, &d, 1.0, range);
            }
            Rule::Satr | Rule::FixedKl => {
                let signal = self.signal_energy(p, &g, &e);
                let delta = match (cfg.rule, cfg.budget) {
                    (Rule::FixedKl, _) => cfg.fixed_delta,
                    (_, Budget::Energy) => (cfg.epsilon * signal).min(cfg.delta_max),
                    (_, Budget::Snr) => {
                        let share = self.signal_share(signal, e.total);
                        (cfg.epsilon * share.max(cfg.budget_floor)).min(cfg.delta_max)
                    }
                };
                // NaN only from a config that failed validation; never step on it.
                let delta = if delta.is_nan() { 0.0 } else { delta.max(0.0) };
                let adam;
                let (d, t_max): (&[f64], f64) = match cfg.direction {
                    Direction::Adam => {
                        adam = self.adam_direction(&g);
                        (&adam, 1.0)
                    }
                    Direction::Natural => (&g, cfg.eta_max),
                };
                let (t, kl) = largest_step(p, d, delta, t_max, range);
                apply(p, d, t, range);
                stats.signal_energy = Some(signal);
                stats.kl_budget = Some(delta);
                stats.eta = Some(t);
                stats.kl = kl;
            }
        }
        let [entropy, clipped] = chunked_sum(dim, |i| {
            let x = p[i];
            [entropy_term(x), f64::from(u8::from(x <= lo || x >= hi))]
        });
        if dim > 0 {
            stats.entropy = entropy / dim as f64;
            stats.clip_fraction = clipped / dim as f64;
        }
        stats
    }

    fn bounds(&self) -> (f64, f64) {
        (self.config.p_min, 1.0 - self.config.p_min)
    }

    /// `S` of SPEC 4.1 for the configured `signal`, advancing the EMA.
    ///
    /// The EMA smooths the *unclamped* estimate and the clamp comes after:
    /// `ema_1 = X(1)`, `ema_n = beta_s * ema_{n-1} + (1 - beta_s) * X(n)`,
    /// `S = max(0, ema_n)`, with `X = S_u` (`unbiased`) or `X = C` (`cross`).
    /// Averaging before clamping keeps the average unbiased; clamping first
    /// would turn pure noise into a positive budget. Starting from the first
    /// estimate (not from 0) avoids a bias correction.
    ///
    /// `C = sum_i g_i g'_i / v_i` pairs this gradient with the previous
    /// generation's `g'` in the metric of the current `p`. Each generation's noise
    /// is independent of the other's, so while `p` moves little `C` is unbiased for
    /// the signal energy. The first generation has no `g'` and uses `S_u`.
    fn signal_energy(&mut self, p: &[f64], g: &[f64], e: &Energies) -> f64 {
        let estimate = match self.config.signal {
            Signal::Raw => return e.total,
            Signal::Unbiased => e.unbiased,
            Signal::Cross => {
                let prev = std::mem::replace(&mut self.state.prev_gradient, g.to_vec());
                if prev.len() == g.len() {
                    let [c] = chunked_sum(p.len(), |i| [g[i] * prev[i] / (p[i] * (1.0 - p[i]))]);
                    c
                } else {
                    e.unbiased
                }
            }
        };
        let ema = smooth(self.state.signal_ema, estimate, self.config.beta_s);
        self.state.signal_ema = Some(ema);
        ema.max(0.0)
    }

    /// `r = S / E_tot` in [0, 1] for `budget = snr`, `E_tot` smoothed as `S` is
    /// (so with `beta_s = 0` and `signal = unbiased`, `r = rho`).
    fn signal_share(&mut self, signal: f64, total: f64) -> f64 {
        if self.config.signal == Signal::Raw {
            return 1.0;
        }
        let ema = smooth(self.state.energy_ema, total, self.config.beta_s);
        self.state.energy_ema = Some(ema);
        if ema > 0.0 {
            (signal / ema).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// EC's Adam step ascending `g` (bias-corrected), before any clipping.
    fn adam_direction(&mut self, g: &[f64]) -> Vec<f64> {
        let cfg = &self.config;
        let st = &mut self.state;
        if st.m.is_empty() && st.v.is_empty() {
            // A default-constructed state: start the moments here.
            st.m = vec![0.0; g.len()];
            st.v = vec![0.0; g.len()];
        }
        assert_eq!(st.m.len(), g.len(), "Adam state m has the wrong length");
        assert_eq!(st.v.len(), g.len(), "Adam state v has the wrong length");
        st.t += 1;
        let steps = st.t as f64;
        let bc1 = 1.0 - cfg.beta1.powf(steps);
        let bc2 = 1.0 - cfg.beta2.powf(steps);
        let (b1, b2, lr, eps) = (cfg.beta1, cfg.beta2, cfg.lr, cfg.adam_eps);
        st.m.iter_mut()
            .zip(st.v.iter_mut())
            .zip(g)
            .map(|((m, v), &gi)| {
                *m = b1 * *m + (1.0 - b1) * gi;
                *v = b2 * *v + (1.0 - b2) * gi * gi;
                lr * (*m / bc1) / ((*v / bc2).sqrt() + eps)
            })
            .collect()
    }
}

/// One EMA step that starts from its first value (a non-finite history restarts it).
fn smooth(prev: Option<f64>, x: f64, beta: f64) -> f64 {
    match prev {
        Some(prev) if prev.is_finite() => beta * prev + (1.0 - beta) * x,
        _ => x,
    }
}
