//! `satr bench`: throughput in SPEC 6 units, network alone (random observations) or a
//! whole generation of a task through the same evaluators training uses.

use super::engines::Engines;
use super::error::TrainError;
use super::throughput::{self, BenchRecord};
use crate::config::{Backend, Config, GpuMode};
use crate::distribution;
use crate::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use crate::network::Shape;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub cpu: bool,
    pub gpu: bool,
    /// Network mode: the network alone on random observations.
    pub network: bool,
    /// Generation mode: whole generations of `task`.
    pub generation: bool,
    /// Where generation mode runs the task on the GPU (as `[gpu] mode`).
    pub gpu_mode: GpuMode,
    pub population: usize,
    pub neurons: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Environment steps per member in network mode.
    pub steps: usize,
    pub task: String,
    /// Timed repetitions (the best is reported).
    pub repeat: usize,
}

/// The device name of the CPU engine, the same in every record.
pub fn cpu_device() -> String {
    format!(
        "cpu ({} threads, {})",
        rayon::current_num_threads(),
        if crate::cpu::fast_path_available() {
            "popcnt+avx2"
        } else {
            "portable"
        }
    )
}

/// Runs the measurements; the records come in order cpu network, cpu generation,
/// gpu network, gpu generation (those asked for).
pub fn bench(engines: &Engines<'_>, args: &BenchArgs) -> Result<Vec<BenchRecord>, TrainError> {
    for (flag, v) in [
        ("--population", args.population),
        ("--steps", args.steps),
        ("--repeat", args.repeat),
        ("--obs-dim", args.obs_dim),
        ("--act-dim", args.act_dim),
    ] {
        if v == 0 {
            return Err(TrainError::Usage(format!("{flag} must be at least 1")));
        }
    }
    let mut cfg = Config::default();
    cfg.network.neurons = args.neurons;
    cfg.network.validate()?;
    cfg.task = args.task.clone();
    cfg.population = args.population.max(2);
    cfg.gpu.mode = args.gpu_mode;
    cfg.validate()?;
    let net_shape = Shape::new(&cfg.network, args.obs_dim, args.act_dim);
    let member_steps = (args.population * args.steps) as u64;
    let mut records = Vec::new();
    if args.cpu && args.network {
        let secs = (0..args.repeat)
            .map(|r| {
                throughput::cpu_network(
                    &cfg.network,
                    args.obs_dim,
                    args.act_dim,
                    args.population,
                    args.steps,
                    r as u64,
                )
            })
            .fold(f64::INFINITY, f64::min);
        records.push(BenchRecord::new(
            "cpu",
            &cpu_device(),
            "network",
            &net_shape,
            args.population,
            member_steps,
            secs,
        ));
    }
    if args.cpu && args.generation {
        cfg.backend = Backend::Cpu;
        records.push(generation_record(
            engines,
            &cfg,
            "cpu",
            &cpu_device(),
            args.repeat,
        )?);
    }
    if args.gpu {
        gpu_records(engines, args, &mut cfg, &net_shape, &mut records)?;
    }
    Ok(records)
}

/// GPU/CPU throughput ratios per mode, for the records that have both.
pub fn ratios(records: &[BenchRecord]) -> Vec<(String, f64)> {
    ["network", "generation"]
        .iter()
        .filter_map(|m| {
            let rate = |b: &str| {
                records
                    .iter()
                    .find(|r| r.backend == b && r.mode == *m)
                    .map(|r| r.synapse_substeps_per_s)
            };
            Some((m.to_string(), rate("gpu")? / rate("cpu")?))
        })
        .collect()
}

#[cfg(feature = "gpu")]
fn gpu_records(
    engines: &Engines<'_>,
    args: &BenchArgs,
    cfg: &mut Config,
    net_shape: &Shape,
    records: &mut Vec<BenchRecord>,
) -> Result<(), TrainError> {
    let ctx = engines.gpu_context()?.ok_or_else(|| {
        crate::evaluation::EngineError::Gpu("no GPU adapter found (see `satr info`)".into())
    })?;
    if args.network {
        let mut best = f64::INFINITY;
        for r in 0..args.repeat {
            best = best.min(crate::gpu::bench_network(
                ctx,
                &cfg.network,
                args.obs_dim,
                args.act_dim,
                args.population,
                args.steps,
                r as u64,
            )?);
        }
        records.push(BenchRecord::new(
            "gpu",
            &ctx.describe(),
            "network",
            net_shape,
            args.population,
            (args.population * args.steps) as u64,
            best,
        ));
    }
    if args.generation {
        cfg.backend = Backend::Gpu;
        records.push(generation_record(
            engines,
            cfg,
            "gpu",
            &ctx.describe(),
            args.repeat,
        )?);
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn gpu_records(
    _engines: &Engines<'_>,
    _args: &BenchArgs,
    _cfg: &mut Config,
    _net_shape: &Shape,
    _records: &mut Vec<BenchRecord>,
) -> Result<(), TrainError> {
    Err(crate::evaluation::EngineError::Gpu(
        "this build has no GPU backend (built without the `gpu` feature)".into(),
    )
    .into())
}

/// The record of `cfg`'s generation on the evaluator its `backend` selects.
fn generation_record(
    engines: &Engines<'_>,
    cfg: &Config,
    backend: &str,
    device: &str,
    repeat: usize,
) -> Result<BenchRecord, TrainError> {
    let mut ev = engines.evaluator(cfg)?;
    let (secs, steps) = time_generation(ev.as_mut(), cfg, repeat)?;
    Ok(BenchRecord::new(
        backend,
        device,
        "generation",
        &cfg.shape()?,
        cfg.population,
        steps,
        secs,
    ))
}

/// The best of `repeat` full generations (train members only, `p = 0.5`, episodes to
/// the task's limit): seconds and environment steps of that generation.
pub fn time_generation(
    ev: &mut dyn PopulationEvaluator,
    cfg: &Config,
    repeat: usize,
) -> Result<(f64, u64), TrainError> {
    let shape = cfg.shape()?;
    let p = vec![0.5; shape.layout().len()];
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&ObsStats::new(shape.obs_dim), cfg.evaluation.clip_obs);
    let max_steps = cfg.task_info()?.max_episode_steps;
    let mut best: Option<(f64, u64)> = None;
    for r in 0..repeat {
        let req = GenerationRequest::new(r as u64, 0, &p, &th, &norm, cfg.population, max_steps);
        let t = std::time::Instant::now();
        let fit = ev.evaluate(&req)?;
        let secs = t.elapsed().as_secs_f64();
        if best.is_none_or(|(b, s)| secs / (fit.env_steps as f64) < b / (s as f64)) {
            best = Some((secs, fit.env_steps));
        }
    }
    Ok(best.expect("repeat >= 1"))
}
