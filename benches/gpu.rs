//! Criterion benches of the GPU kernels: genome sampling, the network step, and a
//! full-generation evaluation (CartPole stepped on the device).
//! Sizes are small so they finish on a software adapter (lavapipe); `satr bench`
//! measures realistic populations.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use satr::distribution::{mode_genome, thresholds};
use satr::gpu::device::{storage_buffer, wait_idle};
use satr::gpu::sample_genomes::GenomeSampler;
use satr::gpu::{bench_network, GpuContext};
use satr::network::{NetworkConfig, Shape};

fn gpu(c: &mut Criterion) {
    let ctx = match GpuContext::new() {
        Ok(Some(ctx)) => ctx,
        Ok(None) => {
            eprintln!("benches/gpu: no GPU adapter, nothing to measure");
            return;
        }
        Err(e) => {
            eprintln!("benches/gpu: {e}");
            return;
        }
    };
    eprintln!("benches/gpu on {}", ctx.describe());
    let mut group = c.benchmark_group("gpu");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));

    let cfg = NetworkConfig {
        neurons: 128,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 4, 2);
    let dim = shape.layout().len();
    let population = 256;
    let p = vec![0.5; dim];
    let sampler = GenomeSampler::new(&ctx, dim).expect("sampler");
    sampler
        .set_distribution(&thresholds(&p), &mode_genome(&p))
        .expect("distribution");
    let out = storage_buffer(
        &ctx.device,
        "bench genomes",
        (4 * sampler.words() * population) as u64,
    );
    group.bench_function("sample_genomes/P256/N128", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for g in 0..iters {
                sampler
                    .sample_into(&out, 1, g as u32, population, 0, population)
                    .expect("sample");
            }
            wait_idle(&ctx.device).expect("wait");
            start.elapsed()
        })
    });

    group.bench_function("rsnn_step/P64/N128/d4/a2", |b| {
        b.iter_custom(|iters| {
            let s = bench_network(&ctx, &cfg, 4, 2, 64, iters as usize, 7).expect("bench");
            Duration::from_secs_f64(s)
        })
    });
    if let Some(wgsl) = satr::gpu::tasks::task_wgsl("cartpole") {
        let factory: satr::evaluation::TaskFactory =
            std::sync::Arc::new(|| satr::tasks::make_task("cartpole").expect("cartpole"));
        group.bench_function("episodes/cartpole/P64/N128/20steps", |b| {
            b.iter_custom(|iters| {
                let mut total = 0.0;
                for i in 0..iters {
                    let (s, _) =
                        satr::gpu::bench_generation(&ctx, &cfg, factory.clone(), wgsl, 64, 20, i)
                            .expect("bench");
                    total += s;
                }
                Duration::from_secs_f64(total)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, gpu);
criterion_main!(benches);
