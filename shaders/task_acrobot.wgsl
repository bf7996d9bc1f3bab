// Acrobot-v1 (Gymnasium 1.x book dynamics, torque noise 0), in f32: the WGSL port of
// src/tasks/acrobot.rs.
//
// The task interface (TaskState, TaskStep) is in task_interface.wgsl; this file
// defines TASK_*, task_reset, task_observe, task_step, and helpers prefixed `acrobot_`.

const TASK_STATE_DIM: u32 = 4u;
const TASK_OBS_DIM: u32 = 6u;
const TASK_ACT_DIM: u32 = 3u;
const TASK_DISCRETE: bool = true;
const TASK_MAX_STEPS: u32 = 500u;
// Uniforms task_reset reads from its `u` argument (u[0..4]).
const TASK_RESET_UNIFORMS: u32 = 4u;

// TaskState.s = [theta1, theta2, dtheta1, dtheta2]; flags unused (0).

const ACROBOT_PI: f32 = 3.141592653589793;
const ACROBOT_DT: f32 = 0.2;
const ACROBOT_L1: f32 = 1.0;
const ACROBOT_M1: f32 = 1.0;
const ACROBOT_M2: f32 = 1.0;
const ACROBOT_LC1: f32 = 0.5;
const ACROBOT_LC2: f32 = 0.5;
const ACROBOT_I1: f32 = 1.0;
const ACROBOT_I2: f32 = 1.0;
const ACROBOT_G: f32 = 9.8;
// 4 pi and 9 pi, evaluated as abstract (f64) constants and then rounded to f32.
const ACROBOT_MAX_VEL_1: f32 = 4.0 * 3.141592653589793;
const ACROBOT_MAX_VEL_2: f32 = 9.0 * 3.141592653589793;
const ACROBOT_RESET_BOUND: f32 = 0.1;

// Time derivative of s = (theta1, theta2, dtheta1, dtheta2) under `a` (the torque),
// with Gymnasium's operand order.
fn acrobot_derivs(s: vec4<f32>, a: f32) -> vec4<f32> {
    let theta1 = s.x;
    let theta2 = s.y;
    let dtheta1 = s.z;
    let dtheta2 = s.w;
    let m1 = ACROBOT_M1;
    let m2 = ACROBOT_M2;
    let l1 = ACROBOT_L1;
    let lc1 = ACROBOT_LC1;
    let lc2 = ACROBOT_LC2;
    let i1 = ACROBOT_I1;
    let i2 = ACROBOT_I2;
    let g = ACROBOT_G;
    let d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * cos(theta2)) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos(theta2)) + i2;
    let phi2 = m2 * lc2 * g * cos(theta1 + theta2 - ACROBOT_PI / 2.0);
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * sin(theta2)
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
        + (m1 * lc1 + m2 * l1) * g * cos(theta1 - ACROBOT_PI / 2.0)
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * sin(theta2) - phi2)
        / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    return vec4<f32>(dtheta1, dtheta2, ddtheta1, ddtheta2);
}

// One classical RK4 step over [0, DT], combined as y0 + dt / 6 * (k1 + 2 k2 + 2 k3 + k4)
// (componentwise, the same association as the CPU).
fn acrobot_rk4(s: vec4<f32>, torque: f32) -> vec4<f32> {
    let dt = ACROBOT_DT;
    let dt2 = dt / 2.0;
    let k1 = acrobot_derivs(s, torque);
    let k2 = acrobot_derivs(s + dt2 * k1, torque);
    let k3 = acrobot_derivs(s + dt2 * k2, torque);
    let k4 = acrobot_derivs(s + dt * k3, torque);
    let k = k1 + 2.0 * k2 + 2.0 * k3 + k4;
    return s + dt / 6.0 * k;
}

// Gymnasium's wrap(x, -pi, pi): repeated shifts by 2 pi, as the CPU does.
// f32 care: the bounds are pi rounded to f32 (3.14159274, above the f64 pi), so an angle
// in (pi_f64, pi_f32] is wrapped on the CPU but not here; both describe the same angle.
// Inputs beyond 64 turns are first reduced with a floored remainder (WGSL `%` on floats
// truncates like fmod, so floor() is written out). WGSL has no isnan/isinf and a GPU
// may assume finite floats, so both loops are also bounded by a round count: after the
// reduction at most 65 rounds are ever needed (a step changes an angle by at most
// DT * 9 pi, under one turn); a NaN or inf input leaves the loops and stays non-finite.
fn acrobot_wrap_angle(x_in: f32) -> f32 {
    let m = -ACROBOT_PI;
    let big_m = ACROBOT_PI;
    let diff = big_m - m;
    var x = x_in;
    if abs(x) > 64.0 * diff {
        let y = x - m;
        x = y - floor(y / diff) * diff + m;
    }
    for (var i = 0u; i < 80u && x > big_m; i = i + 1u) {
        x = x - diff;
    }
    for (var i = 0u; i < 80u && x < m; i = i + 1u) {
        x = x + diff;
    }
    return x;
}

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    // uniform(-0.1, 0.1, size=4), in state order (the CPU rounds each draw to f32 too).
    for (var i = 0u; i < 4u; i = i + 1u) {
        st.s[i] = -ACROBOT_RESET_BOUND + (ACROBOT_RESET_BOUND - -ACROBOT_RESET_BOUND) * u[i];
    }
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(
        cos(st.s[0]), sin(st.s[0]), cos(st.s[1]), sin(st.s[1]), st.s[2], st.s[3]
    );
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    // action_from_output for Discrete(3): argmax, lowest index on ties (a NaN output
    // never wins: comparisons with NaN are false). Torques -1, 0, 1.
    var best = 0u;
    var best_val = out[0];
    if out[1] > best_val {
        best = 1u;
        best_val = out[1];
    }
    if out[2] > best_val {
        best = 2u;
    }
    let torque = f32(best) - 1.0;
    let s = vec4<f32>((*st).s[0], (*st).s[1], (*st).s[2], (*st).s[3]);
    let ns = acrobot_rk4(s, torque);
    let theta1 = acrobot_wrap_angle(ns.x);
    let theta2 = acrobot_wrap_angle(ns.y);
    (*st).s[0] = theta1;
    (*st).s[1] = theta2;
    (*st).s[2] = clamp(ns.z, -ACROBOT_MAX_VEL_1, ACROBOT_MAX_VEL_1);
    (*st).s[3] = clamp(ns.w, -ACROBOT_MAX_VEL_2, ACROBOT_MAX_VEL_2);
    // The tip is more than one link length above the pivot.
    let terminated = -cos(theta1) - cos(theta2 + theta1) > 1.0;
    (*st).steps = (*st).steps + 1u;
    var result: TaskStep;
    result.reward = select(-1.0, 0.0, terminated);
    result.terminated = terminated;
    result.truncated = (*st).steps >= TASK_MAX_STEPS;
    return result;
}
