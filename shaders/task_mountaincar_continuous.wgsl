// MountainCarContinuous-v0 (Gymnasium 1.x, goal velocity 0), in f32: the WGSL port of
// src/tasks/mountain_car.rs.
//
// The task interface (TaskState, TaskStep) is in task_interface.wgsl; this file
// defines TASK_*, task_reset, task_observe, task_step, and helpers prefixed `mountaincar_`.

const TASK_STATE_DIM: u32 = 2u;
const TASK_OBS_DIM: u32 = 2u;
const TASK_ACT_DIM: u32 = 1u;
const TASK_DISCRETE: bool = false;
const TASK_MAX_STEPS: u32 = 999u;
// Uniforms task_reset reads from its `u` argument (u[0] only).
const TASK_RESET_UNIFORMS: u32 = 1u;

// TaskState.s = [position, velocity]; flags unused (0).

const MOUNTAINCAR_MIN_ACTION: f32 = -1.0;
const MOUNTAINCAR_MAX_ACTION: f32 = 1.0;
const MOUNTAINCAR_MIN_POSITION: f32 = -1.2;
const MOUNTAINCAR_MAX_POSITION: f32 = 0.6;
const MOUNTAINCAR_MAX_SPEED: f32 = 0.07;
const MOUNTAINCAR_GOAL_POSITION: f32 = 0.45;
const MOUNTAINCAR_GOAL_VELOCITY: f32 = 0.0;
const MOUNTAINCAR_POWER: f32 = 0.0015;
const MOUNTAINCAR_GRAVITY_COEF: f32 = 0.0025;
const MOUNTAINCAR_GOAL_REWARD: f32 = 100.0;
const MOUNTAINCAR_ACTION_COST: f32 = 0.1;
const MOUNTAINCAR_RESET_LOW: f32 = -0.6;
const MOUNTAINCAR_RESET_HIGH: f32 = -0.4;

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    st.s[0] = MOUNTAINCAR_RESET_LOW + (MOUNTAINCAR_RESET_HIGH - MOUNTAINCAR_RESET_LOW) * u[0];
    st.s[1] = 0.0;
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[1]);
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    // action_from_output: clip(out, -1, 1) scaled onto [MIN_ACTION, MAX_ACTION] with the
    // CPU's formula low + (a + 1) * 0.5 * (high - low). f32 care: a + 1 rounds, so the
    // action is off by up to ~6e-8 absolute (the CPU does this in f64).
    let a = clamp(out[0], -1.0, 1.0);
    let action = MOUNTAINCAR_MIN_ACTION
        + (a + 1.0) * 0.5 * (MOUNTAINCAR_MAX_ACTION - MOUNTAINCAR_MIN_ACTION);
    let position0 = (*st).s[0];
    let velocity0 = (*st).s[1];
    let force = clamp(action, MOUNTAINCAR_MIN_ACTION, MOUNTAINCAR_MAX_ACTION);
    var velocity = velocity0
        + (force * MOUNTAINCAR_POWER - MOUNTAINCAR_GRAVITY_COEF * cos(3.0 * position0));
    velocity = clamp(velocity, -MOUNTAINCAR_MAX_SPEED, MOUNTAINCAR_MAX_SPEED);
    let position = clamp(position0 + velocity, MOUNTAINCAR_MIN_POSITION, MOUNTAINCAR_MAX_POSITION);
    // An inelastic left wall. clamp returns the bound itself, so == is exact here.
    if position == MOUNTAINCAR_MIN_POSITION && velocity < 0.0 {
        velocity = 0.0;
    }
    let terminated = position >= MOUNTAINCAR_GOAL_POSITION && velocity >= MOUNTAINCAR_GOAL_VELOCITY;
    // Gymnasium stores the state as float32 after each step: here it already is.
    (*st).s[0] = position;
    (*st).s[1] = velocity;
    (*st).steps = (*st).steps + 1u;
    var result: TaskStep;
    // The goal bonus minus the cost of the (unclipped) action.
    result.reward = select(0.0, MOUNTAINCAR_GOAL_REWARD, terminated)
        - action * action * MOUNTAINCAR_ACTION_COST;
    result.terminated = terminated;
    result.truncated = (*st).steps >= TASK_MAX_STEPS;
    return result;
}
