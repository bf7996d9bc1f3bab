//! One SATR update at the default network size (N = 256, d = 4, a = 2).
//!
//! Measures the rule alone (gradient, energies, Adam, the KL line search and
//! the stats pass) on reductions from a real sampled population, so the
//! search sees realistic step sizes.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use satr::distribution::{reductions_from_bits, Reductions};
use satr::optimizer::{shape, Direction, Optimizer, OptimizerConfig, Rule, Shaping, Signal};

const N: usize = 256;
const OBS: usize = 4;
const ACT: usize = 2;
const POP: usize = 256;

struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A mid-training `p` (some coordinates at the bounds) and one generation's
/// reductions under a fitness that rewards a hidden genome.
fn setup(dim: usize, p_min: f64) -> (Vec<f64>, Reductions) {
    let mut rng = SplitMix(1);
    let p: Vec<f64> = (0..dim)
        .map(|i| match i % 10 {
            0 => p_min,
            1 => 1.0 - p_min,
            _ => 0.05 + 0.9 * rng.uniform(),
        })
        .collect();
    let target: Vec<bool> = (0..dim).map(|_| rng.uniform() < 0.5).collect();
    let genomes: Vec<Vec<bool>> = (0..POP)
        .map(|_| p.iter().map(|&pi| rng.uniform() < pi).collect())
        .collect();
    let fitness: Vec<f64> = genomes
        .iter()
        .map(|g| g.iter().zip(&target).filter(|(a, b)| a == b).count() as f64)
        .collect();
    let u = shape(&fitness, Shaping::CenteredRanks);
    (p, reductions_from_bits(&genomes, &u))
}

fn bench_step(c: &mut Criterion) {
    let dim = 2 * OBS * N + N * N + N * ACT;
    let variants = [
        ("satr_raw_adam", Signal::Raw, Direction::Adam),
        (
            "satr_unbiased_natural",
            Signal::Unbiased,
            Direction::Natural,
        ),
    ];
    let mut group = c.benchmark_group(format!("update_d{dim}"));
    for (name, signal, direction) in variants {
        let config = OptimizerConfig {
            rule: Rule::Satr,
            signal,
            direction,
            ..OptimizerConfig::default()
        };
        let (p, red) = setup(dim, config.p_min);
        let opt = Optimizer::new(config, dim);
        group.bench_function(name, |b| {
            b.iter_batched(
                || (opt.clone(), p.clone()),
                |(mut opt, mut p)| opt.step(&mut p, &red),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
