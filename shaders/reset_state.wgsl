// Episode start (SPEC 1), the GPU twin of cpu::reset_state: i_syn = rate =
// i_in = 0, no spikes, v = V_r + (V_th - V_r) u with u from the potential stream of
// (seed, generation, member, episode). One workgroup per member.
// Header consts: N, WG, STATE_WORDS, ZW and the state offsets.

@group(0) @binding(0) var<uniform> params: NetParams;
@group(0) @binding(1) var<storage, read_write> state: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local = group_index(wid, params.grid_x);
    if (local >= params.members) {
        return;
    }
    let member = params.member_offset + local;
    let base = local * STATE_WORDS;
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    let stream = stream_word(STREAM_POTENTIAL, params.episode);
    let c = params.c;
    for (var n = lid; n < N; n += WG) {
        let r = philox4x32_10(vec4<u32>(n >> 2u, member, params.generation, stream), key);
        let u = unit_f32(r[n & 3u]);
        state[base + OFF_V + n] = bitcast<u32>(c.v_reset + rounded(c.v_span * u, bitcast<u32>(c._pad0)));
        state[base + OFF_SYN + n] = 0u;
        state[base + OFF_RATE + n] = 0u;
        state[base + OFF_IIN + n] = 0u;
        state[base + OFF_COUNTS + n] = 0u;
    }
    for (var w = lid; w < ZW; w += WG) {
        state[base + OFF_Z + w] = 0u;
    }
}
