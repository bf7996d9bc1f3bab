//! The WGSL tasks (`shaders/task_*.wgsl`, f32) against the CPU tasks (`src/tasks`, f64):
//! single steps from the same state and network outputs, resets from the same
//! uniforms, and mean episode returns under a fixed linear policy. What each task's
//! checks need (scales, edge-case states, threshold margins, the policy) is its fixture
//! (`tests/common/task_fixtures.rs`).
//!
//! Without a GPU adapter the tests print a notice and pass, unless `SATR_REQUIRE_GPU=1`.

use crate::common;

use common::context;
use common::gpu_tasks::{
    compose_kernel_source, HostTaskState, StepResult, TaskKernels, STEP_WORKGROUP,
};
use common::task_fixtures::{SplitMix as Rng, TaskFixture, TASKS};

use satr::evaluation::action_from_output;
use satr::gpu::plan::RESET_UNIFORMS_LEN;
use satr::gpu::shaders::{constant_u32, struct_layout, validate};
use satr::gpu::tasks::TaskLayout;
use satr::rng::{stream_word, unit_f32, unit_f64, StreamReader, STREAM_RESET};
use satr::tasks::{make_task, ActionSpace, Task, TASK_NAMES};

/// Relative tolerance of a GPU step against the CPU step.
const REL: f64 = 1e-5;
/// Absolute floor of the step tolerance, as a fraction of each quantity's natural scale
/// (the fixtures' `state_scales`, `obs_scales`, `reward_scale`; e.g. 1e-5 * 2.4 m for the cart
/// position, 1e-5 * 9 pi for Acrobot's dtheta2): a value near 0 is compared at `REL * scale` instead of `REL * |value|`.
/// Needed because f32 rounding errors of the inputs to a difference (say `x + tau * x_dot`
/// with the terms cancelling) are relative to the terms, not to the result.
const ABS_OF_SCALE: f64 = REL;
/// Batch size of the step and reset tests: not a multiple of the workgroup size (64).
const BATCH: usize = 1000;
/// Sign patterns of the input perturbation in `cpu_sensitivity` (all 16 of 4 components).
const SENSITIVITY_PATTERNS: usize = 16;
/// The tolerance of a state or observation value also allows this many times the CPU
/// step's own sensitivity to a one-rounding perturbation of its input (see
/// `cpu_sensitivity`). It matters only for ill-conditioned steps (Acrobot at high
/// velocities, where RK4 over DT = 0.2 amplifies input errors about a hundredfold and
/// f32 cannot meet 1e-5 relative at all); elsewhere the sensitivity is about 1e-7 relative.
const COND_K: f64 = 16.0;
/// Episodes of the mean-return test.
const EPISODES: usize = 256;

/// A random state over the task's region, with a share of edge cases (thresholds,
/// walls, speed limits, angle wraps).
fn random_state(f: &TaskFixture, rng: &mut Rng, max_steps: u32) -> HostTaskState {
    let edge = rng.below(4) == 0;
    let s = (f.random_state)(rng, edge);
    let steps = match rng.below(4) {
        0 => max_steps - 1,
        1 => 0,
        _ => rng.below(max_steps as u64) as u32,
    };
    let flags = if f.with_flags.is_some() {
        rng.below(2) as u32
    } else {
        0
    };
    HostTaskState { s, steps, flags }
}

/// Random network outputs, with ties, exact bounds and out-of-box values.
fn random_outputs(layout: &TaskLayout, rng: &mut Rng) -> Vec<f32> {
    let n = layout.act_dim;
    if layout.discrete {
        match rng.below(8) {
            0 => vec![0.25; n],
            1 => {
                let mut v: Vec<f32> = (0..n).map(|_| rng.range(-1.0, 0.0)).collect();
                let k = rng.below(n as u64) as usize;
                v[k] = 0.5;
                v[n - 1 - k] = 0.5;
                v
            }
            _ => (0..n).map(|_| rng.range(-1.0, 1.0)).collect(),
        }
    } else {
        (0..n)
            .map(|_| match rng.below(8) {
                0 => [-1.0, 1.0, 0.0, -2.5, 2.5][rng.below(5) as usize],
                _ => rng.range(-3.0, 3.0),
            })
            .collect()
    }
}

