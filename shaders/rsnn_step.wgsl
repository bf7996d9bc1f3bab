// Host-task mode: one environment step for many members, one workgroup per member
// (the network itself is in rsnn_core.wgsl). State goes through the state buffer
// between dispatches; observations come from and outputs go to the host.
// Header consts: N, N_EXC, N_INH, D_OBS, A_OUT, K_SUB, WG, NPT and derived sizes.

@group(0) @binding(0) var<uniform> params: NetParams;
@group(0) @binding(1) var<storage, read> nets: array<u32>;
// Normalised observations, members x D_OBS.
@group(0) @binding(2) var<storage, read> obs: array<f32>;
// Nonzero for members still in their episode; others are left untouched.
@group(0) @binding(3) var<storage, read> alive: array<u32>;
// members x STATE_WORDS: v, i_syn, rate, i_in (f32 bits), counts (i32 bits), z words.
@group(0) @binding(4) var<storage, read_write> state: array<u32>;
// Network outputs, members x A_OUT.
@group(0) @binding(5) var<storage, read_write> outputs: array<f32>;
// Spike words of every substep (members x K_SUB x ZW) when params.flags bit 0 is set.
@group(0) @binding(6) var<storage, read_write> trace: array<u32>;

var<workgroup> live: u32;
var<private> member_local: u32;

fn record_spikes(lid: u32, substep: u32, buf: u32) {
    if ((params.flags & 1u) != 0u) {
        for (var w = lid; w < ZW; w += WG) {
            trace[(member_local * K_SUB + substep) * ZW + w] = atomicLoad(&spikes[buf + w]);
        }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local = group_index(wid, params.grid_x);
    member_local = local;
    if (lid == 0u) {
        live = select(0u, alive[min(local, params.members - 1u)], local < params.members);
    }
    // Uniform for the whole workgroup, so the barriers below stay in uniform control flow.
    if (workgroupUniformLoad(&live) == 0u) {
        return;
    }
    let c = params.c;
    let net = local * NET_WORDS;
    let st = local * STATE_WORDS;

    load_columns(lid, net);
    for (var w = lid; w < ZW; w += WG) {
        atomicStore(&spikes[w], state[st + OFF_Z + w]);
        atomicStore(&spikes[ZW + w], 0u);
        atomicStore(&spikes[2u * ZW + w], 0u);
    }
    for (var j = lid; j < D_OBS; j += WG) {
        xin[j] = obs[local * D_OBS + j];
    }
    var nr: Neurons;
    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            nr.v[r] = bitcast<f32>(state[st + OFF_V + n]);
            nr.syn[r] = bitcast<f32>(state[st + OFF_SYN + n]);
            nr.rate[r] = bitcast<f32>(state[st + OFF_RATE + n]);
        }
    }
    workgroupBarrier();

    let phase = net_step(lid, net, c, &nr, 0u);

    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            state[st + OFF_V + n] = bitcast<u32>(nr.v[r]);
            state[st + OFF_SYN + n] = bitcast<u32>(nr.syn[r]);
            state[st + OFF_RATE + n] = bitcast<u32>(nr.rate[r]);
            state[st + OFF_IIN + n] = bitcast<u32>(nr.iin[r]);
            state[st + OFF_COUNTS + n] = bitcast<u32>(nr.cnt[r]);
        }
    }
    for (var w = lid; w < ZW; w += WG) {
        state[st + OFF_Z + w] = atomicLoad(&spikes[phase * ZW + w]);
    }
    for (var k = lid; k < A_OUT; k += WG) {
        outputs[local * A_OUT + k] = yout[k];
    }
}
