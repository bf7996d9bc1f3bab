//! Full-generation mode (`episodes.wgsl`: whole episodes on the device) against the
//! CPU evaluator, with a test task whose arithmetic is exact in both f32 and f64
//! (quarter steps on a line), so any difference is the engine's, not the task's.
//! The network buffers are poisoned before every kernel that writes them.

use std::sync::Arc;

use crate::common;

use common::context;
use satr::cpu::CpuEvaluator;
use satr::distribution::thresholds;
use satr::evaluation::{
    EngineError, GenerationRequest, Normalizer, PopulationEvaluator, TaskFactory,
};
use satr::gpu::memory_plan::{self, Workload};
use satr::gpu::plan::{DriverQuirks, NetOptions, NetPlan};
use satr::gpu::shaders::{compose_episodes, validate};
use satr::gpu::{GpuEvaluator, GpuOptions};
use satr::network::{NetworkConfig, Shape};
use satr::tasks::{Action, ActionSpace, Step, Task, TaskError};

/// What the test tasks share, written to the task interface of `src/gpu/tasks.rs`:
/// a walker on a line in quarter steps (exact in f32 and f64), pushed left or right.
macro_rules! walker_common {
    () => {
        r#"
const TASK_STATE_DIM: u32 = 2u;
const TASK_OBS_DIM: u32 = 2u;
const TASK_ACT_DIM: u32 = 2u;
const TASK_DISCRETE: bool = true;
const TASK_RESET_UNIFORMS: u32 = 2u;

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    st.s[0] = floor(u[0] * 8.0) * 0.25 - 1.0;
    st.s[1] = floor(u[1] * 4.0) * 0.25 - 0.5;
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[1]);
}

// The velocity after the push the outputs choose.
fn walker_velocity(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> f32 {
    let right = out[1] > out[0];
    return clamp((*st).s[1] + select(-0.25, 0.25, right), -1.0, 1.0);
}

// Moves to `pos` at `vel` and counts the step.
fn walker_move(st: ptr<function, TaskState>, pos: f32, vel: f32) {
    (*st).s[0] = pos;
    (*st).s[1] = vel;
    (*st).steps += 1u;
}
"#
    };
}

/// The walker: ends when it leaves [-3, 3].
const WALKER_WGSL: &str = concat!(
    walker_common!(),
    r#"
const TASK_MAX_STEPS: u32 = 100u;

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    let vel = walker_velocity(st, out);
    let pos = (*st).s[0] + vel;
    walker_move(st, pos, vel);
    var r: TaskStep;
    r.reward = 1.0 - 0.125 * abs(pos);
    r.terminated = abs(pos) > 3.0;
    r.truncated = (*st).steps >= TASK_MAX_STEPS;
    return r;
}
"#
);

/// The same task on the CPU, in f64.
struct Walker {
    s: [f64; 2],
    steps: usize,
}

impl Task for Walker {
    fn name(&self) -> &'static str {
        "walker"
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        100
    }
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        let u0 = uniform();
        let u1 = uniform();
        self.s = [
            (u0 * 8.0).floor() * 0.25 - 1.0,
            (u1 * 4.0).floor() * 0.25 - 0.5,
        ];
        self.steps = 0;
    }
    fn observe(&self, obs: &mut [f64]) {
        obs.copy_from_slice(&self.s);
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let right = match action {
            Action::Discrete(a) => a == 1,
            Action::Continuous(_) => {
                return Err(TaskError::InvalidAction {
                    task: "walker",
                    reason: "continuous".into(),
                })
            }
        };
        let vel = (self.s[1] + if right { 0.25 } else { -0.25 }).clamp(-1.0, 1.0);
        let pos = self.s[0] + vel;
        self.s = [pos, vel];
        self.steps += 1;
        Ok(Step {
            reward: 1.0 - 0.125 * pos.abs(),
            terminated: pos.abs() > 3.0,
            truncated: self.steps >= 100,
        })
    }
    fn state(&self) -> Vec<f64> {
        self.s.to_vec()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        self.s = [state[0], state[1]];
        self.steps = 0;
        Ok(())
    }
}

/// Network options that poison the nets before each unpack, the state before each
/// reset and the outputs before each step (the episode kernel zeroes its own results
/// and carry by design), so a word a kernel skips changes the fitness.
fn poisoned() -> NetOptions {
    NetOptions {
        poison: true,
        ..Default::default()
    }
}

