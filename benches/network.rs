//! Criterion benches of the CPU bitset network: one member's environment step, and a
//! population in network mode (SPEC 6 units are printed by `satr bench`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use satr::cpu::{self, NetState, PackedNet};
use satr::distribution::{sample_genome, thresholds, words_for};
use satr::network::{Constants, NetworkConfig, Shape};

fn net_step(c: &mut Criterion) {
    let cfg = NetworkConfig::default();
    let shape = Shape::new(&cfg, 11, 3);
    let k = Constants::new(&cfg, &shape);
    let dim = shape.layout().len();
    let mut g = vec![0u64; words_for(dim)];
    sample_genome(&thresholds(&vec![0.5; dim]), 1, 0, 0, &mut g);
    let net = PackedNet::from_genome(shape, &g);
    let mut s = NetState::new(&shape);
    s.reset(&k, 1, 0, 0, 0);
    let mut out = vec![0.0f32; 3];
    let mut x = vec![0.0f32; 11];
    let mut t = 0u32;
    let mut group = c.benchmark_group("cpu");
    group.throughput(Throughput::Elements(
        (shape.substeps * shape.neurons * shape.neurons) as u64,
    ));
    group.bench_function("env_step_n256", |b| {
        b.iter(|| {
            satr::app::throughput::random_observation(1, 0, t, &mut x);
            t = t.wrapping_add(1);
            cpu::net_step(&net, &k, &x, &mut s, &mut out);
        })
    });
    group.sample_size(10);
    group.bench_function("network_pop256_50steps", |b| {
        b.iter(|| {
            satr::app::throughput::cpu_network(&cfg, 11, 3, 256, 50, 1, cpu::Propagation::Auto)
        })
    });
    group.finish();
}

criterion_group!(benches, net_step);
criterion_main!(benches);
