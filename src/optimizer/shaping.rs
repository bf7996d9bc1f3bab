//! Fitness shaping: raw fitness values to the utilities `u_k` of SPEC 4.

use super::config::Shaping;

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