fn factory() -> TaskFactory {
    Arc::new(|| {
        Box::new(Walker {
            s: [0.0; 2],
            steps: 0,
        })
    })
}

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

#[test]
fn full_generation_cartpole_tracks_the_cpu() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let opts = GpuOptions {
        net: poisoned(),
        ..Default::default()
    };
    let cartpole = satr::tasks::registry::find("cartpole").unwrap();
    let mut gpu = GpuEvaluator::full_generation(&ctx, &cfg, &cartpole, opts).unwrap();
    let cpu_factory: TaskFactory = Arc::new(|| satr::tasks::make_task("cartpole").unwrap());
    let mut cpu = CpuEvaluator::new(&cfg, cpu_factory);
    let dim = cpu.shape().layout().len();
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.15 + 0.7 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    let norm = Normalizer {
        mean: vec![0.0; 4],
        inv_std: vec![1.0, 0.5, 4.0, 1.0],
        clip: 5.0,
    };
    let req = GenerationRequest::new(21, 0, &p, &th, &norm, 13, 30).with_eval(2, 1);
    let c = cpu.evaluate(&req).unwrap();
    let g = gpu.evaluate(&req).unwrap();
    eprintln!("cpu {:?}\ngpu {:?}", c.train, g.train);
    // The task runs in f32 on the device and f64 on the CPU: a member whose
    // trajectory crosses a threshold differently may differ, but almost none do over
    // 30 steps (all 15 agree on lavapipe).
    let equal = c.train.iter().zip(&g.train).filter(|(a, b)| a == b).count();
    assert!(equal >= 11, "{equal}/13 train members equal");
    let steps_gap = (g.env_steps as f64 - c.env_steps as f64).abs() / c.env_steps as f64;
    assert!(
        steps_gap < 0.1,
        "env steps {} vs {}",
        g.env_steps,
        c.env_steps
    );
    assert_eq!(g.obs_stats.count, g.env_steps);
    // A task without a WGSL port has no full-generation mode.
    let hopper = satr::tasks::registry::lookup("hopper").unwrap();
    assert!(matches!(
        GpuEvaluator::full_generation(&ctx, &cfg, &hopper, GpuOptions::default()),
        Err(EngineError::Gpu(_))
    ));
}

/// A walker on a ring of circumference 4 that never terminates (quarter steps again,
/// exact in f32 and f64), so every episode runs to its time limit.
const RING_WGSL: &str = concat!(
    walker_common!(),
    r#"
const TASK_MAX_STEPS: u32 = 1000u;

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    let vel = walker_velocity(st, out);
    var pos = (*st).s[0] + vel;
    if (pos >= 2.0) {
        pos -= 4.0;
    }
    if (pos < -2.0) {
        pos += 4.0;
    }
    walker_move(st, pos, vel);
    var r: TaskStep;
    r.reward = 1.0 - 0.125 * abs(pos);
    r.terminated = false;
    r.truncated = (*st).steps >= TASK_MAX_STEPS;
    return r;
}
"#
);

/// The ring on the CPU, in f64.
struct Ring(Walker);

impl Task for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        1000
    }
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        self.0.reset(uniform);
    }
    fn observe(&self, obs: &mut [f64]) {
        self.0.observe(obs);
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let Action::Discrete(a) = action else {
            return Err(TaskError::InvalidAction {
                task: "ring",
                reason: "continuous".into(),
            });
        };
        let vel = (self.0.s[1] + if a == 1 { 0.25 } else { -0.25 }).clamp(-1.0, 1.0);
        let mut pos = self.0.s[0] + vel;
        if pos >= 2.0 {
            pos -= 4.0;
        }
        if pos < -2.0 {
            pos += 4.0;
        }
        self.0.s = [pos, vel];
        self.0.steps += 1;
        Ok(Step {
            reward: 1.0 - 0.125 * pos.abs(),
            terminated: false,
            truncated: self.0.steps >= 1000,
        })
    }
    fn state(&self) -> Vec<f64> {
        self.0.state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        self.0.set_state(state)
    }
}

