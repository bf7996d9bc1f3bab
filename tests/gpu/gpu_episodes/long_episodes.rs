//! CartPole's generation on the device tracking the CPU, episodes that run to the time
//! limit (a ring walker that never terminates), and the driver workarounds.

use super::*;

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
