//! The observation normaliser of SPEC 5 and the statistics it is frozen from.

use serde::{Deserialize, Serialize};

/// Running mean and variance of observations (Welford), merged across members with
/// Chan's formula in member order so the result is independent of thread count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObsStats {
    pub count: u64,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ObsStats {
    /// No observations yet.
    pub fn new(dim: usize) -> Self {
        ObsStats {
            count: 0,
            mean: vec![0.0; dim],
            m2: vec![0.0; dim],
        }
    }

    /// Adds one observation.
    pub fn push(&mut self, obs: &[f64]) {
        self.count += 1;
        let n = self.count as f64;
        for ((m, m2), &o) in self.mean.iter_mut().zip(self.m2.iter_mut()).zip(obs) {
            let delta = o - *m;
            *m += delta / n;
            *m2 += delta * (o - *m);
        }
    }

    /// Merges another set of statistics into this one.
    pub fn merge(&mut self, other: &ObsStats) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = na + nb;
        for i in 0..self.mean.len() {
            let delta = other.mean[i] - self.mean[i];
            self.mean[i] += delta * nb / n;
            self.m2[i] += other.m2[i] + delta * delta * na * nb / n;
        }
        self.count += other.count;
    }

    /// Population variance per dimension (1 where nothing was seen yet).
    pub fn variance(&self) -> Vec<f64> {
        if self.count == 0 {
            return vec![1.0; self.mean.len()];
        }
        self.m2.iter().map(|m2| m2 / self.count as f64).collect()
    }
}

/// The observation normaliser of SPEC 5, frozen for one generation:
/// `x = clip((o - mean) / sqrt(var + 1e-8), -clip, clip)`, rounded to f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalizer {
    pub mean: Vec<f64>,
    pub inv_std: Vec<f64>,
    pub clip: f64,
}

impl Normalizer {
    /// Freezes the statistics seen so far.
    pub fn from_stats(stats: &ObsStats, clip: f64) -> Self {
        Normalizer {
            mean: stats.mean.clone(),
            inv_std: stats
                .variance()
                .iter()
                .map(|v| 1.0 / (v + 1e-8).sqrt())
                .collect(),
            clip,
        }
    }

    /// Normalises one observation into `x`.
    pub fn apply(&self, obs: &[f64], x: &mut [f32]) {
        for (((x, &o), &m), &s) in x.iter_mut().zip(obs).zip(&self.mean).zip(&self.inv_std) {
            *x = ((o - m) * s).clamp(-self.clip, self.clip) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stats_equal_sequential() {
        let obs: Vec<[f64; 2]> = (0..50)
            .map(|i| [i as f64 * 0.3, (i * i) as f64 % 7.0])
            .collect();
        let mut all = ObsStats::new(2);
        obs.iter().for_each(|o| all.push(o));
        let mut a = ObsStats::new(2);
        let mut b = ObsStats::new(2);
        obs[..17].iter().for_each(|o| a.push(o));
        obs[17..].iter().for_each(|o| b.push(o));
        a.merge(&b);
        assert_eq!(a.count, all.count);
        for i in 0..2 {
            assert!((a.mean[i] - all.mean[i]).abs() < 1e-12);
            assert!((a.m2[i] - all.m2[i]).abs() < 1e-9);
        }
    }

    #[test]
    fn normalizer_clips() {
        let mut s = ObsStats::new(1);
        s.push(&[1.0]);
        s.push(&[3.0]);
        let n = Normalizer::from_stats(&s, 5.0);
        let mut x = [0.0f32];
        n.apply(&[3.0], &mut x);
        assert!((x[0] - 1.0).abs() < 1e-6);
        n.apply(&[100.0], &mut x);
        assert_eq!(x[0], 5.0);
    }
}