/// Regression: on lavapipe, episodes.wgsl ran every episode of a member in one
/// dispatch, and llvmpipe ends all loops of a shader invocation once they have
/// iterated 65535 times in total, so long episodes stopped early without any error
/// (CartPole at 386 steps instead of 500). Episodes of 1000 steps, two per member,
/// must now run to their limit and match the CPU exactly, across the dispatch
/// boundaries where the episode state is carried over.
#[test]
fn full_generation_long_episodes_run_to_the_time_limit() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let ring: TaskFactory = Arc::new(|| {
        Box::new(Ring(Walker {
            s: [0.0; 2],
            steps: 0,
        }))
    });
    let mut cpu = CpuEvaluator::new(&cfg, ring.clone());
    let opts = GpuOptions {
        task_wgsl: Some(RING_WGSL),
        max_chunk: Some(4),
        net: poisoned(),
        device_memory: None,
    };
    let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, ring, opts).unwrap();
    let shape = Shape::new(&cfg, 2, 2);
    let plan = NetPlan::new(&shape, &ctx.limits, &NetOptions::default()).unwrap();
    let units = satr::gpu::episodes::units_per_dispatch(&plan);
    assert!(
        units < 1000,
        "{units} steps per dispatch: episodes not sliced"
    );
    let dim = cpu.shape().layout().len();
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.15 + 0.7 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    let norm = Normalizer {
        mean: vec![0.0, 0.0],
        inv_std: vec![0.5, 2.0],
        clip: 3.0,
    };
    let req = GenerationRequest::new(5, 1, &p, &th, &norm, 6, 1000).with_eval(1, 2);
    let c = cpu.evaluate(&req).unwrap();
    let g = gpu.evaluate(&req).unwrap();
    eprintln!("train cpu {:?}\ntrain gpu {:?}", c.train, g.train);
    assert_eq!(c.env_steps, 7 * 2 * 1000);
    assert_eq!(g.env_steps, c.env_steps, "env steps");
    assert_eq!(g.obs_stats.count, c.obs_stats.count);
    assert_eq!(g.train, c.train, "train fitness");
    assert_eq!(g.eval, c.eval, "eval fitness");
    let per_member = gpu.evaluate_members(&req, 0..7).unwrap();
    assert!(per_member.iter().all(|o| o.env_steps == 2000));
}

#[test]
fn driver_workarounds_follow_the_adapter_and_both_ways_agree() {
    let Some(ctx) = context() else { return };
    let software = ctx.adapter_info.device_type == wgpu::DeviceType::Cpu;
    assert_eq!(
        ctx.quirks(),
        if software {
            DriverQuirks::SOFTWARE
        } else {
            DriverQuirks::HARDWARE
        },
        "{:?}",
        ctx.adapter_info
    );
    let cfg = NetworkConfig {
        neurons: 70,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 2, 2);
    // Sliced (software) and in one dispatch (hardware): short enough episodes that one
    // dispatch stays inside llvmpipe's loop budget, long enough to need several slices.
    let dispatches: Vec<u64> = [DriverQuirks::SOFTWARE, DriverQuirks::HARDWARE]
        .iter()
        .map(|&q| {
            let opts = NetOptions {
                quirks: Some(q),
                ..Default::default()
            };
            let work = Workload {
                members: 9,
                episodes_per_member: 2,
                max_episode_steps: 40,
                generation_mode: true,
            };
            memory_plan::plan(&shape, &ctx.limits, &opts, &work, None)
                .unwrap()
                .dispatches_per_chunk
                .unwrap()
        })
        .collect();
    assert!(dispatches[0] > 1 && dispatches[1] == 1, "{dispatches:?}");
    let dim = shape.layout().len();
    let p = vec![0.45; dim];
    let th = thresholds(&p);
    let norm = Normalizer {
        mean: vec![0.0, 0.0],
        inv_std: vec![1.0, 1.0],
        clip: 5.0,
    };
    let req = GenerationRequest::new(4, 1, &p, &th, &norm, 7, 40).with_eval(2, 2);
    let fitness: Vec<Vec<f64>> = [DriverQuirks::SOFTWARE, DriverQuirks::HARDWARE]
        .iter()
        .map(|&q| {
            let opts = GpuOptions {
                task_wgsl: Some(WALKER_WGSL),
                max_chunk: None,
                net: NetOptions {
                    quirks: Some(q),
                    ..poisoned()
                },
                device_memory: None,
            };
            let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, factory(), opts).unwrap();
            let f = gpu.evaluate(&req).unwrap();
            f.train.iter().chain(&f.eval).copied().collect()
        })
        .collect();
    assert_eq!(fitness[0], fitness[1]);
    assert!(
        fitness[0].iter().any(|&f| f != fitness[0][0]),
        "degenerate: {:?}",
        fitness[0]
    );
}
