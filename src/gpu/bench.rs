//! Timing helpers for `satr bench` and `benches/gpu.rs`.

use std::time::Instant;

use super::context::GpuContext;
use super::device::wait_idle;
use super::network::GpuNetwork;
use super::plan::NetOptions;
use super::sample_genomes::GenomeSampler;
use crate::distribution::{mode_genome, thresholds};
use crate::evaluation::EngineError;
use crate::network::{Constants, NetworkConfig, Shape};

/// Seconds for `env_steps` network steps of `population` members on random genomes
/// (p = 0.5) and random observations, measured from the first dispatch until the
/// queue is idle after the last. Populations over one chunk run chunk by chunk.
pub fn bench_network(
    ctx: &GpuContext,
    cfg: &NetworkConfig,
    obs_dim: usize,
    act_dim: usize,
    population: usize,
    env_steps: usize,
    seed: u64,
) -> Result<f64, EngineError> {
    cfg.validate()
        .map_err(|e| EngineError::Gpu(e.to_string()))?;
    let shape = Shape::new(cfg, obs_dim, act_dim);
    let plan = super::plan::NetPlan::new(&shape, &ctx.limits, &NetOptions::default())?;
    let chunk = plan.max_chunk(&ctx.limits)?.min(population.max(1));
    let net = GpuNetwork::new(
        ctx,
        &shape,
        Constants::new(cfg, &shape),
        chunk,
        &NetOptions::default(),
        false,
    )?;
    let dim = shape.layout().len();
    let p = vec![0.5; dim];
    let sampler = GenomeSampler::new(ctx, dim)?;
    sampler.set_distribution(&thresholds(&p), &mode_genome(&p))?;
    // A fixed pseudo-random observation stream, regenerated per step from the seed.
    let mut state = seed | 1;
    let mut obs = vec![0.0f32; chunk * obs_dim];
    let mut elapsed = 0.0;
    let mut offset = 0;
    while offset < population {
        let members = chunk.min(population - offset);
        sampler.sample_into(net.genome_buffer(), seed, 0, population, offset, members)?;
        net.unpack(members)?;
        net.reset(seed, 0, offset, members, 0)?;
        wait_idle(&ctx.device)?;
        let start = Instant::now();
        for _ in 0..env_steps {
            for o in obs[..members * obs_dim].iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *o = ((state >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0;
            }
            net.step(&obs[..members * obs_dim], None, members, false)?;
        }
        wait_idle(&ctx.device)?;
        elapsed += start.elapsed().as_secs_f64();
        offset += members;
    }
    Ok(elapsed)
}

/// Seconds and environment steps of one full-generation evaluation (whole episodes on
/// the device, `task_wgsl` stepping the task) of `population` members with random
/// genomes (p = 0.5), episodes capped at `max_steps`. `factory` builds the CPU twin of
/// the task (for its shape). Compilation and the first allocation are done before the
/// clock starts.
pub fn bench_generation(
    ctx: &GpuContext,
    cfg: &NetworkConfig,
    factory: crate::evaluation::TaskFactory,
    task_wgsl: &'static str,
    population: usize,
    max_steps: usize,
    seed: u64,
) -> Result<(f64, u64), EngineError> {
    use crate::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
    let opts = super::evaluator::GpuOptions {
        task_wgsl: Some(task_wgsl),
        ..Default::default()
    };
    let mut eval = super::evaluator::GpuEvaluator::with_options(ctx, cfg, factory, opts)?;
    let shape = eval.shape();
    let p = vec![0.5; shape.layout().len()];
    let th = thresholds(&p);
    let norm = Normalizer::from_stats(&ObsStats::new(shape.obs_dim), 5.0);
    let mut req = GenerationRequest::new(seed, 0, &p, &th, &norm, population, 1);
    // Warm-up: compiles the pipelines and sizes the buffers.
    eval.evaluate(&req)?;
    req.max_episode_steps = max_steps;
    req.generation = 1;
    let start = Instant::now();
    let fit = eval.evaluate(&req)?;
    Ok((start.elapsed().as_secs_f64(), fit.env_steps))
}
