// Full-generation mode: every episode of a member on the device, the task stepped
// in WGSL too (a task is composed in before this one: task_interface.wgsl and a
// `task_<name>.wgsl` defining TASK_*, task_reset, task_observe, task_step). One
// workgroup per member; invocation 0 runs the task, all invocations run the network
// (rsnn_core.wgsl); the state stays in the workgroup within a dispatch.
//
// The protocol is cpu::run_member's: per episode, reset the network from the
// potential stream and the task from the reset stream, then up to max_steps times
// observe, record the observation, normalise, step the network, step the task.
// Tasks and the normaliser run in f32 here (the CPU runs them in f64), so returns
// match the host-task mode only to f32 rounding of the task; the network is exact.

// The episodes run in slices: one dispatch does at most `eparams.units` units of work
// (a unit is one environment step or one episode reset), then saves everything it
// needs to go on (network state, spikes, task state, episode position, partial
// results) to `carry` and the next dispatch resumes from there; the host dispatches
// until every member is through. Slicing keeps the loop iterations of one dispatch
// bounded: llvmpipe (lavapipe) ends every loop of a shader invocation for good once
// its loops together have iterated LP_MAX_TGSI_LOOP_ITERATIONS = 65535 times, which
// silently cut whole generations short (CartPole episodes ended at 386 steps).

// Mirrors `satr::gpu::plan::EpisodeParams` (16 bytes).
struct EpisodeParams {
    episodes: u32,
    max_steps: u32,
    // Normaliser clip.
    clip: f32,
    // Units of work (steps or resets) per dispatch, at least 1.
    units: u32,
}

@group(0) @binding(0) var<uniform> params: NetParams;
@group(0) @binding(1) var<uniform> eparams: EpisodeParams;
@group(0) @binding(2) var<storage, read> nets: array<u32>;
// The frozen normaliser: mean[D_OBS] then inv_std[D_OBS], rounded to f32.
@group(0) @binding(3) var<storage, read> norm: array<f32>;
// Per member RES_WORDS words: summed return (f32), steps, observations counted,
// episodes completed, then Welford mean[D_OBS] and m2[D_OBS] (f32) of the
// observations seen. Zero before the first dispatch; every dispatch updates them.
@group(0) @binding(4) var<storage, read_write> results: array<u32>;
// Per member CARRY_WORDS words, zero before the first dispatch: episode index,
// step within the episode, 1 while an episode is open, its return so far (f32), the
// TaskState (steps, flags, then s[TASK_STATE_DIM] from CARRY_TASK_S, room for
// CARRY_TASK_MAX values), then from CARRY_NEURONS v[N], syn[N], rate[N] (f32) and the
// current spike words [ZW].
@group(0) @binding(5) var<storage, read_write> carry: array<u32>;

// RES_WORDS and the carry layout (CARRY_TASK_S, CARRY_TASK_MAX, CARRY_NEURONS,
// CARRY_WORDS) come from the header (`satr::gpu::plan::NetPlan::episode_header`).

const_assert TASK_OBS_DIM == D_OBS;
const_assert TASK_ACT_DIM == A_OUT;
const_assert TASK_STATE_DIM <= CARRY_TASK_MAX;

