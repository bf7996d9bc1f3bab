//! Update rules for the Bernoulli distribution over connections (SPEC section 4):
//! SATR (`signal` raw/unbiased x `direction` adam/natural), EC's Adam rule, and a
//! fixed-KL trust region. The rules see only `p` and the population reductions.

use rayon::prelude::*;
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
    /// The update rule.
    pub rule: Rule,
    /// Signal energy scaling the budget (`satr`; reported by `fixed_kl`).
    pub signal: Signal,
    /// Step direction (`satr` and `fixed_kl`).
    pub direction: Direction,
    /// Fitness shaping before the reductions.
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
        require("fixed_delta", self.fixed_delta, non_neg, NON_NEG)?;
        require("p_min", self.p_min, |x| x > 0.0 && x < 0.5, "(0, 0.5)")?;
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
                stats.kl = kl_at(p, &d, 1.0, lo, hi);
                apply(p, &d, 1.0, lo, hi);
            }
            Rule::Satr | Rule::FixedKl => {
                let signal = self.signal_energy(&e);
                let delta = match cfg.rule {
                    Rule::FixedKl => cfg.fixed_delta,
                    _ => (cfg.epsilon * signal).min(cfg.delta_max),
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
                let (t, kl) = largest_step(p, d, delta, t_max, lo, hi);
                apply(p, d, t, lo, hi);
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
    /// The EMA smooths the *unclamped* unbiased estimate and the clamp comes
    /// after: `ema_1 = S_u(1)`, `ema_n = beta_s * ema_{n-1} + (1 - beta_s) * S_u(n)`,
    /// `S = max(0, ema_n)`. Averaging before clamping keeps the average
    /// unbiased; clamping first would turn pure noise into a positive budget.
    /// Starting from the first estimate (not from 0) avoids a bias correction.
    fn signal_energy(&mut self, e: &Energies) -> f64 {
        match self.config.signal {
            Signal::Raw => e.total,
            Signal::Unbiased => {
                let beta = self.config.beta_s;
                let ema = match self.state.signal_ema {
                    Some(prev) if prev.is_finite() => beta * prev + (1.0 - beta) * e.unbiased,
                    _ => e.unbiased,
                };
                self.state.signal_ema = Some(ema);
                ema.max(0.0)
            }
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

/// Shapes raw fitness values into utilities `u_k`.
///
/// Centred ranks: ranks `0..P-1` ascending, tied values share the mean of
/// their ranks, `u = rank / (P - 1) - 0.5` (so `P = 1` gives `u = 0`). NaN
/// fitness ranks below every number (a broken evaluation should never be
/// rewarded) and NaNs tie with each other. `Shaping::None` returns the values
/// unchanged.
pub fn shape(fitness: &[f64], shaping: Shaping) -> Vec<f64> {
    match shaping {
        Shaping::None => fitness.to_vec(),
        Shaping::CenteredRanks => centered_ranks(fitness),
    }
}

fn centered_ranks(fitness: &[f64]) -> Vec<f64> {
    use std::cmp::Ordering;
    let n = fitness.len();
    if n <= 1 {
        return vec![0.0; n];
    }
    let cmp = |a: f64, b: f64| match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        // -0.0 and 0.0 tie, unlike total_cmp.
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| cmp(fitness[i], fitness[j]));
    let mut u = vec![0.0; n];
    let scale = (n - 1) as f64;
    let mut start = 0;
    while start < n {
        let mut end = start + 1;
        while end < n && cmp(fitness[order[start]], fitness[order[end]]) == Ordering::Equal {
            end += 1;
        }
        let rank = (start + end - 1) as f64 / 2.0;
        for &k in &order[start..end] {
            u[k] = rank / scale - 0.5;
        }
        start = end;
    }
    u
}

/// Population reductions straight from unpacked genomes: the plain reference
/// that packed backends are checked against.
///
/// `genomes[k]` is member `k`'s genome and `u[k]` its utility. An empty
/// population gives empty `a`/`b` (there is no genome to take the length from).
///
/// # Panics
/// If `genomes` and `u` differ in length or the genomes differ in length.
pub fn reductions_from_bits<G: AsRef<[bool]>>(genomes: &[G], u: &[f64]) -> Reductions {
    assert_eq!(genomes.len(), u.len(), "one utility per genome");
    let dim = genomes.first().map_or(0, |g| g.as_ref().len());
    let mut a = vec![0.0; dim];
    let mut b = vec![0.0; dim];
    for (genome, &uk) in genomes.iter().zip(u) {
        let genome = genome.as_ref();
        assert_eq!(genome.len(), dim, "all genomes must have the same length");
        let uk2 = uk * uk;
        for ((ai, bi), &x) in a.iter_mut().zip(b.iter_mut()).zip(genome) {
            if x {
                *ai += uk;
                *bi += uk2;
            }
        }
    }
    Reductions {
        a,
        b,
        u1: u.iter().sum(),
        u2: u.iter().map(|x| x * x).sum(),
        population: u.len(),
    }
}

/// The population gradient `g_i = (A_i - p_i U1) / P` (zero for an empty population).
pub fn gradient(p: &[f64], red: &Reductions) -> Vec<f64> {
    assert_eq!(red.a.len(), p.len(), "Reductions::a has the wrong length");
    if red.population == 0 {
        return vec![0.0; p.len()];
    }
    let pop = red.population as f64;
    p.iter()
        .zip(&red.a)
        .map(|(&pi, &ai)| (ai - pi * red.u1) / pop)
        .collect()
}

/// The energies of SPEC 4.1, in the Fisher metric of `p`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Energies {
    /// `E_tot = sum g_i^2 / v_i`: energy of the estimated gradient.
    pub total: f64,
    /// `Q = sum ((1 - 2 p_i) B_i + p_i^2 U2) / v_i`: the members' own noise.
    pub q: f64,
    /// `S_u = (P^2 E_tot - Q) / (P (P - 1))`, unclamped; 0 when `P < 2`
    /// because no two distinct members exist to estimate it from.
    pub unbiased: f64,
    /// `rho = max(0, S_u) / E_tot`, 0 when `E_tot = 0`.
    pub snr: f64,
}

/// Energies of the population gradient at `p` (which must lie strictly inside (0, 1)).
pub fn energies(p: &[f64], red: &Reductions) -> Energies {
    let g = gradient(p, red);
    energies_with_gradient(p, &g, red)
}

fn energies_with_gradient(p: &[f64], g: &[f64], red: &Reductions) -> Energies {
    assert_eq!(red.b.len(), p.len(), "Reductions::b has the wrong length");
    let [total, q] = chunked_sum(p.len(), |i| {
        let pi = p[i];
        let v = pi * (1.0 - pi);
        [
            g[i] * g[i] / v,
            ((1.0 - 2.0 * pi) * red.b[i] + pi * pi * red.u2) / v,
        ]
    });
    let pop = red.population as f64;
    let unbiased = if red.population >= 2 {
        (pop * pop * total - q) / (pop * (pop - 1.0))
    } else {
        0.0
    };
    let snr = if total > 0.0 {
        unbiased.max(0.0) / total
    } else {
        0.0
    };
    Energies {
        total,
        q,
        unbiased,
        snr,
    }
}

/// Exact `sum_i KL(Bernoulli(p_i) || Bernoulli(q_i))` in nats.
///
/// Uses `0 ln 0 = 0`; a `q_i` at 0 or 1 where `p_i` is not gives infinity.
/// The terms are summed in fixed chunks, so the value is the same bit for
/// bit whatever the thread count, and equal to what [`Optimizer::step`] reports.
///
/// # Panics
/// If `p` and `q` differ in length.
pub fn kl_bernoulli(p: &[f64], q: &[f64]) -> f64 {
    assert_eq!(p.len(), q.len(), "kl_bernoulli: length mismatch");
    let [kl] = chunked_sum(p.len(), |i| [kl_term(p[i], q[i])]);
    kl
}

/// Mean Bernoulli entropy of `p`, in nats (0 for an empty slice).
pub fn mean_entropy(p: &[f64]) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    let [h] = chunked_sum(p.len(), |i| [entropy_term(p[i])]);
    h / p.len() as f64
}

/// Fraction of coordinates at (or beyond) `p_min` or `1 - p_min`.
pub fn clip_fraction(p: &[f64], p_min: f64) -> f64 {
    if p.is_empty() {
        return 0.0;
    }
    let hi = 1.0 - p_min;
    let [n] = chunked_sum(p.len(), |i| {
        [f64::from(u8::from(p[i] <= p_min || p[i] >= hi))]
    });
    n / p.len() as f64
}

/// `x.clamp(lo, hi)` without clamp's panic on a bad (unvalidated) range; NaN maps to `lo`.
#[inline]
fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// `p'(t)`: one expression shared by the search and the final update, so the
/// KL found during the search is exactly the KL of the step taken.
#[inline]
fn moved(p: f64, d: f64, t: f64, lo: f64, hi: f64) -> f64 {
    clip(p + t * d, lo, hi)
}

fn apply(p: &mut [f64], d: &[f64], t: f64, lo: f64, hi: f64) {
    for (pi, &di) in p.iter_mut().zip(d) {
        *pi = moved(*pi, di, t, lo, hi);
    }
}

/// `KL(p || p'(t))`.
fn kl_at(p: &[f64], d: &[f64], t: f64, lo: f64, hi: f64) -> f64 {
    let [kl] = chunked_sum(p.len(), |i| [kl_term(p[i], moved(p[i], d[i], t, lo, hi))]);
    kl
}

/// The search stops once the feasible step's KL is within this fraction of
/// the budget: the budget is used to 1e-9 (relative), far inside the 1e-6
/// that callers check.
const KL_REL_TOL: f64 = 1e-9;
/// The secant aims this fraction below the budget, so that it converges onto
/// a point that is feasible (and inside the `KL_REL_TOL` window) instead of
/// onto the boundary, where it could stall on the infeasible side.
const KL_AIM: f64 = 3e-10;
/// ... or once the bracket on `t` is this narrow (relative), which covers
/// stretches where `KL(t)` is flat because the moving coordinates are clipped.
const T_REL_TOL: f64 = 1e-12;
/// A hard cap; bisection alone would need ~60 evaluations on `[0, 1]`.
const MAX_EVALS: usize = 200;

/// Largest `t` in `[0, t_max]` with `KL(p || p'(t)) <= delta`, and that KL.
///
/// `KL(t)` is continuous and non-decreasing in `t` (each coordinate moves
/// monotonically away from `p_i` until it is clipped), so a bracket
/// `[feasible, infeasible]` always contains the answer and bisection finds it.
/// Each KL pass costs a full sweep over `D` coordinates, so the bracket is
/// narrowed by a safeguarded secant on `sqrt(KL(t))`, which is nearly linear in
/// `t` (`KL ~ t^2 ||d||_F^2 / 2` before clipping): typically 4-6 passes instead
/// of ~35. The first guess is that quadratic model, `sqrt(2 delta / E_tot)` for
/// `d = g`. Whenever the secant leaves the bracket or stops halving the
/// residual, a bisection step (geometric while the bracket spans orders of
/// magnitude) takes over, so convergence is never slower than bisection.
/// The returned `t` is always one whose KL was evaluated and found `<= delta`,
/// so the budget holds exactly, not to a tolerance.
fn largest_step(p: &[f64], d: &[f64], delta: f64, t_max: f64, lo: f64, hi: f64) -> (f64, f64) {
    if delta.is_nan()
        || delta <= 0.0
        || t_max.is_nan()
        || t_max <= 0.0
        || d.iter().all(|&x| x == 0.0)
    {
        return (0.0, 0.0);
    }
    let kl = |t: f64| kl_at(p, d, t, lo, hi);
    let kl_max = kl(t_max);
    if kl_max <= delta {
        return (t_max, kl_max);
    }
    let aim = (delta * (1.0 - KL_AIM)).sqrt();
    let resid = |k: f64| k.sqrt() - aim;
    // Bracket: `a` feasible (KL `ka <= delta`), `b` infeasible.
    let (mut a, mut ka, mut b) = (0.0, 0.0, t_max);
    // The two latest evaluated points, for the secant.
    let mut prev = (0.0, resid(0.0));
    let [norm] = chunked_sum(p.len(), |i| [d[i] * d[i] / (p[i] * (1.0 - p[i]))]);
    let warm = (2.0 * delta / norm).sqrt();
    let mut t = if warm > 0.0 && warm < t_max {
        warm
    } else {
        0.5 * t_max
    };
    let mut stalls = 0;
    for _ in 0..MAX_EVALS {
        let k = kl(t);
        if k <= delta {
            (a, ka) = (t, k);
        } else {
            b = t;
        }
        if ka >= delta * (1.0 - KL_REL_TOL) || b - a <= T_REL_TOL * b {
            break;
        }
        let r = resid(k);
        stalls = if r.abs() > 0.5 * prev.1.abs() {
            stalls + 1
        } else {
            0
        };
        let secant = if r != prev.1 {
            t - r * (t - prev.0) / (r - prev.1)
        } else {
            f64::NAN
        };
        prev = (t, r);
        t = if secant > a && secant < b && stalls < 2 {
            secant
        } else {
            stalls = 0;
            if a > 0.0 && b > 4.0 * a {
                (a * b).sqrt()
            } else {
                a + 0.5 * (b - a)
            }
        };
        if t <= a || t >= b {
            // The bracket is as narrow as floats allow.
            break;
        }
    }
    (a, ka)
}

/// `x - ln(1 + x)` for `x >= -1`; a series near 0, where the two terms cancel.
#[inline]
fn phi(x: f64) -> f64 {
    if x.abs() < 1e-4 {
        x * x * (0.5 - x * (1.0 / 3.0 - x * (0.25 - 0.2 * x)))
    } else {
        x - x.ln_1p()
    }
}

/// One coordinate of `KL(Bernoulli(p) || Bernoulli(q))`.
///
/// Written as `p phi(h/p) + (1-p) phi(-h/(1-p))` with `h = q - p`: the
/// first-order terms cancel analytically, so small steps keep full relative
/// precision and every term is `>= 0`.
#[inline]
fn kl_term(p: f64, q: f64) -> f64 {
    if p <= 0.0 {
        -(-q).ln_1p()
    } else if p >= 1.0 {
        -q.ln()
    } else {
        let h = q - p;
        p * phi(h / p) + (1.0 - p) * phi(-h / (1.0 - p))
    }
}

/// Bernoulli entropy of one coordinate, with `0 ln 0 = 0`.
#[inline]
fn entropy_term(p: f64) -> f64 {
    if p <= 0.0 || p >= 1.0 {
        0.0
    } else {
        -p * p.ln() - (1.0 - p) * (-p).ln_1p()
    }
}

/// Coordinates per summation chunk. Chunks are summed in index order after
/// being computed (possibly in parallel), so float sums do not depend on the
/// number of threads.
const CHUNK: usize = 1 << 14;

fn chunked_sum<const N: usize>(len: usize, f: impl Fn(usize) -> [f64; N] + Sync) -> [f64; N] {
    let chunk = |c: usize| {
        let mut acc = [0.0; N];
        for i in c * CHUNK..((c + 1) * CHUNK).min(len) {
            for (a, x) in acc.iter_mut().zip(f(i)) {
                *a += x;
            }
        }
        acc
    };
    let chunks = len.div_ceil(CHUNK);
    let partial: Vec<[f64; N]> = if chunks > 1 {
        (0..chunks).into_par_iter().map(chunk).collect()
    } else {
        (0..chunks).map(chunk).collect()
    };
    let mut total = [0.0; N];
    for part in partial {
        for (a, x) in total.iter_mut().zip(part) {
            *a += x;
        }
    }
    total
}
