// Test kernels over one task (composed after the task by tests/common/gpu_tasks.rs,
// under a header with STEP_WORKGROUP): `step_main` runs one task_step per batch entry,
// `reset_main` one task_reset, and `episode_main` whole episodes under a linear
// policy. One invocation per batch entry.

// x = batch size B; y, z, w unused.
@group(0) @binding(0) var<uniform> params: vec4<u32>;
// B task states: inputs of step_main, outputs of all three kernels (the final state
// for episode_main).
@group(0) @binding(1) var<storage, read_write> states: array<TaskState>;
// step_main: B * TASK_ACT_DIM network outputs. reset_main and episode_main:
// B * TASK_RESET_LEN reset uniforms.
@group(0) @binding(2) var<storage, read> inputs: array<f32>;
// B * TASK_OBS_DIM observations of the new state (final state for episode_main).
@group(0) @binding(3) var<storage, read_write> obs: array<f32>;
// B step results (the whole episode's for episode_main).
@group(0) @binding(4) var<storage, read_write> results: array<StepResult>;
// episode_main's policy: out[k] = bias[k] + sum_j w[k][j] * obs[j], stored per output k
// as (TASK_OBS_DIM weights, bias).
@group(0) @binding(5) var<storage, read> policy: array<f32>;

struct StepResult {
    // step_main: the reward. episode_main: the return (rewards summed in f32).
    reward: f32,
    // 0 or 1: the (last) step terminated.
    terminated: u32,
    // 0 or 1: the (last) step truncated.
    truncated: u32,
    // episode_main: steps taken. Otherwise 0.
    steps: u32,
}

fn step_write_obs(i: u32, st: TaskState) {
    let o = task_observe(st);
    for (var j = 0u; j < TASK_OBS_DIM; j = j + 1u) {
        obs[i * TASK_OBS_DIM + j] = o[j];
    }
}

fn step_uniforms(i: u32) -> array<f32, TASK_RESET_LEN> {
    var u: array<f32, TASK_RESET_LEN>;
    for (var j = 0u; j < TASK_RESET_LEN; j = j + 1u) {
        u[j] = inputs[i * TASK_RESET_LEN + j];
    }
    return u;
}

@compute @workgroup_size(STEP_WORKGROUP)
fn step_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.x {
        return;
    }
    var st = states[i];
    var out: array<f32, TASK_ACT_DIM>;
    for (var k = 0u; k < TASK_ACT_DIM; k = k + 1u) {
        out[k] = inputs[i * TASK_ACT_DIM + k];
    }
    let r = task_step(&st, out);
    states[i] = st;
    step_write_obs(i, st);
    results[i] = StepResult(r.reward, u32(r.terminated), u32(r.truncated), 0u);
}

@compute @workgroup_size(STEP_WORKGROUP)
fn reset_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.x {
        return;
    }
    let st = task_reset(step_uniforms(i));
    states[i] = st;
    step_write_obs(i, st);
    results[i] = StepResult(0.0, 0u, 0u, 0u);
}

@compute @workgroup_size(STEP_WORKGROUP)
fn episode_main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.x {
        return;
    }
    var st = task_reset(step_uniforms(i));
    var ret = 0.0;
    var last: TaskStep;
    var n = 0u;
    loop {
        let o = task_observe(st);
        var out: array<f32, TASK_ACT_DIM>;
        for (var k = 0u; k < TASK_ACT_DIM; k = k + 1u) {
            let base = k * (TASK_OBS_DIM + 1u);
            var acc = 0.0;
            for (var j = 0u; j < TASK_OBS_DIM; j = j + 1u) {
                acc = acc + policy[base + j] * o[j];
            }
            out[k] = acc + policy[base + TASK_OBS_DIM];
        }
        last = task_step(&st, out);
        ret = ret + last.reward;
        n = n + 1u;
        if last.terminated || last.truncated {
            break;
        }
    }
    states[i] = st;
    step_write_obs(i, st);
    results[i] = StepResult(ret, u32(last.terminated), u32(last.truncated), n);
}
