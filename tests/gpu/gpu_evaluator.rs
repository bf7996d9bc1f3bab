//! `GpuEvaluator` (host-task mode) against `CpuEvaluator` on the same requests: the
//! same fitness vector, steps and observation statistics, with and without chunking;
//! reductions within fixed-point rounding of the CPU's f64 sums.

use std::sync::Arc;

use crate::common;
use common::context;
use satr::cpu::CpuEvaluator;
use satr::distribution::thresholds;
use satr::evaluation::{
    EngineError, GenerationRequest, Normalizer, ObsStats, PopulationEvaluator, TaskFactory,
};
use satr::gpu::plan::NetOptions;
use satr::gpu::{GpuEvaluator, GpuOptions};
use satr::network::{NetworkConfig, Shape};
use satr::tasks::make_task;

fn factory(name: &'static str) -> TaskFactory {
    Arc::new(move || make_task(name).expect("task"))
}

/// A distribution away from 0.5 so members differ in behaviour, and a normaliser
/// with non-trivial statistics.
fn setup(dim: usize, obs_dim: usize) -> (Vec<f64>, Vec<u32>, Normalizer) {
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.15 + 0.7 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    let mut stats = ObsStats::new(obs_dim);
    for k in 0..20 {
        let o: Vec<f64> = (0..obs_dim)
            .map(|j| ((k * 7 + j * 3) % 11) as f64 * 0.1 - 0.5)
            .collect();
        stats.push(&o);
    }
    (p, th, Normalizer::from_stats(&stats, 5.0))
}

fn compare(
    task: &'static str,
    neurons: usize,
    population: usize,
    eval: usize,
    episodes: usize,
    chunk: Option<usize>,
) {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons,
        ..Default::default()
    };
    let mut cpu = CpuEvaluator::new(&cfg, factory(task));
    // Poisoned nets, state and outputs before every kernel that writes them: a word a
    // kernel skips changes the fitness.
    let opts = GpuOptions {
        max_chunk: chunk,
        net: NetOptions {
            poison: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, factory(task), opts).unwrap();
    let shape: Shape = cpu.shape();
    assert_eq!(gpu.shape(), shape);
    let (p, th, norm) = setup(shape.layout().len(), shape.obs_dim);
    let req =
        GenerationRequest::new(1234, 3, &p, &th, &norm, population, 20).with_eval(eval, episodes);
    let c = cpu.evaluate(&req).unwrap();
    let g = gpu.evaluate(&req).unwrap();
    eprintln!(
        "{task} N={neurons} chunk={:?}: train {:?} eval {:?}",
        chunk, c.train, c.eval
    );
    assert_eq!(g.train, c.train, "train fitness");
    assert_eq!(g.eval, c.eval, "eval fitness");
    assert_eq!(g.env_steps, c.env_steps);
    assert_eq!(g.obs_stats, c.obs_stats);
    // Some members must do better than others, or the comparison says little.
    assert!(
        c.train.iter().any(|&f| f != c.train[0]),
        "all members alike"
    );

    let u: Vec<f64> = (0..population)
        .map(|k| ((k * 7) % population) as f64 / (population - 1) as f64 - 0.5)
        .collect();
    let rc = cpu.reductions(&req, &u).unwrap();
    let rg = gpu.reductions(&req, &u).unwrap();
    assert_eq!(rg.population, rc.population);
    assert_eq!((rg.u1, rg.u2), (rc.u1, rc.u2));
    let scale: f64 = u.iter().map(|x| x.abs()).sum();
    for i in 0..rc.a.len() {
        assert!((rg.a[i] - rc.a[i]).abs() <= 1e-12 * scale, "A[{i}]");
        assert!((rg.b[i] - rc.b[i]).abs() <= 1e-12 * scale, "B[{i}]");
    }
}

#[test]
fn cartpole_n37_matches_cpu_evaluator() {
    compare("cartpole", 37, 13, 2, 1, None);
}

#[test]
fn cartpole_n64_two_episodes_matches_cpu_evaluator() {
    compare("cartpole", 64, 13, 2, 2, None);
}

#[test]
fn chunked_population_matches_cpu_evaluator() {
    // Chunks of 4 over 13 + 2 members: the last chunk is partial and mixes train and
    // eval members.
    compare("cartpole", 37, 13, 2, 1, Some(4));
}

#[test]
fn continuous_task_matches_cpu_evaluator() {
    compare("pendulum", 40, 5, 1, 1, Some(3));
}

#[test]
fn impossible_network_is_refused_with_too_large() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 16384,
        ..Default::default()
    };
    if ctx.limits.max_compute_workgroup_storage_size >= 70_000 {
        return;
    }
    match GpuEvaluator::new(&ctx, &cfg, factory("cartpole")) {
        Err(EngineError::TooLarge(msg)) => {
            assert!(msg.contains("max_compute_workgroup_storage_size"), "{msg}")
        }
        Err(e) => panic!("expected TooLarge, got {e}"),
        Ok(_) => panic!("expected TooLarge"),
    }
}
