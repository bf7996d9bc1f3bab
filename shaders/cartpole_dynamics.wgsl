// CartPole-v1 dynamics in f32, shared by task_cartpole.wgsl and
// task_cartpole_pos.wgsl: `gpu::tasks::task_wgsl` appends this file to either, so the
// two tasks differ only in their observation. The WGSL port of src/tasks/cartpole.rs.

// --- cartpole dynamics (begin) ---
const CARTPOLE_GRAVITY: f32 = 9.8;
const CARTPOLE_MASS_CART: f32 = 1.0;
const CARTPOLE_MASS_POLE: f32 = 0.1;
// Rounded from the f64 sum / product, as the CPU constants are.
const CARTPOLE_TOTAL_MASS: f32 = 0.1 + 1.0;
const CARTPOLE_HALF_LENGTH: f32 = 0.5;
const CARTPOLE_POLEMASS_LENGTH: f32 = 0.1 * 0.5;
const CARTPOLE_FORCE_MAG: f32 = 10.0;
const CARTPOLE_TAU: f32 = 0.02;
// 12 degrees, evaluated as an abstract (f64) constant and then rounded to f32.
const CARTPOLE_THETA_THRESHOLD: f32 = 12.0 * 2.0 * 3.141592653589793 / 360.0;
const CARTPOLE_X_THRESHOLD: f32 = 2.4;
const CARTPOLE_RESET_BOUND: f32 = 0.05;
const CARTPOLE_FLAG_TERMINATED: u32 = 1u;

// NumPy's uniform(low, high) from u in [0, 1).
fn cartpole_uniform_in(low: f32, high: f32, u: f32) -> f32 {
    return low + (high - low) * u;
}

fn cartpole_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    // One draw per variable, in state order.
    st.s[0] = cartpole_uniform_in(-CARTPOLE_RESET_BOUND, CARTPOLE_RESET_BOUND, u[0]);
    st.s[1] = cartpole_uniform_in(-CARTPOLE_RESET_BOUND, CARTPOLE_RESET_BOUND, u[1]);
    st.s[2] = cartpole_uniform_in(-CARTPOLE_RESET_BOUND, CARTPOLE_RESET_BOUND, u[2]);
    st.s[3] = cartpole_uniform_in(-CARTPOLE_RESET_BOUND, CARTPOLE_RESET_BOUND, u[3]);
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

// action_from_output for Discrete(2): argmax, lowest index on ties (a NaN output
// never wins, as on the CPU: comparisons with NaN are false).
fn cartpole_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    let push_right = out[1] > out[0];
    let x = (*st).s[0];
    let x_dot = (*st).s[1];
    let theta = (*st).s[2];
    let theta_dot = (*st).s[3];
    // Same expressions, same order as cartpole_dynamics (explicit Euler).
    let force = select(-CARTPOLE_FORCE_MAG, CARTPOLE_FORCE_MAG, push_right);
    let costheta = cos(theta);
    let sintheta = sin(theta);
    let temp = (force + CARTPOLE_POLEMASS_LENGTH * (theta_dot * theta_dot) * sintheta)
        / CARTPOLE_TOTAL_MASS;
    let thetaacc = (CARTPOLE_GRAVITY * sintheta - costheta * temp)
        / (CARTPOLE_HALF_LENGTH
            * (4.0 / 3.0 - CARTPOLE_MASS_POLE * (costheta * costheta) / CARTPOLE_TOTAL_MASS));
    let xacc = temp - CARTPOLE_POLEMASS_LENGTH * thetaacc * costheta / CARTPOLE_TOTAL_MASS;
    let nx = x + CARTPOLE_TAU * x_dot;
    let ntheta = theta + CARTPOLE_TAU * theta_dot;
    (*st).s[0] = nx;
    (*st).s[1] = x_dot + CARTPOLE_TAU * xacc;
    (*st).s[2] = ntheta;
    (*st).s[3] = theta_dot + CARTPOLE_TAU * thetaacc;
    let terminated = nx < -CARTPOLE_X_THRESHOLD || nx > CARTPOLE_X_THRESHOLD
        || ntheta < -CARTPOLE_THETA_THRESHOLD || ntheta > CARTPOLE_THETA_THRESHOLD;
    let before = ((*st).flags & CARTPOLE_FLAG_TERMINATED) != 0u;
    var result: TaskStep;
    result.reward = select(0.0, 1.0, !terminated || !before);
    if terminated {
        (*st).flags = (*st).flags | CARTPOLE_FLAG_TERMINATED;
    }
    (*st).steps = (*st).steps + 1u;
    result.terminated = terminated;
    result.truncated = (*st).steps >= TASK_MAX_STEPS;
    return result;
}
// --- cartpole dynamics (end) ---
