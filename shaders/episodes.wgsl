// Full-generation mode: every episode of a member in one dispatch, the task stepped
// in WGSL too (a task file `task_<name>.wgsl` is composed in before this one: it
// defines TASK_*, TaskState, task_reset, task_observe, task_step). One workgroup per
// member; invocation 0 runs the task, all invocations run the network
// (rsnn_core.wgsl); the state never leaves the workgroup.
//
// The protocol is cpu::run_member's: per episode, reset the network from the
// potential stream and the task from the reset stream, then up to max_steps times
// observe, record the observation, normalise, step the network, step the task.
// Tasks and the normaliser run in f32 here (the CPU runs them in f64), so returns
// match the host-task mode only to f32 rounding of the task; the network is exact.

// Mirrors `satr::gpu::plan::EpisodeParams` (16 bytes).
struct EpisodeParams {
    episodes: u32,
    max_steps: u32,
    // Normaliser clip.
    clip: f32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: NetParams;
@group(0) @binding(1) var<uniform> eparams: EpisodeParams;
@group(0) @binding(2) var<storage, read> nets: array<u32>;
// The frozen normaliser: mean[D_OBS] then inv_std[D_OBS], rounded to f32.
@group(0) @binding(3) var<storage, read> norm: array<f32>;
// Per member RES_WORDS words: summed return (f32), steps, observations counted,
// 0, then Welford mean[D_OBS] and m2[D_OBS] (f32) of the observations seen.
@group(0) @binding(4) var<storage, read_write> results: array<u32>;

const RES_WORDS: u32 = 4u + 2u * D_OBS;

const_assert TASK_OBS_DIM == D_OBS;
const_assert TASK_ACT_DIM == A_OUT;

var<workgroup> episode_done: u32;

fn record_spikes(lid: u32, substep: u32, buf: u32) {}

// A reset uniform from a stream word: rounded to f32 and kept below 1.
fn reset_uniform(word: u32) -> f32 {
    return min(f32(word) * (1.0 / 4294967296.0), 0.99999994);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local = group_index(wid, params.grid_x);
    // Uniform per workgroup: depends on the workgroup id only.
    if (local >= params.members) {
        return;
    }
    let member = params.member_offset + local;
    let c = params.c;
    let z0 = bitcast<u32>(c._pad0);
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    let net = local * NET_WORDS;
    load_columns(lid, net);

    var nr: Neurons;
    var task: TaskState;
    var total = 0.0;
    var steps = 0u;
    var count = 0u;
    var mean: array<f32, XIN_LEN>;
    var m2: array<f32, XIN_LEN>;

    for (var e = 0u; e < eparams.episodes; e++) {
        let pstream = stream_word(STREAM_POTENTIAL, e);
        for (var r = 0u; r < NPT; r++) {
            let n = lid + r * WG;
            if (n < N) {
                let w = philox4x32_10(vec4<u32>(n >> 2u, member, params.generation, pstream), key);
                nr.v[r] = c.v_reset + rounded(c.v_span * unit_f32(w[n & 3u]), z0);
                nr.syn[r] = 0.0;
                nr.rate[r] = 0.0;
            }
        }
        for (var w = lid; w < 3u * ZW; w += WG) {
            atomicStore(&spikes[w], 0u);
        }
        var ret = 0.0;
        if (lid == 0u) {
            let rstream = stream_word(STREAM_RESET, e);
            let b0 = philox4x32_10(vec4<u32>(0u, member, params.generation, rstream), key);
            var u: array<f32, 8>;
            for (var i = 0u; i < 4u; i++) {
                u[i] = reset_uniform(b0[i]);
            }
            if (TASK_RESET_UNIFORMS > 4u) {
                let b1 = philox4x32_10(vec4<u32>(1u, member, params.generation, rstream), key);
                for (var i = 0u; i < 4u; i++) {
                    u[4u + i] = reset_uniform(b1[i]);
                }
            }
            task = task_reset(u);
        }
        var phase = 0u;
        for (var t = 0u; t < eparams.max_steps; t++) {
            if (lid == 0u) {
                let o = task_observe(task);
                count += 1u;
                let nf = f32(count);
                for (var j = 0u; j < D_OBS; j++) {
                    let delta = o[j] - mean[j];
                    mean[j] += delta / nf;
                    m2[j] += delta * (o[j] - mean[j]);
                    xin[j] = clamp((o[j] - norm[j]) * norm[D_OBS + j], -eparams.clip, eparams.clip);
                }
            }
            workgroupBarrier();
            phase = net_step(lid, net, c, &nr, phase);
            if (lid == 0u) {
                var out: array<f32, TASK_ACT_DIM>;
                for (var k = 0u; k < A_OUT; k++) {
                    out[k] = yout[k];
                }
                let res = task_step(&task, out);
                ret += res.reward;
                steps += 1u;
                episode_done = select(0u, 1u, res.terminated || res.truncated);
            }
            if (workgroupUniformLoad(&episode_done) != 0u) {
                break;
            }
        }
        total += ret;
    }
    if (lid == 0u) {
        let base = local * RES_WORDS;
        results[base] = bitcast<u32>(total);
        results[base + 1u] = steps;
        results[base + 2u] = count;
        results[base + 3u] = 0u;
        for (var j = 0u; j < D_OBS; j++) {
            results[base + 4u + j] = bitcast<u32>(mean[j]);
            results[base + 4u + D_OBS + j] = bitcast<u32>(m2[j]);
        }
    }
}