/// How much the CPU (f64) step moves when its input state is perturbed by about one f32
/// rounding (each component times `1 +- 2^-24`, in `SENSITIVITY_PATTERNS` sign
/// patterns): per state and observation component, the largest change. This is the
/// conditioning of the step itself; f32 arithmetic inside the step (which rounds at
/// every operation, not only at the input) moves the result by a small multiple of it.
fn cpu_sensitivity(
    f: &TaskFixture,
    st: &HostTaskState,
    space: &ActionSpace,
    out: &[f32],
    post: &[f64],
    obs: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let mut ds = vec![0.0f64; post.len()];
    let mut dobs = vec![0.0f64; obs.len()];
    let mut o = vec![0.0; obs.len()];
    let mut buf = Vec::new();
    for p in 0..SENSITIVITY_PATTERNS {
        let s: Vec<f64> =
            st.s.iter()
                .enumerate()
                .map(|(k, &v)| {
                    let sign = if (p >> k) & 1 == 0 { 1.0 } else { -1.0 };
                    v as f64 * (1.0 + sign * f64::powi(2.0, -24))
                })
                .collect();
        let mut task = f.cpu_task_at(&s, st.flags);
        task.step(action_from_output(space, out, &mut buf)).unwrap();
        task.observe(&mut o);
        for (k, (d, v)) in ds.iter_mut().zip(task.state()).enumerate() {
            let diff = if k < f.angles {
                angle_diff(v, post[k])
            } else {
                v - post[k]
            };
            *d = d.max(diff.abs());
        }
        for (d, (v, w)) in dobs.iter_mut().zip(o.iter().zip(obs)) {
            *d = d.max((v - w).abs());
        }
    }
    (ds, dobs)
}

/// The step tolerance of a value near `v` whose natural magnitude is `scale`.
fn tol(v: f64, scale: f64) -> f64 {
    REL * v.abs() + ABS_OF_SCALE * scale
}

/// Difference of two angles, reduced to [-pi, pi] (the wraps may differ by one turn).
fn angle_diff(a: f64, b: f64) -> f64 {
    let tau = 2.0 * std::f64::consts::PI;
    let d = a - b;
    d - (d / tau).round() * tau
}

#[derive(Default)]
struct ErrStats {
    /// Largest error as a fraction of the allowed tolerance.
    worst_ratio: f64,
    /// Largest relative error among values with |cpu| >= their scale.
    worst_rel: f64,
    /// Largest absolute error.
    worst_abs: f64,
    excused: usize,
    /// Values over the plain tolerance (REL relative + floor), let through by the
    /// sensitivity term, and the worst of their error / plain tolerance.
    over_plain: usize,
    worst_over_plain: f64,
}

impl ErrStats {
    /// Records the error of one value; a failure message if it is over tolerance.
    /// `values` = (gpu, cpu, gpu - cpu as compared); `sens` = the CPU step's sensitivity.
    fn check(
        &mut self,
        failures: &mut Vec<String>,
        what: &str,
        values: (f64, f64, f64),
        scale: f64,
        sens: f64,
    ) {
        let (gpu, cpu, diff) = values;
        let plain = REL * cpu.abs() + ABS_OF_SCALE * scale;
        let allowed = plain + COND_K * sens;
        let err = diff.abs();
        if err > plain {
            self.over_plain += 1;
            self.worst_over_plain = self.worst_over_plain.max(err / plain);
        }
        if err > allowed || err.is_nan() {
            failures.push(format!(
                "{what}: gpu {gpu} cpu {cpu}: error {err:e} > allowed {allowed:e}"
            ));
        }
        self.worst_ratio = self.worst_ratio.max(err / allowed);
        self.worst_abs = self.worst_abs.max(err);
        if cpu.abs() >= scale {
            self.worst_rel = self.worst_rel.max(err / cpu.abs());
        }
    }

