//! Update rules (SPEC 4): trust-region guarantees, the unbiased signal
//! estimate, signal adaptation, convergence on a planted target, shaping,
//! validation and the KL/entropy helpers.
//!
//! Sampling is not under test here, so genomes come from a small seeded
//! splitmix64 of the test's own.

use satr::config::ConfigError;
use satr::distribution::{reductions_from_bits, Reductions};
use satr::optimizer::{
    energies, gradient, kl_bernoulli, mean_entropy, shape, Budget, Direction, Optimizer,
    OptimizerConfig, Rule, Shaping, Signal,
};

struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `pop` genomes with bit `i` drawn as Bernoulli(`p[i]`).
fn sample(rng: &mut SplitMix, p: &[f64], pop: usize) -> Vec<Vec<bool>> {
    // 32-bit thresholds as in SPEC 3, two draws per u64.
    let thr: Vec<u64> = p.iter().map(|&x| (x * 4294967296.0) as u64).collect();
    (0..pop)
        .map(|_| {
            let mut g = Vec::with_capacity(p.len());
            let mut word = 0u64;
            for (i, &t) in thr.iter().enumerate() {
                if i % 2 == 0 {
                    word = rng.next_u64();
                }
                let r = if i % 2 == 0 {
                    word >> 32
                } else {
                    word & 0xFFFF_FFFF
                };
                g.push(r < t);
            }
            g
        })
        .collect()
}

fn cfg(rule: Rule, signal: Signal, direction: Direction) -> OptimizerConfig {
    OptimizerConfig {
        rule,
        signal,
        direction,
        ..OptimizerConfig::default()
    }
}

/// Reductions of one generation under `fitness`, with the config's shaping.
fn generation(
    rng: &mut SplitMix,
    p: &[f64],
    pop: usize,
    shaping: Shaping,
    fitness: &mut dyn FnMut(&[bool]) -> f64,
) -> Reductions {
    let genomes = sample(rng, p, pop);
    let f: Vec<f64> = genomes.iter().map(|g| fitness(g)).collect();
    let u = shape(&f, shaping);
    reductions_from_bits(&genomes, &u)
}

/// A planted target: fitness is the number of bits matching it.
const PLANT_DIM: usize = 4096;
const PLANT_POP: usize = 1024;

fn matches(g: &[bool], target: &[bool]) -> f64 {
    g.iter().zip(target).filter(|(a, b)| a == b).count() as f64
}

fn mode_match(p: &[f64], target: &[bool]) -> f64 {
    p.iter()
        .zip(target)
        .filter(|(pi, t)| (**pi > 0.5) == **t)
        .count() as f64
        / p.len() as f64
}

/// Runs up to `gens` generations; returns the per-step stats and the first
/// generation (1-based) whose mode matched the target to 99%, if any.
fn run(
    c: &OptimizerConfig,
    seed: u64,
    gens: usize,
    noise: bool,
    stop_at_99: bool,
) -> (Vec<satr::optimizer::UpdateStats>, Option<usize>) {
    let mut rng = SplitMix(seed);
    let target: Vec<bool> = (0..PLANT_DIM).map(|_| rng.uniform() < 0.5).collect();
    let mut p = vec![0.5; PLANT_DIM];
    let mut opt = Optimizer::new(c.clone(), PLANT_DIM);
    // Noise fitness ignores the genome: its own stream of uniforms.
    let mut noise_rng = SplitMix(seed ^ 0x5EED);
    let mut stats = Vec::new();
    let mut reached = None;
    for gen in 1..=gens {
        let red = generation(&mut rng, &p, PLANT_POP, c.shaping, &mut |g| {
            if noise {
                noise_rng.uniform()
            } else {
                matches(g, &target)
            }
        });
        stats.push(opt.step(&mut p, &red));
        if reached.is_none() && mode_match(&p, &target) >= 0.99 {
            reached = Some(gen);
            if stop_at_99 {
                break;
            }
        }
    }
    (stats, reached)
}

fn mean_kl(stats: &[satr::optimizer::UpdateStats]) -> f64 {
    stats.iter().map(|s| s.kl).sum::<f64>() / stats.len() as f64
}

mod convergence;
mod formulas;
mod signal;
mod trust_region;
mod validation;
