//! The geometry the rules share (SPEC 4.1): the population gradient, its energies in
//! the Fisher metric of `p`, exact Bernoulli KL and entropy, and the largest step
//! inside a KL budget. One `moved()` serves the search and the update, so the KL
//! reported is the KL taken.

use rayon::prelude::*;
use serde::Serialize;

use crate::distribution::Reductions;

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

pub(super) fn energies_with_gradient(p: &[f64], g: &[f64], red: &Reductions) -> Energies {
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
pub(super) fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    x.max(lo).min(hi)
}

/// Where a step may take a coordinate: into `[lo, hi]`, and at most `max_step` away
/// from where it was (`optimizer.max_step`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Range {
    pub lo: f64,
    pub hi: f64,
    pub max_step: f64,
}

/// `p'(t)`: one expression shared by the search and the final update, so the
/// KL found during the search is exactly the KL of the step taken.
#[inline]
pub(super) fn moved(p: f64, d: f64, t: f64, r: Range) -> f64 {
    let step = t * d;
    // `max`/`min` rather than clamp: a NaN step stays NaN and `clip` maps it to `lo`.
    let step = if step.is_nan() {
        step
    } else {
        step.max(-r.max_step).min(r.max_step)
    };
    clip(p + step, r.lo, r.hi)
}

pub(super) fn apply(p: &mut [f64], d: &[f64], t: f64, r: Range) {
    for (pi, &di) in p.iter_mut().zip(d) {
        *pi = moved(*pi, di, t, r);
    }
}

/// `KL(p || p'(t))`.
pub(super) fn kl_at(p: &[f64], d: &[f64], t: f64, r: Range) -> f64 {
    let [kl] = chunked_sum(p.len(), |i| [kl_term(p[i], moved(p[i], d[i], t, r))]);
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
pub(super) fn largest_step(p: &[f64], d: &[f64], delta: f64, t_max: f64, r: Range) -> (f64, f64) {
    if delta.is_nan()
        || delta <= 0.0
        || t_max.is_nan()
        || t_max <= 0.0
        || d.iter().all(|&x| x == 0.0)
    {
        return (0.0, 0.0);
    }
    let kl = |t: f64| kl_at(p, d, t, r);
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
pub(super) fn entropy_term(p: f64) -> f64 {
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

pub(super) fn chunked_sum<const N: usize>(
    len: usize,
    f: impl Fn(usize) -> [f64; N] + Sync,
) -> [f64; N] {
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
