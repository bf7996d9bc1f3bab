//! `satr bench`: throughput in SPEC 6 units, network alone (random observations) or a
//! whole generation of a task through the same evaluators training uses.

use std::path::PathBuf;

use super::engines::Engines;
use super::error::TrainError;
use super::throughput::{self, BenchRecord};
use crate::checkpoint::{self, Checkpoint};
use crate::config::{Backend, Config, GpuMode};
use crate::cpu::{CpuEvaluator, Propagation};
use crate::distribution;
use crate::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use crate::network::Shape;
use crate::policy::episodes::{run_all, EpisodeKey};
use crate::policy::Policy;
use crate::tasks::TaskSpec;

/// The CPU's ways of propagating spikes, each timed in every CPU measurement.
const PROPAGATIONS: [Propagation; 3] = [Propagation::Dense, Propagation::Event, Propagation::Auto];

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
    /// Generation mode on a trained run instead: its distribution (members sampled
    /// from `p`), its normaliser, its task and network; `population` members.
    pub checkpoint: Option<PathBuf>,
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
    let ck = match &args.checkpoint {
        Some(path) => Some(Checkpoint::load(&checkpoint::resolve(path))?),
        None => None,
    };
    let mut cfg = match &ck {
        Some(ck) => ck.config.clone(),
        None => {
            let mut cfg = Config::default();
            cfg.network.neurons = args.neurons;
            cfg.network.validate()?;
            cfg.task = args.task.clone();
            cfg
        }
    };
    cfg.population = args.population.max(2);
    cfg.gpu.mode = args.gpu_mode;
    cfg.validate()?;
    let task = cfg.resolve_task()?;
    let net_shape = Shape::new(&cfg.network, args.obs_dim, args.act_dim);
    let member_steps = (args.population * args.steps) as u64;
    let network = args.network && ck.is_none();
    let mut records = Vec::new();
    if args.cpu && network {
        for prop in PROPAGATIONS {
            let secs = best_of(args.repeat, |r| {
                Ok(throughput::cpu_network(
                    &cfg.network,
                    args.obs_dim,
                    args.act_dim,
                    args.population,
                    args.steps,
                    r,
                    prop,
                ))
            })?;
            records.push(
                BenchRecord::new(
                    "cpu",
                    &cpu_device(),
                    "network",
                    &net_shape,
                    args.population,
                    member_steps,
                    secs,
                )
                .with_propagation(prop),
            );
        }
    }
    let rates = ck.as_ref().map(firing_rates).transpose()?;
    if args.cpu && (args.generation || ck.is_some()) {
        cfg.backend = Backend::Cpu;
        // Repetitions interleave the three ways (dense, event, auto, dense, ...), the
        // same generation each time, so a drift in the machine's speed hits all alike.
        let mut evs = PROPAGATIONS
            .iter()
            .map(|&prop| {
                let factory = task.factory()?;
                Ok(CpuEvaluator::new(&cfg.network, factory).with_propagation(prop))
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let mut best: Vec<Option<(f64, u64)>> = vec![None; PROPAGATIONS.len()];
        for _ in 0..args.repeat {
            for (ev, b) in evs.iter_mut().zip(best.iter_mut()) {
                let (secs, steps) = time_generation(ev, &cfg, &task, 1, ck.as_ref())?;
                if b.is_none_or(|(s, n)| secs / (steps as f64) < s / (n as f64)) {
                    *b = Some((secs, steps));
                }
            }
        }
        for (prop, b) in PROPAGATIONS.iter().zip(best) {
            let (secs, steps) = b.expect("repeat >= 1");
            let mut r = BenchRecord::new(
                "cpu",
                &cpu_device(),
                "generation",
                &cfg.shape_for(&task),
                cfg.population,
                steps,
                secs,
            )
            .with_propagation(*prop);
            (r.firing_rate, r.mode_firing_rate) = rates.unzip();
            records.push(r);
        }
    }
    if args.gpu {
        let start = records.len();
        gpu_records(
            engines,
            args,
            &mut cfg,
            &task,
            &net_shape,
            ck.as_ref(),
            &mut records,
        )?;
        for r in &mut records[start..] {
            (r.firing_rate, r.mode_firing_rate) = rates.unzip();
        }
    }
    Ok(records)
}

/// `satr bench --plan`: the device memory and work of one generation of `population`
/// train members (plus the default eval members) of `task` at `neurons`, planned
/// without allocating, under the chosen adapter's limits (`limits = None`) or a named
/// set (`gpu::memory_plan::PRESETS`).
#[cfg(feature = "gpu")]
pub fn plan(
    engines: &Engines<'_>,
    args: &BenchArgs,
    limits: Option<&str>,
) -> Result<crate::gpu::memory_plan::DevicePlan, TrainError> {
    use crate::gpu::memory_plan::{self, Workload, PRESETS};
    let mut cfg = Config::default();
    cfg.network.neurons = args.neurons;
    cfg.task = args.task.clone();
    cfg.population = args.population;
    cfg.gpu.mode = args.gpu_mode;
    cfg.validate()?;
    let task = cfg.resolve_task()?;
    let (limits, memory) = match limits {
        None => {
            let ctx = engines.gpu_context()?.ok_or_else(|| {
                TrainError::Usage(format!(
                    "no GPU adapter here: name a limit set with --limits ({})",
                    PRESETS.join(", ")
                ))
            })?;
            (ctx.limits.clone(), super::engines::device_memory(ctx))
        }
        Some(name) => memory_plan::preset(name).ok_or_else(|| {
            TrainError::Usage(format!(
                "--limits {name}: unknown limit set; known: {}",
                PRESETS.join(", ")
            ))
        })?,
    };
    let work = Workload {
        members: cfg.population + cfg.evaluation.eval_members,
        episodes_per_member: cfg.evaluation.episodes_per_member,
        max_episode_steps: cfg.episode_step_limit(&task),
        generation_mode: task.wgsl().is_some() && cfg.gpu.mode == GpuMode::Generation,
    };
    Ok(memory_plan::plan(
        &cfg.shape_for(&task),
        &limits,
        &Default::default(),
        &work,
        memory,
    )?)
}

/// Spikes per neuron per substep of a checkpoint's networks on its task: a member
/// sampled from its distribution (member 0 of its generation, one episode) and its mode
/// genome (eval member 0), run on the CPU with every spike counted.
fn firing_rates(ck: &Checkpoint) -> Result<(f64, f64), TrainError> {
    let cfg = &ck.config;
    let mode = Policy::from_checkpoint(ck)?;
    let max_steps = cfg.episode_step_limit(&mode.spec);
    let key = EpisodeKey {
        seed: cfg.seed,
        generation: ck.generation,
        member: 0,
        episode: 0,
    };
    let mut sampled = mode.clone();
    distribution::sample_genome(
        &distribution::thresholds(&ck.p),
        cfg.seed,
        ck.generation,
        0,
        &mut sampled.genome,
    );
    let rate = |p: &Policy| run_all(p, &[key], max_steps).map(|(_, c)| c.firing_rate);
    Ok((rate(&sampled)?, rate(&mode)?))
}

/// The fewest seconds of `repeat` timed runs (`run` gets the repetition as a seed).
fn best_of(
    repeat: usize,
    mut run: impl FnMut(u64) -> Result<f64, TrainError>,
) -> Result<f64, TrainError> {
    let mut best = f64::INFINITY;
    for r in 0..repeat {
        best = best.min(run(r as u64)?);
    }
    Ok(best)
}

/// Throughput ratios per mode: GPU over the CPU's default (`auto`) path, and the CPU's
/// event-driven and automatic paths over its dense one, for the records present.
pub fn ratios(records: &[BenchRecord]) -> Vec<(String, f64)> {
    let rate = |b: &str, p: Option<&str>, m: &str| {
        records
            .iter()
            .find(|r| r.backend == b && r.mode == m && r.propagation.as_deref() == p)
            .map(|r| r.synapse_substeps_per_s)
    };
    let mut out = Vec::new();
    for m in ["network", "generation"] {
        let dense = rate("cpu", Some("dense"), m);
        for (what, x) in [
            (
                "GPU/CPU",
                rate("gpu", None, m).zip(rate("cpu", Some("auto"), m)),
            ),
            ("CPU event/dense", rate("cpu", Some("event"), m).zip(dense)),
            ("CPU auto/dense", rate("cpu", Some("auto"), m).zip(dense)),
        ] {
            if let Some((a, b)) = x {
                out.push((format!("{m} mode: {what}"), a / b));
            }
        }
    }
    out
}

#[cfg(feature = "gpu")]
fn gpu_records(
    engines: &Engines<'_>,
    args: &BenchArgs,
    cfg: &mut Config,
    task: &TaskSpec,
    net_shape: &Shape,
    ck: Option<&Checkpoint>,
    records: &mut Vec<BenchRecord>,
) -> Result<(), TrainError> {
    let ctx = engines.gpu_context()?.ok_or_else(|| {
        crate::evaluation::EngineError::Gpu("no GPU adapter found (see `satr info`)".into())
    })?;
    if args.network && ck.is_none() {
        let best = best_of(args.repeat, |r| {
            Ok(crate::gpu::bench_network(
                ctx,
                &cfg.network,
                args.obs_dim,
                args.act_dim,
                args.population,
                args.steps,
                r,
            )?)
        })?;
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
    if args.generation || ck.is_some() {
        cfg.backend = Backend::Gpu;
        records.push(generation_record(
            engines,
            cfg,
            task,
            "gpu",
            &ctx.describe(),
            args.repeat,
            ck,
        )?);
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn gpu_records(
    _engines: &Engines<'_>,
    _args: &BenchArgs,
    _cfg: &mut Config,
    _task: &TaskSpec,
    _net_shape: &Shape,
    _ck: Option<&Checkpoint>,
    _records: &mut Vec<BenchRecord>,
) -> Result<(), TrainError> {
    Err(crate::evaluation::EngineError::Gpu(
        "this build has no GPU backend (built without the `gpu` feature)".into(),
    )
    .into())
}

/// The record of `cfg`'s generation on the evaluator its `backend` selects.
#[cfg(feature = "gpu")]
fn generation_record(
    engines: &Engines<'_>,
    cfg: &Config,
    task: &TaskSpec,
    backend: &str,
    device: &str,
    repeat: usize,
    ck: Option<&Checkpoint>,
) -> Result<BenchRecord, TrainError> {
    let mut ev = engines.evaluator(cfg, task)?;
    let (secs, steps) = time_generation(ev.as_mut(), cfg, task, repeat, ck)?;
    Ok(BenchRecord::new(
        backend,
        device,
        "generation",
        &cfg.shape_for(task),
        cfg.population,
        steps,
        secs,
    ))
}

/// The best of `repeat` full generations (train members only, episodes to the task's
/// limit) of `p = 0.5` or, given a checkpoint, of its distribution and normaliser:
/// seconds and environment steps of that generation.
pub fn time_generation(
    ev: &mut dyn PopulationEvaluator,
    cfg: &Config,
    task: &TaskSpec,
    repeat: usize,
    ck: Option<&Checkpoint>,
) -> Result<(f64, u64), TrainError> {
    let shape = cfg.shape_for(task);
    let (p, stats, generation) = match ck {
        Some(ck) => (ck.p.clone(), ck.obs_stats.clone(), ck.generation),
        None => (
            vec![0.5; shape.layout().len()],
            ObsStats::new(shape.obs_dim),
            0,
        ),
    };
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&stats, cfg.evaluation.clip_obs);
    let max_steps = task.max_episode_steps();
    let mut best: Option<(f64, u64)> = None;
    for r in 0..repeat {
        let seed = ck.map_or(r as u64, |ck| ck.config.seed + r as u64);
        let req =
            GenerationRequest::new(seed, generation, &p, &th, &norm, cfg.population, max_steps);
        let t = std::time::Instant::now();
        let fit = ev.evaluate(&req)?;
        let secs = t.elapsed().as_secs_f64();
        if best.is_none_or(|(b, s)| secs / (fit.env_steps as f64) < b / (s as f64)) {
            best = Some((secs, fit.env_steps));
        }
    }
    Ok(best.expect("repeat >= 1"))
}