    fn merge(&mut self, other: &ErrStats) {
        self.worst_ratio = self.worst_ratio.max(other.worst_ratio);
        self.worst_rel = self.worst_rel.max(other.worst_rel);
        self.worst_abs = self.worst_abs.max(other.worst_abs);
        self.over_plain += other.over_plain;
        self.worst_over_plain = self.worst_over_plain.max(other.worst_over_plain);
    }
}

#[test]
fn steps_match_the_cpu_tasks() {
    let Some(ctx) = context() else { return };
    for (t, f) in TASKS.iter().enumerate() {
        let name = f.name;
        let kernels = TaskKernels::new(&ctx, name).unwrap();
        let layout = kernels.layout();
        let space = make_task(name).unwrap().action_space();
        let mut rng = Rng(0x5EED_0000 + t as u64);
        let states: Vec<HostTaskState> = (0..BATCH)
            .map(|_| random_state(f, &mut rng, layout.max_steps))
            .collect();
        let outputs: Vec<f32> = (0..BATCH)
            .flat_map(|_| random_outputs(&layout, &mut rng))
            .collect();
        let got = kernels.step(&states, &outputs).unwrap();
        assert_eq!(got.states.len(), BATCH);
        let (sscale, oscale) = (f.state_scales, f.obs_scales);
        let mut stats = ErrStats::default();
        let mut obs = vec![0.0; layout.obs_dim];
        let mut buf = Vec::new();
        for i in 0..BATCH {
            let s64: Vec<f64> = states[i].s.iter().map(|&v| v as f64).collect();
            let mut cpu = f.cpu_task_at(&s64, states[i].flags);
            let out = &outputs[i * layout.act_dim..][..layout.act_dim];
            let step = cpu.step(action_from_output(&space, out, &mut buf)).unwrap();
            let post = cpu.state();
            cpu.observe(&mut obs);
            let (sens, obs_sens) = cpu_sensitivity(f, &states[i], &space, out, &post, &obs);
            let g = &got.states[i];
            let r = got.results[i];
            let case = format!("{name} #{i} from {:?} out {out:?}", states[i]);
            assert!(r.terminated <= 1 && r.truncated <= 1, "{case}: flags {r:?}");
            assert_eq!(r.steps, 0, "{case}");
            assert_eq!(g.steps, states[i].steps + 1, "{case}");
            let truncated = states[i].steps as usize + 1 >= cpu.max_episode_steps();
            assert_eq!(r.truncated == 1, truncated, "{case}: truncated");
            // Compare everything; an entry whose CPU post-state is too close to a
            // threshold to call in f32 is excused from all of it.
            let mut entry = ErrStats::default();
            let mut failures = Vec::new();
            if (r.terminated == 1) != step.terminated {
                failures.push(format!(
                    "terminated gpu {} cpu {}",
                    r.terminated, step.terminated
                ));
            }
            let want_flags = if f.with_flags.is_some() {
                states[i].flags | step.terminated as u32
            } else {
                0
            };
            if g.flags != want_flags {
                failures.push(format!("flags gpu {} cpu {want_flags}", g.flags));
            }
            for k in 0..layout.state_dim {
                let (gv, cv) = (g.s[k] as f64, post[k]);
                let diff = if k < f.angles {
                    angle_diff(gv, cv)
                } else {
                    gv - cv
                };
                entry.check(
                    &mut failures,
                    &format!("state[{k}]"),
                    (gv, cv, diff),
                    sscale[k],
                    sens[k],
                );
            }
            for k in 0..layout.obs_dim {
                let gv = got.obs[i * layout.obs_dim + k] as f64;
                entry.check(
                    &mut failures,
                    &format!("obs[{k}]"),
                    (gv, obs[k], gv - obs[k]),
                    oscale[k],
                    obs_sens[k],
                );
            }
            let gr = r.reward as f64;
            let rs = f.reward_scale;
            entry.check(
                &mut failures,
                "reward",
                (gr, step.reward, gr - step.reward),
                rs,
                0.0,
            );
            if failures.is_empty() {
                stats.merge(&entry);
            } else if (f.threshold_margin)(&post, &g.s, tol) < 1.0 {
                stats.excused += 1;
                if stats.excused <= 2 {
                    eprintln!(
                        "  excused (at a threshold): {case}: {}",
                        failures.join("; ")
                    );
                }
            } else {
                panic!("{case}: {}", failures.join("; "));
            }
        }
        eprintln!(
            "{name}: worst error/tolerance {:.3}, worst relative error {:.2e} (|value| >= scale), \
             worst absolute error {:.2e}, {} of {BATCH} entries too close to a threshold; \
             {} values over the plain tolerance (worst {:.1}x it)",
            stats.worst_ratio,
            stats.worst_rel,
            stats.worst_abs,
            stats.excused,
            stats.over_plain,
            stats.worst_over_plain
        );
        // About 1 in 32 cartpole states is built to land on a threshold to f32 rounding
        // (and some mountain car states land near the goal); anything more is suspicious.
        // (The f32 thresholds are the f64 ones rounded, 2.4f32 > 2.4, so the GPU keeps
        // going where the CPU has just terminated.)
        assert!(
            stats.excused <= BATCH / 16,
            "{name}: {} excused",
            stats.excused
        );
    }
}

