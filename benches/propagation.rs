//! Dense (AND + popcount over column words) against event-driven (outgoing rows of the
//! spiking neurons) recurrent propagation, at fixed spikes per 64-neuron spike word:
//! the crossover sets `cpu::EVENT_MAX_SPIKES` (docs/DECISIONS.md).
//!
//!     cargo bench --bench propagation

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use satr::cpu::{recurrent_counts, PackedNet, Propagation};
use satr::distribution::{sample_genome, thresholds, words_for};
use satr::network::{NetworkConfig, Shape};

/// Spike words with `k` spikes each, spread over the word.
fn spikes(neurons: usize, k: u32) -> Vec<u64> {
    (0..words_for(neurons))
        .map(|w| {
            let mut z = 0u64;
            for i in 0..k as usize {
                let b = (i * 64 / k as usize + 7 * w) % 64;
                if 64 * w + b < neurons {
                    z |= 1 << b;
                }
            }
            z
        })
        .collect()
}

fn propagation(c: &mut Criterion) {
    let mut group = c.benchmark_group("propagation");
    group
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_millis(800));
    for neurons in [256, 1024] {
        let cfg = NetworkConfig {
            neurons,
            ..Default::default()
        };
        let shape = Shape::new(&cfg, 4, 2);
        let dim = shape.layout().len();
        let mut g = vec![0u64; words_for(dim)];
        sample_genome(&thresholds(&vec![0.5; dim]), 1, 0, 0, &mut g);
        let net = PackedNet::from_genome(shape, &g);
        let mut counts = vec![0i32; neurons];
        for k in [1u32, 2, 4, 6, 8, 16] {
            let z_exc = spikes(shape.n_exc, k);
            let z_inh = spikes(shape.n_inh(), k);
            for (name, p) in [("dense", Propagation::Dense), ("event", Propagation::Event)] {
                let net = net.clone().with_propagation(p);
                let id = BenchmarkId::new(format!("{name}_n{neurons}"), k);
                group.bench_with_input(id, &k, |b, _| {
                    b.iter(|| recurrent_counts(&net, &z_exc, &z_inh, &mut counts))
                });
            }
        }
    }
    group.finish();
}

/// One environment step (input, 33 substeps, output) of a net without recurrent
/// connections against the same net with them, both event-driven: the difference is
/// what propagation costs, the rest the neuron update and the projections.
fn neuron_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("env_step");
    group
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_millis(800));
    let cfg = NetworkConfig::default();
    let shape = Shape::new(&cfg, 4, 2);
    let k = satr::network::Constants::new(&cfg, &shape);
    let dim = shape.layout().len();
    let mut g = vec![0u64; words_for(dim)];
    sample_genome(&thresholds(&vec![0.5; dim]), 1, 0, 0, &mut g);
    let l = shape.layout();
    let mut empty = g.clone();
    for i in l.w_h(0, 0)..l.w_out(0, 0) {
        empty[i / 64] &= !(1u64 << (i % 64));
    }
    for (name, genome) in [("recurrent", &g), ("no_recurrent", &empty)] {
        let net = PackedNet::from_genome(shape, genome).with_propagation(Propagation::Auto);
        let mut s = satr::cpu::NetState::new(&shape);
        s.reset(&k, 1, 0, 0, 0);
        let x = [0.3f32, -0.2, 0.1, 0.5];
        let mut out = [0.0f32; 2];
        group.bench_function(name, |b| {
            b.iter(|| satr::cpu::net_step(&net, &k, &x, &mut s, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, propagation, neuron_update);
criterion_main!(benches);