var<workgroup> episode_done: u32;
var<workgroup> wg_episode: u32;
var<workgroup> wg_step: u32;
var<workgroup> wg_open: u32;

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
    let cb = local * CARRY_WORDS;
    let base = local * RES_WORDS;
    load_columns(lid, net);

    var nr: Neurons;
    var task: TaskState;
    var total = 0.0;
    var steps = 0u;
    var count = 0u;
    var ret = 0.0;
    var mean: array<f32, XIN_LEN>;
    var m2: array<f32, XIN_LEN>;

    // Resume where the previous dispatch stopped.
    if (lid == 0u) {
        wg_episode = carry[cb];
        wg_step = carry[cb + 1u];
        wg_open = carry[cb + 2u];
        ret = bitcast<f32>(carry[cb + 3u]);
        task.steps = carry[cb + 4u];
        task.flags = carry[cb + 5u];
        for (var i = 0u; i < TASK_STATE_DIM; i++) {
            task.s[i] = bitcast<f32>(carry[cb + CARRY_TASK_S + i]);
        }
        total = bitcast<f32>(results[base]);
        steps = results[base + 1u];
        count = results[base + 2u];
        for (var j = 0u; j < D_OBS; j++) {
            mean[j] = bitcast<f32>(results[base + 4u + j]);
            m2[j] = bitcast<f32>(results[base + 4u + D_OBS + j]);
        }
    }
    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            nr.v[r] = bitcast<f32>(carry[cb + CARRY_NEURONS + n]);
            nr.syn[r] = bitcast<f32>(carry[cb + CARRY_NEURONS + N + n]);
            nr.rate[r] = bitcast<f32>(carry[cb + CARRY_NEURONS + 2u * N + n]);
        }
    }
    for (var w = lid; w < ZW; w += WG) {
        atomicStore(&spikes[w], carry[cb + CARRY_NEURONS + 3u * N + w]);
        atomicStore(&spikes[ZW + w], 0u);
        atomicStore(&spikes[2u * ZW + w], 0u);
    }
    // Uniform copies (every invocation takes the same branches below).
    var e = workgroupUniformLoad(&wg_episode);
    var t = workgroupUniformLoad(&wg_step);
    var open = workgroupUniformLoad(&wg_open);
    var phase = 0u;
    var units = eparams.units;

    loop {
        if (e >= eparams.episodes) {
            break;
        }
        if (open != 0u && t >= eparams.max_steps) {
            // Time's up (max_steps may be below the task's own limit). Costs no unit, so
            // it comes before the unit check: the dispatch that spends its last unit on
            // an episode's last step still closes that episode.
            total += ret;
            e += 1u;
            open = 0u;
            continue;
        }
        if (units == 0u) {
            break;
        }
        if (open == 0u) {
            // Episode reset (one unit).
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
            phase = 0u;
            if (lid == 0u) {
                ret = 0.0;
                let rstream = stream_word(STREAM_RESET, e);
                let b0 = philox4x32_10(vec4<u32>(0u, member, params.generation, rstream), key);
                var u: array<f32, TASK_RESET_LEN>;
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
            open = 1u;
            t = 0u;
            units -= 1u;
            continue;
        }
        if (lid == 0u) {
            let o = task_observe(task);
            count += 1u;
            let nf = f32(count);
            for (var j = 0u; j < D_OBS; j++) {
                let delta = o[j] - mean[j];
                mean[j] += delta / nf;
                // Rounded on its own, as every product feeding a sum (no FMA on any driver).
                m2[j] += rounded(delta * (o[j] - mean[j]), z0);
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
        t += 1u;
        units -= 1u;
        if (workgroupUniformLoad(&episode_done) != 0u) {
            total += ret;
            e += 1u;
            open = 0u;
        }
    }

    // Save the state for the next dispatch (a no-op for it once e == episodes).
    if (lid == 0u) {
        carry[cb] = e;
        carry[cb + 1u] = t;
        carry[cb + 2u] = open;
        carry[cb + 3u] = bitcast<u32>(ret);
        carry[cb + 4u] = task.steps;
        carry[cb + 5u] = task.flags;
        for (var i = 0u; i < TASK_STATE_DIM; i++) {
            carry[cb + CARRY_TASK_S + i] = bitcast<u32>(task.s[i]);
        }
        results[base] = bitcast<u32>(total);
        results[base + 1u] = steps;
        results[base + 2u] = count;
        results[base + 3u] = e;
        for (var j = 0u; j < D_OBS; j++) {
            results[base + 4u + j] = bitcast<u32>(mean[j]);
            results[base + 4u + D_OBS + j] = bitcast<u32>(m2[j]);
        }
    }
    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            carry[cb + CARRY_NEURONS + n] = bitcast<u32>(nr.v[r]);
            carry[cb + CARRY_NEURONS + N + n] = bitcast<u32>(nr.syn[r]);
            carry[cb + CARRY_NEURONS + 2u * N + n] = bitcast<u32>(nr.rate[r]);
        }
    }
    for (var w = lid; w < ZW; w += WG) {
        carry[cb + CARRY_NEURONS + 3u * N + w] = atomicLoad(&spikes[phase * ZW + w]);
    }
}
