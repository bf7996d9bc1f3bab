// CartPole-v1 with position-only observations `[x, theta]` (task `cartpole-pos`), in
// f32: the WGSL port of src/tasks/cartpole.rs with `position_only`.
//
// The task interface (TaskState, TaskStep) is in task_interface.wgsl; this file
// defines TASK_*, task_reset, task_observe, task_step, and helpers prefixed `cartpole_`.

const TASK_STATE_DIM: u32 = 4u;
const TASK_OBS_DIM: u32 = 2u;
const TASK_ACT_DIM: u32 = 2u;
const TASK_DISCRETE: bool = true;
const TASK_MAX_STEPS: u32 = 500u;
// Uniforms task_reset reads from its `u` argument (u[0..4]).
const TASK_RESET_UNIFORMS: u32 = 4u;

// TaskState.s = [x, x_dot, theta, theta_dot]; flags bit 0 = Gymnasium's
// `steps_beyond_terminated is not None` (a terminal step happened).

// The dynamics (CARTPOLE_* constants, cartpole_reset, cartpole_step) are in
// cartpole_dynamics.wgsl, appended by `gpu::tasks::task_wgsl`.

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    return cartpole_reset(u);
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[2]);
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    return cartpole_step(st, out);
}
