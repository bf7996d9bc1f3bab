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

mod episodes;
mod kernels;
mod steps;
