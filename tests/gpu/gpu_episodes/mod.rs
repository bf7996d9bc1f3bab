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

mod long_episodes;
mod walker;
