//! Criterion bench of genome sampling on the CPU (`distribution::sample_genome`): one
//! genome of the default network (N 256) on a task with 11 inputs and 3 outputs, as the
//! CPU evaluator samples every member each generation.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use satr::distribution::{sample_genome, thresholds, words_for};
use satr::network::{NetworkConfig, Shape};

fn sampling(c: &mut Criterion) {
    let shape = Shape::new(&NetworkConfig::default(), 11, 3);
    let dim = shape.layout().len();
    // Thresholds spread over the whole range, as a trained distribution's are.
    let p: Vec<f64> = (0..dim).map(|i| (i % 97) as f64 / 96.0).collect();
    let th = thresholds(&p);
    let mut g = vec![0u64; words_for(dim)];
    let mut member = 0u32;
    let mut group = c.benchmark_group("cpu");
    group.throughput(Throughput::Elements(dim as u64));
    group.bench_function("sample_genome_n256", |b| {
        b.iter(|| {
            sample_genome(&th, 7, 3, member, &mut g);
            member = member.wrapping_add(1);
        })
    });
    group.finish();
}

criterion_group!(benches, sampling);
criterion_main!(benches);