/// The reset uniforms of `member` (episode 0 of generation 0), as the CPU draws them
/// (`next_f64`) and as f32 for the GPU: with `exact_f32`, the top 24 bits of each word
/// (`rng::unit_f32`, what a kernel computes exactly as `f32(word >> 8u) * 0x1p-24`);
/// otherwise the f64 value rounded to f32 and kept below 1.
fn reset_uniforms(
    seed: u64,
    member: u32,
    exact_f32: bool,
) -> (Vec<f64>, [f32; RESET_UNIFORMS_LEN]) {
    let mut reader = StreamReader::new(seed, 0, member, stream_word(STREAM_RESET, 0));
    let words: Vec<u32> = (0..RESET_UNIFORMS_LEN).map(|_| reader.next_u32()).collect();
    let below_one = f32::from_bits(0x3F7F_FFFF);
    let mut u32s = [0.0f32; RESET_UNIFORMS_LEN];
    for (d, &w) in u32s.iter_mut().zip(&words) {
        *d = if exact_f32 {
            unit_f32(w)
        } else {
            (unit_f64(w) as f32).min(below_one)
        };
    }
    (words.into_iter().map(unit_f64).collect(), u32s)
}

/// A CPU task reset from the given uniforms.
fn cpu_reset(name: &str, u: &[f64]) -> Box<dyn Task> {
    let mut task = make_task(name).unwrap();
    let mut it = u.iter();
    task.reset(&mut || *it.next().expect("reset drew more than 8 uniforms"));
    task
}

