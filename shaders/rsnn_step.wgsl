// One environment step of SPEC 1 for many members, one workgroup per member: the
// GPU twin of cpu::env_step, with the same loop structure and operation order.
// Invocation `lid` owns neurons lid, lid + WG, ... and keeps their f32 state in
// registers for the whole env step. The recurrent columns live in workgroup memory
// (or are read from the net buffer when they do not fit: COLS_IN_WG = false).
// Spikes are packed words in workgroup memory, built with atomicOr; three rotating
// buffers (read, write, clear) need only one barrier per substep.
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

var<workgroup> cols: array<u32, COLS_WG_WORDS>;
var<workgroup> spikes: array<atomic<u32>, 3 * ZW>;
var<workgroup> rates: array<f32, N>;
var<workgroup> live: u32;

fn column(net: u32, i: u32) -> u32 {
    if (COLS_IN_WG) {
        return cols[i];
    }
    return nets[net + OFF_H_EXC + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let local = group_index(wid, params.grid_x);
    if (lid == 0u) {
        live = select(0u, alive[min(local, params.members - 1u)], local < params.members);
    }
    // Uniform for the whole workgroup, so the barriers below stay in uniform control flow.
    if (workgroupUniformLoad(&live) == 0u) {
        return;
    }
    let c = params.c;
    let z0 = bitcast<u32>(c._pad0);
    let net = local * NET_WORDS;
    let st = local * STATE_WORDS;

    if (COLS_IN_WG) {
        for (var i = lid; i < COLS_WORDS; i += WG) {
            cols[i] = nets[net + OFF_H_EXC + i];
        }
    }
    for (var w = lid; w < ZW; w += WG) {
        atomicStore(&spikes[w], state[st + OFF_Z + w]);
        atomicStore(&spikes[ZW + w], 0u);
        atomicStore(&spikes[2u * ZW + w], 0u);
    }

    // Input projection: masked sum over input lines in order, then one scale (as the CPU).
    var v: array<f32, NPT>;
    var syn: array<f32, NPT>;
    var rate: array<f32, NPT>;
    var iin: array<f32, NPT>;
    var cnt: array<i32, NPT>;
    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            var acc = 0.0;
            for (var j = 0u; j < 2u * D_OBS; j++) {
                let x = obs[local * D_OBS + select(j - D_OBS, j, j < D_OBS)];
                let xv = select(-x, x, j < D_OBS);
                let bit = (nets[net + OFF_W_IN + j * NW + (n >> 5u)] >> (n & 31u)) & 1u;
                acc += select(0.0, xv, bit == 1u);
            }
            iin[r] = acc * c.r_in;
            v[r] = bitcast<f32>(state[st + OFF_V + n]);
            syn[r] = bitcast<f32>(state[st + OFF_SYN + n]);
            rate[r] = bitcast<f32>(state[st + OFF_RATE + n]);
        }
    }
    workgroupBarrier();

    for (var s = 0u; s < K_SUB; s++) {
        let cur = (s % 3u) * ZW;
        let nxt = ((s + 1u) % 3u) * ZW;
        let clr = ((s + 2u) % 3u) * ZW;
        // Read last in the previous substep and written first in the next one.
        for (var w = lid; w < ZW; w += WG) {
            atomicStore(&spikes[clr + w], 0u);
        }
        for (var r = 0u; r < NPT; r++) {
            let n = lid + r * WG;
            if (n < N) {
                var count = 0i;
                for (var w = 0u; w < WE; w++) {
                    let z = atomicLoad(&spikes[cur + w]);
                    if (z != 0u) {
                        count += i32(countOneBits(column(net, w * N + n) & z));
                    }
                }
                for (var w = 0u; w < WI; w++) {
                    let z = atomicLoad(&spikes[cur + WE + w]);
                    if (z != 0u) {
                        count -= i32(countOneBits(column(net, (WE + w) * N + n) & z));
                    }
                }
                cnt[r] = count;
                let r_spike = select(-c.spike_rate, c.spike_rate, n < N_EXC);
                // Each product is rounded on its own (`rounded`), as on the CPU.
                let i_spk = rounded(c.r_h * f32(count), z0);
                let syn_new = rounded(c.alpha_syn * syn[r], z0) + i_spk;
                syn[r] = syn_new;
                let v_target = c.v_reset + syn_new + iin[r];
                let vn = v_target + rounded(c.alpha_v * (v[r] - v_target), z0);
                let spike = vn > c.v_threshold;
                v[r] = select(vn, c.v_reset, spike);
                let r_t = select(0.0, r_spike, spike);
                rate[r] = r_t + rounded(c.alpha_out * (rate[r] - r_t), z0);
                if (spike) {
                    if (n < N_EXC) {
                        atomicOr(&spikes[nxt + (n >> 5u)], 1u << (n & 31u));
                    } else {
                        let q = n - N_EXC;
                        atomicOr(&spikes[nxt + WE + (q >> 5u)], 1u << (q & 31u));
                    }
                }
            }
        }
        workgroupBarrier();
        if ((params.flags & 1u) != 0u) {
            for (var w = lid; w < ZW; w += WG) {
                trace[(local * K_SUB + s) * ZW + w] = atomicLoad(&spikes[nxt + w]);
            }
        }
    }

    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            state[st + OFF_V + n] = bitcast<u32>(v[r]);
            state[st + OFF_SYN + n] = bitcast<u32>(syn[r]);
            state[st + OFF_RATE + n] = bitcast<u32>(rate[r]);
            state[st + OFF_IIN + n] = bitcast<u32>(iin[r]);
            state[st + OFF_COUNTS + n] = bitcast<u32>(cnt[r]);
            rates[n] = rate[r];
        }
    }
    let last = (K_SUB % 3u) * ZW;
    for (var w = lid; w < ZW; w += WG) {
        state[st + OFF_Z + w] = atomicLoad(&spikes[last + w]);
    }
    workgroupBarrier();

    // Output projection: masked sum over neurons in order, then one scale.
    for (var k = lid; k < A_OUT; k += WG) {
        var acc = 0.0;
        for (var n = 0u; n < N; n++) {
            let bit = (nets[net + OFF_W_OUT + k * NW + (n >> 5u)] >> (n & 31u)) & 1u;
            acc += select(0.0, rates[n], bit == 1u);
        }
        outputs[local * A_OUT + k] = c.r_out * acc;
    }
}
