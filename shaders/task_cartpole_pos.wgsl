// CartPole-v1 with position-only observations `[x, theta]` (task `cartpole-pos`), in
// f32: the WGSL port of src/tasks/cartpole.rs with `position_only`.
//
// Task interface (see src/gpu/tasks.rs): TASK_* constants, TaskState, TaskStep,
// task_reset, task_observe, task_step. Private helpers are prefixed `cartpole_`.

const TASK_STATE_DIM: u32 = 4u;
const TASK_OBS_DIM: u32 = 2u;
const TASK_ACT_DIM: u32 = 2u;
const TASK_DISCRETE: bool = true;
const TASK_MAX_STEPS: u32 = 500u;
// Uniforms task_reset reads from its `u` argument (u[0..4]).
const TASK_RESET_UNIFORMS: u32 = 4u;

// s = [x, x_dot, theta, theta_dot]; steps = TimeLimit counter; flags bit 0 =
// Gymnasium's `steps_beyond_terminated is not None` (a terminal step happened).
struct TaskState {
    s: array<f32, TASK_STATE_DIM>,
    steps: u32,
    flags: u32,
}

struct TaskStep {
    reward: f32,
    terminated: bool,
    truncated: bool,
}

// The dynamics (CARTPOLE_* constants, cartpole_reset_state, cartpole_step) are in
// cartpole_dynamics.wgsl, appended by `gpu::tasks::task_wgsl`.

fn task_reset(u: array<f32, 8>) -> TaskState {
    return cartpole_reset_state(u);
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[2]);
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    return cartpole_step(st, out);
}
