// Pendulum-v1 (Gymnasium 1.x, g = 10), in f32: the WGSL port of src/tasks/pendulum.rs.
//
// The task interface (TaskState, TaskStep) is in task_interface.wgsl; this file
// defines TASK_*, task_reset, task_observe, task_step, and helpers prefixed `pendulum_`.

const TASK_STATE_DIM: u32 = 2u;
const TASK_OBS_DIM: u32 = 3u;
const TASK_ACT_DIM: u32 = 1u;
const TASK_DISCRETE: bool = false;
const TASK_MAX_STEPS: u32 = 200u;
// Uniforms task_reset reads from its `u` argument (u[0..2]).
const TASK_RESET_UNIFORMS: u32 = 2u;

// TaskState.s = [theta, thetadot] (theta is not wrapped); flags unused (0).

const PENDULUM_PI: f32 = 3.141592653589793;
const PENDULUM_G: f32 = 10.0;
const PENDULUM_M: f32 = 1.0;
const PENDULUM_L: f32 = 1.0;
const PENDULUM_DT: f32 = 0.05;
const PENDULUM_MAX_TORQUE: f32 = 2.0;
const PENDULUM_MAX_SPEED: f32 = 8.0;
const PENDULUM_RESET_THETADOT: f32 = 1.0;
// 2 pi split for an exact reduction (Cody-Waite): HI has 8 significant bits, so k * HI
// is exact in f32 for |k| < 2^16; HI + LO = 2 pi to about 1e-16.
const PENDULUM_TWO_PI_HI: f32 = 6.28125;
const PENDULUM_TWO_PI_LO: f32 = 2.0 * 3.141592653589793 - 6.28125;

// Gymnasium's angle_normalize ((x + pi) mod 2 pi) - pi with Python's floored modulo.
// f32 care: WGSL `%` on floats truncates (like fmod) and is not exact, and
// (x + pi) - pi loses the low bits of x. So the number of turns k is taken from the
// floored quotient and the result is computed as x - k * 2 pi in two exact-ish parts.
// At a turn boundary k may differ from the CPU's by one, giving -pi instead of pi (or
// the reverse): the only use is th * th in the cost, which is the same for both.
fn pendulum_angle_normalize(x: f32) -> f32 {
    let k = floor((x + PENDULUM_PI) / (2.0 * PENDULUM_PI));
    return (x - k * PENDULUM_TWO_PI_HI) - k * PENDULUM_TWO_PI_LO;
}

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    st.s[0] = -PENDULUM_PI + (PENDULUM_PI - -PENDULUM_PI) * u[0];
    st.s[1] = -PENDULUM_RESET_THETADOT + (PENDULUM_RESET_THETADOT - -PENDULUM_RESET_THETADOT) * u[1];
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(cos(st.s[0]), sin(st.s[0]), st.s[1]);
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    // action_from_output: clip(out, -1, 1) scaled onto [-MAX_TORQUE, MAX_TORQUE] with the
    // CPU's formula low + (a + 1) * 0.5 * (high - low). f32 care: a + 1 rounds, so the
    // torque is off by up to ~2.4e-7 absolute (the CPU does this in f64).
    let a = clamp(out[0], -1.0, 1.0);
    let action = -PENDULUM_MAX_TORQUE + (a + 1.0) * 0.5 * (PENDULUM_MAX_TORQUE - -PENDULUM_MAX_TORQUE);
    // Clipped before both the cost and the dynamics; the cost uses the pre-step state.
    let u = clamp(action, -PENDULUM_MAX_TORQUE, PENDULUM_MAX_TORQUE);
    let theta = (*st).s[0];
    let thetadot = (*st).s[1];
    let th = pendulum_angle_normalize(theta);
    let cost = th * th + 0.1 * (thetadot * thetadot) + 0.001 * (u * u);
    let g = PENDULUM_G;
    let m = PENDULUM_M;
    let l = PENDULUM_L;
    let dt = PENDULUM_DT;
    var newthdot = thetadot + (3.0 * g / (2.0 * l) * sin(theta) + 3.0 / (m * (l * l)) * u) * dt;
    newthdot = clamp(newthdot, -PENDULUM_MAX_SPEED, PENDULUM_MAX_SPEED);
    (*st).s[0] = theta + newthdot * dt;
    (*st).s[1] = newthdot;
    (*st).steps = (*st).steps + 1u;
    var result: TaskStep;
    result.reward = -cost;
    result.terminated = false;
    result.truncated = (*st).steps >= TASK_MAX_STEPS;
    return result;
}