#[test]
fn resets_match_the_cpu_tasks() {
    let Some(ctx) = context() else { return };
    for f in TASKS {
        let name = f.name;
        let kernels = TaskKernels::new(&ctx, name).unwrap();
        let layout = kernels.layout();
        let mut cpu_u = Vec::new();
        let mut gpu_u = Vec::new();
        for m in 0..BATCH as u32 {
            let (u64s, u32s) = match m {
                // The extremes of the uniform range.
                0 => (vec![0.0; 8], [0.0; 8]),
                1 => {
                    let top = u32::MAX as f64 / 4_294_967_296.0;
                    (vec![top; 8], [f32::from_bits(0x3F7F_FFFF); 8])
                }
                _ => reset_uniforms(17, m, m % 2 == 1),
            };
            cpu_u.push(u64s);
            gpu_u.push(u32s);
        }
        let got = kernels.reset(&gpu_u).unwrap();
        let mut obs = vec![0.0; layout.obs_dim];
        let mut worst: f64 = 0.0;
        for (i, u) in cpu_u.iter().enumerate() {
            let cpu = cpu_reset(name, u);
            let g = &got.states[i];
            assert_eq!((g.steps, g.flags), (0, 0), "{name} #{i}");
            assert_eq!(got.results[i].terminated, 0, "{name} #{i}");
            let post = cpu.state();
            for (k, bound) in f.reset_bounds().into_iter().enumerate() {
                // f32 rounding: the uniform's (up to 2^-24 of the range) and two
                // operations' (half an ulp each): within 2 ulps of the bound, allow 4.
                let allowed = 4.0 * f32::EPSILON as f64 * bound;
                let err = (g.s[k] as f64 - post[k]).abs();
                if allowed > 0.0 {
                    worst = worst.max(err / allowed);
                }
                assert!(
                    err <= allowed,
                    "{name} #{i} state[{k}]: gpu {} cpu {}",
                    g.s[k],
                    post[k]
                );
            }
            cpu.observe(&mut obs);
            for (k, &scale) in f.obs_scales.iter().enumerate() {
                let gv = got.obs[i * layout.obs_dim + k] as f64;
                let allowed = REL * obs[k].abs() + ABS_OF_SCALE * scale;
                assert!(
                    (gv - obs[k]).abs() <= allowed,
                    "{name} #{i} obs[{k}]: gpu {gv} cpu {}",
                    obs[k]
                );
            }
        }
        eprintln!("{name}: resets, worst error / (4 f32 ulps of the bound) {worst:.3}");
    }
}

/// One CPU episode (f64) under the linear policy (its outputs rounded to f32, as a
/// network's are); returns the return and the number of steps.
fn cpu_episode(name: &str, u: &[f64], w: &[f32], layout: &TaskLayout) -> (f64, usize) {
    let mut task = cpu_reset(name, u);
    let space: ActionSpace = task.action_space();
    let mut obs = vec![0.0; layout.obs_dim];
    let mut out = vec![0.0f32; layout.act_dim];
    let mut buf = Vec::new();
    let mut ret = 0.0;
    for n in 1.. {
        task.observe(&mut obs);
        for (k, o) in out.iter_mut().enumerate() {
            let row = &w[k * (layout.obs_dim + 1)..][..layout.obs_dim + 1];
            let acc: f64 = row[..layout.obs_dim]
                .iter()
                .zip(&obs)
                .map(|(&wj, &oj)| wj as f64 * oj)
                .sum();
            *o = (acc + row[layout.obs_dim] as f64) as f32;
        }
        let step = task
            .step(action_from_output(&space, &out, &mut buf))
            .unwrap();
        ret += step.reward;
        if step.terminated || step.truncated {
            return (ret, n);
        }
    }
    unreachable!()
}

