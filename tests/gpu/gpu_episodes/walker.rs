//! The walker task on the device against the CPU evaluator: the episode kernel
//! validating, whole generations (chunked or not), a mismatched task as an error, the
//! bench's step count and member slices of a generation.

use super::*;

#[test]
fn episode_kernel_validates_with_a_task() {
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 2, 2);
    let limits = wgpu::Limits {
        max_compute_workgroup_storage_size: 32768,
        max_compute_invocations_per_workgroup: 1024,
        max_compute_workgroup_size_x: 1024,
        ..wgpu::Limits::default()
    };
    let plan = NetPlan::new(&shape, &limits, &NetOptions::default()).unwrap();
    validate(
        &compose_episodes(&plan.episode_header(), WALKER_WGSL),
        "episodes",
    )
    .unwrap();
    // A task whose dimensions disagree with the network is rejected by const_assert.
    let wrong = Shape::new(&cfg, 3, 2);
    let plan = NetPlan::new(&wrong, &limits, &NetOptions::default()).unwrap();
    assert!(validate(
        &compose_episodes(&plan.episode_header(), WALKER_WGSL),
        "episodes"
    )
    .is_err());
}

fn compare(neurons: usize, population: usize, eval: usize, episodes: usize, chunk: Option<usize>) {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons,
        ..Default::default()
    };
    let mut cpu = CpuEvaluator::new(&cfg, factory());
    let opts = GpuOptions {
        task_wgsl: Some(WALKER_WGSL),
        max_chunk: chunk,
        net: poisoned(),
        device_memory: None,
    };
    let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, factory(), opts).unwrap();
    let dim = cpu.shape().layout().len();
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.15 + 0.7 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    // Dyadic normaliser: exact in f32 and f64.
    let norm = Normalizer {
        mean: vec![0.5, -0.25],
        inv_std: vec![0.5, 2.0],
        clip: 3.0,
    };
    let req =
        GenerationRequest::new(99, 4, &p, &th, &norm, population, 25).with_eval(eval, episodes);
    let c = cpu.evaluate(&req).unwrap();
    let g = gpu.evaluate(&req).unwrap();
    eprintln!("N={neurons}: train {:?} eval {:?}", c.train, c.eval);
    assert_eq!(g.train, c.train, "train fitness");
    assert_eq!(g.eval, c.eval, "eval fitness");
    assert_eq!(g.env_steps, c.env_steps);
    assert!(
        c.train.iter().any(|&f| f != c.train[0]),
        "all members alike"
    );
    assert_eq!(g.obs_stats.count, c.obs_stats.count);
    for i in 0..2 {
        let (gm, cm) = (g.obs_stats.mean[i], c.obs_stats.mean[i]);
        assert!(
            (gm - cm).abs() <= 1e-5 * (1.0 + cm.abs()),
            "mean {gm} vs {cm}"
        );
        let (gv, cv) = (g.obs_stats.m2[i], c.obs_stats.m2[i]);
        assert!(
            (gv - cv).abs() <= 1e-4 * (1.0 + cv.abs()),
            "m2 {gv} vs {cv}"
        );
    }
}

#[test]
fn full_generation_matches_cpu_n37() {
    compare(37, 13, 2, 1, None);
}

#[test]
fn full_generation_two_episodes_chunked_matches_cpu_n100() {
    compare(100, 13, 2, 2, Some(5));
}

#[test]
fn mismatched_task_is_an_error_not_a_panic() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    // The CPU task has 2 observations; a WGSL task with 3 cannot be composed with it.
    let bad: &'static str = Box::leak(
        WALKER_WGSL
            .replace(
                "const TASK_OBS_DIM: u32 = 2u;",
                "const TASK_OBS_DIM: u32 = 3u;",
            )
            .into_boxed_str(),
    );
    let opts = GpuOptions {
        task_wgsl: Some(bad),
        ..Default::default()
    };
    match GpuEvaluator::with_options(&ctx, &cfg, factory(), opts) {
        Err(EngineError::Gpu(msg)) => assert!(msg.contains("episodes"), "{msg}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn bench_generation_counts_steps() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 64,
        ..Default::default()
    };
    let (s, steps) =
        satr::gpu::bench_generation(&ctx, &cfg, factory(), WALKER_WGSL, 7, 10, 3).unwrap();
    assert!(s > 0.0 && s.is_finite());
    assert!(steps > 0 && steps <= 70, "{steps}");
}

#[test]
fn evaluate_members_returns_slices_of_evaluate() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let dim = Shape::new(&cfg, 2, 2).layout().len();
    let p = vec![0.4; dim];
    let th = thresholds(&p);
    let norm = Normalizer {
        mean: vec![0.0, 0.0],
        inv_std: vec![1.0, 1.0],
        clip: 5.0,
    };
    let req = GenerationRequest::new(8, 2, &p, &th, &norm, 9, 15).with_eval(2, 1);
    for task_wgsl in [None, Some(WALKER_WGSL)] {
        let opts = GpuOptions {
            task_wgsl,
            max_chunk: Some(4),
            net: poisoned(),
            device_memory: None,
        };
        let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, factory(), opts).unwrap();
        let all = gpu.evaluate(&req).unwrap();
        let part = gpu.evaluate_members(&req, 3..10).unwrap();
        let fit: Vec<f64> = part.iter().map(|o| o.fitness).collect();
        let expect: Vec<f64> = all.train[3..]
            .iter()
            .chain(&all.eval[..1])
            .copied()
            .collect();
        assert_eq!(fit, expect, "task on device: {}", task_wgsl.is_some());
        assert!(gpu.evaluate_members(&req, 5..12).is_err());
    }
}
