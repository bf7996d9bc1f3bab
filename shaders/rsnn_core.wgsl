// The network of SPEC 1 for one member per workgroup, shared by rsnn_step.wgsl
// (host-task mode: one env step per dispatch) and episodes.wgsl (full-generation
// mode: whole episodes per dispatch). The GPU twin of cpu::net_step, with the same
// loop structure and operation order.
//
// Invocation `lid` owns neurons lid, lid + WG, ... (NPT of them) and keeps their f32
// state in registers. The recurrent columns live in workgroup memory (or are read
// from the net buffer when they do not fit: COLS_IN_WG = false). Spikes are packed
// words in workgroup memory built with atomicOr; three rotating buffers (read,
// write, clear) need only one barrier per substep.
//
// Every kernel that includes this file binds `nets` (packed nets, see
// unpack_net.wgsl) and defines `fn record_spikes(lid: u32, substep: u32, buf: u32)`,
// called after each substep's barrier with the offset of the new spike words.

var<workgroup> cols: array<u32, COLS_WG_WORDS>;
var<workgroup> spikes: array<atomic<u32>, 3 * ZW>;
var<workgroup> rates: array<f32, N>;
// Normalised observation of the step, written by the caller before net_step.
var<workgroup> xin: array<f32, XIN_LEN>;
// Network outputs of the step, complete when net_step returns.
var<workgroup> yout: array<f32, YOUT_LEN>;

// The f32 state of the neurons an invocation owns.
struct Neurons {
    v: array<f32, NPT>,
    syn: array<f32, NPT>,
    rate: array<f32, NPT>,
    iin: array<f32, NPT>,
    // Signed synaptic counts of the last substep (debug read-back).
    cnt: array<i32, NPT>,
}

fn column(net: u32, i: u32) -> u32 {
    if (COLS_IN_WG) {
        return cols[i];
    }
    return nets[net + OFF_H_EXC + i];
}

// Copies a member's recurrent columns on chip (no-op when they stay in the buffer).
// The caller's next barrier publishes them.
fn load_columns(lid: u32, net: u32) {
    if (COLS_IN_WG) {
        for (var i = lid; i < COLS_WORDS; i += WG) {
            cols[i] = nets[net + OFF_H_EXC + i];
        }
    }
}

// One environment step: input projection from `xin`, K_SUB substeps, output
// projection into `yout`. On entry spike buffer `phase` holds the current spikes,
// buffer (phase + 1) % 3 is zero, and a barrier separates the caller's writes (xin,
// spikes) from this call. Returns the buffer holding the new spikes; on return the
// buffer after it is zero again, so steps chain without clearing.
fn net_step(lid: u32, net: u32, c: Constants, nr: ptr<function, Neurons>, phase: u32) -> u32 {
    let z0 = bitcast<u32>(c._pad0);
    // Input projection: masked sum over input lines in order, then one scale (as the CPU).
    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            var acc = 0.0;
            for (var j = 0u; j < 2u * D_OBS; j++) {
                let x = xin[select(j - D_OBS, j, j < D_OBS)];
                let xv = select(-x, x, j < D_OBS);
                let bit = (nets[net + OFF_W_IN + j * NW + (n >> 5u)] >> (n & 31u)) & 1u;
                acc += select(0.0, xv, bit == 1u);
            }
            (*nr).iin[r] = acc * c.r_in;
        }
    }

    for (var s = 0u; s < K_SUB; s++) {
        let cur = ((phase + s) % 3u) * ZW;
        let nxt = ((phase + s + 1u) % 3u) * ZW;
        let clr = ((phase + s + 2u) % 3u) * ZW;
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
                (*nr).cnt[r] = count;
                let r_spike = select(-c.spike_rate, c.spike_rate, n < N_EXC);
                // Each product is rounded on its own (`rounded`), as on the CPU.
                let i_spk = rounded(c.r_h * f32(count), z0);
                let syn_new = flushed(rounded(c.alpha_syn * (*nr).syn[r], z0) + i_spk);
                (*nr).syn[r] = syn_new;
                let v_target = c.v_reset + syn_new + (*nr).iin[r];
                let vn = flushed(v_target + rounded(c.alpha_v * ((*nr).v[r] - v_target), z0));
                let spike = vn > c.v_threshold;
                (*nr).v[r] = select(vn, c.v_reset, spike);
                let r_t = select(0.0, r_spike, spike);
                (*nr).rate[r] = flushed(r_t + rounded(c.alpha_out * ((*nr).rate[r] - r_t), z0));
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
        record_spikes(lid, s, nxt);
    }

    for (var r = 0u; r < NPT; r++) {
        let n = lid + r * WG;
        if (n < N) {
            rates[n] = (*nr).rate[r];
        }
    }
    workgroupBarrier();
    // Output projection: masked sum over neurons in order, then one scale.
    for (var k = lid; k < A_OUT; k += WG) {
        var acc = 0.0;
        for (var n = 0u; n < N; n++) {
            let bit = (nets[net + OFF_W_OUT + k * NW + (n >> 5u)] >> (n & 31u)) & 1u;
            acc += select(0.0, rates[n], bit == 1u);
        }
        yout[k] = c.r_out * acc;
    }
    workgroupBarrier();
    return (phase + K_SUB) % 3u;
}