#[test]
fn mean_returns_match_the_cpu_tasks() {
    let Some(ctx) = context() else { return };
    for f in TASKS {
        let name = f.name;
        let kernels = TaskKernels::new(&ctx, name).unwrap();
        let layout = kernels.layout();
        let w = f.policy;
        let starts: Vec<_> = (0..EPISODES as u32)
            .map(|m| reset_uniforms(99, m, false))
            .collect();
        let gpu_u: Vec<_> = starts.iter().map(|(_, g)| *g).collect();
        let got = kernels.episodes(&gpu_u, w).unwrap();
        let (mut cpu_sum, mut gpu_sum) = (0.0, 0.0);
        let (mut cpu_steps, mut gpu_steps) = (0usize, 0usize);
        let mut same_length = 0;
        for (i, (u, _)) in starts.iter().enumerate() {
            let (ret, n) = cpu_episode(name, u, w, &layout);
            let r = got.results[i];
            assert!(
                r.steps >= 1 && r.steps <= layout.max_steps,
                "{name} #{i}: {r:?}"
            );
            assert!(r.terminated == 1 || r.truncated == 1, "{name} #{i}: {r:?}");
            assert_eq!(got.states[i].steps, r.steps, "{name} #{i}");
            cpu_sum += ret;
            gpu_sum += r.reward as f64;
            cpu_steps += n;
            gpu_steps += r.steps as usize;
            same_length += (n == r.steps as usize) as usize;
        }
        let (cpu_mean, gpu_mean) = (cpu_sum / EPISODES as f64, gpu_sum / EPISODES as f64);
        let rel = (gpu_mean - cpu_mean).abs() / cpu_mean.abs();
        eprintln!(
            "{name}: mean return gpu {gpu_mean:.4} cpu {cpu_mean:.4} (relative difference \
             {rel:.2e}); mean length gpu {:.2} cpu {:.2}; {same_length} of {EPISODES} \
             episodes of equal length",
            gpu_steps as f64 / EPISODES as f64,
            cpu_steps as f64 / EPISODES as f64,
        );
        assert!(rel <= 0.01, "{name}: mean returns differ by {rel:.2e}");
    }
}

#[test]
fn the_adapter_backend_is_the_requested_one() {
    let Some(ctx) = context() else { return };
    let got = ctx.adapter_info.backend;
    match std::env::var("WGPU_BACKEND") {
        Ok(want) => {
            let got = format!("{got:?}").to_lowercase();
            assert!(
                want.to_lowercase().contains(&got),
                "WGPU_BACKEND={want}, adapter {got}"
            );
        }
        // The crate builds wgpu with the Vulkan backend only.
        Err(_) => assert_eq!(got, wgpu::Backend::Vulkan),
    }
}

#[test]
fn bad_inputs_are_rejected() {
    let Some(ctx) = context() else { return };
    let kernels = TaskKernels::new(&ctx, "pendulum").unwrap();
    let st = HostTaskState {
        s: vec![0.0, 0.0],
        steps: 0,
        flags: 0,
    };
    assert!(kernels.step(std::slice::from_ref(&st), &[]).is_err());
    let short = HostTaskState { s: vec![0.0], ..st };
    assert!(kernels.step(&[short], &[0.0]).is_err());
    assert!(kernels.episodes(&[[0.5; 8]], &[1.0]).is_err());
    let empty = kernels.step(&[], &[]).unwrap();
    assert!(empty.states.is_empty() && empty.results.is_empty());
    assert!(TaskKernels::new(&ctx, "nope").is_err());
}

#[test]
fn the_test_kernels_validate_with_every_task_and_match_the_host() {
    use std::mem::{offset_of, size_of};
    for name in TASK_NAMES {
        let source = compose_kernel_source(name).unwrap();
        let module = validate(&source, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            constant_u32(&module, "STEP_WORKGROUP"),
            Some(STEP_WORKGROUP),
            "{name}"
        );
        let (size, members) = struct_layout(&module, "StepResult").unwrap();
        assert_eq!(size as usize, size_of::<StepResult>());
        let host = [
            ("reward", offset_of!(StepResult, reward)),
            ("terminated", offset_of!(StepResult, terminated)),
            ("truncated", offset_of!(StepResult, truncated)),
            ("steps", offset_of!(StepResult, steps)),
        ];
        let wgsl: Vec<(&str, usize)> = members
            .iter()
            .map(|(n, o)| (n.as_str(), *o as usize))
            .collect();
        assert_eq!(wgsl, host, "{name}");
    }
    assert!(compose_kernel_source("nope").is_none());
}
