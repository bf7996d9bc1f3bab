//! Twin of `shaders/rsnn_core.wgsl`: the network of SPEC 1, one environment step
//! ([`net_step`]: input projection, `K` substeps, output projection).
//!
//! Per neuron, the operation order is the shader's (and SPEC 1's) exactly, so results
//! agree bit for bit (`tests/gpu/gpu_network.rs`, substep by substep). The loop nests are
//! turned around for the CPU: where the shader's invocation loops over its neurons and
//! then over inputs, words or neurons, the loops here run over inputs or words outside
//! and neurons inside, with unit stride, so they vectorise (the recurrent columns are
//! word-major for this, see [`PackedNet`]).

use super::unpack_net::Propagation;
use super::PackedNet;
use crate::cpu_features::fast_path_available;
use crate::distribution::{bit, words_for};
use crate::network::{Constants, Shape};

/// Dynamic state of one member's network (SPEC 1): f32 state and packed spikes (the
/// shader's `Neurons` and its current spike buffer).
#[derive(Debug, Clone, PartialEq)]
pub struct NetState {
    pub v: Vec<f32>,
    pub i_syn: Vec<f32>,
    pub rate: Vec<f32>,
    /// Input current, held for all substeps of an environment step.
    pub i_in: Vec<f32>,
    /// Signed synaptic counts of the last substep (excitatory minus inhibitory).
    pub counts: Vec<i32>,
    /// Spikes of excitatory neurons, packed.
    pub z_exc: Vec<u64>,
    /// Spikes of inhibitory neurons, packed (bit `q` = neuron `N_exc + q`).
    pub z_inh: Vec<u64>,
}

impl NetState {
    /// Zeroed state for a shape.
    pub fn new(shape: &Shape) -> Self {
        let n = shape.neurons;
        NetState {
            v: vec![0.0; n],
            i_syn: vec![0.0; n],
            rate: vec![0.0; n],
            i_in: vec![0.0; n],
            counts: vec![0; n],
            z_exc: vec![0; words_for(shape.n_exc)],
            z_inh: vec![0; words_for(shape.n_inh())],
        }
    }

    /// Number of neurons that spiked in the last substep.
    pub fn spike_count(&self) -> u32 {
        self.z_exc
            .iter()
            .chain(&self.z_inh)
            .map(|w| w.count_ones())
            .sum()
    }
}

/// Input projection, once per environment step: `i_in[n] = R_in * sum_j xt[j] W_in[j][n]`
/// with `xt = [x, -x]`, summed over `j` in order as a masked sum (adds 0 where the bit
/// is clear), exactly as the WGSL kernel does.
#[inline(always)]
pub fn input_projection(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState) {
    let d = net.shape.obs_dim;
    let n = net.shape.neurons;
    debug_assert_eq!(x.len(), d);
    let acc = &mut s.i_in[..n];
    acc.fill(0.0);
    for j in 0..2 * d {
        let xv = if j < d { x[j] } else { -x[j - d] };
        let row = &net.w_in[j * net.nw..(j + 1) * net.nw];
        for (w, chunk) in acc.chunks_mut(64).enumerate() {
            let bits = row[w];
            for (b, a) in chunk.iter_mut().enumerate() {
                *a += if (bits >> b) & 1 == 1 { xv } else { 0.0 };
            }
        }
    }
    for a in acc.iter_mut() {
        *a *= c.r_in;
    }
}

/// Spike words holding at most this many spikes propagate event-driven under
/// [`Propagation::Auto`]: adding a spiking neuron's row costs about half a dense pass
/// over one column word at N 256 (`benches/propagation.rs`), and whole generations of
/// trained policies at N 256-1024 ran faster with it (`satr bench --checkpoint`;
/// docs/DECISIONS.md).
pub const EVENT_MAX_SPIKES: u32 = 2;

/// Adds `sign` times the bits of one outgoing row to the counts (64 counters a word).
#[inline(always)]
fn add_row(counts: &mut [i32], row: &[u64], sign: i32) {
    for (chunk, &word) in counts.chunks_mut(64).zip(row) {
        if word == 0 {
            continue;
        }
        // Two 32-bit halves: 8-lane variable shifts vectorise it.
        for (half, lanes) in chunk.chunks_mut(32).enumerate() {
            let h = (word >> (32 * half)) as u32;
            for (b, c) in lanes.iter_mut().enumerate() {
                *c += sign * ((h >> b) & 1) as i32;
            }
        }
    }
}

/// The recurrent counts of one group of presynaptic neurons (excitatory `sign = 1`
/// from neuron 0, inhibitory `sign = -1` from `N_exc`): per spike word, the outgoing
/// rows of its spiking neurons (event-driven) or AND + popcount over its column word
/// (dense), whichever [`Propagation`] and the word's spike count choose. Both add the
/// same integers, so the counts are identical.
#[inline(always)]
fn propagate(
    net: &PackedNet,
    spikes: &[u64],
    cols: &[u64],
    first: usize,
    sign: i32,
    counts: &mut [i32],
) {
    let n = net.shape.neurons;
    let nw = net.nw;
    let limit = match net.propagation {
        Propagation::Auto => EVENT_MAX_SPIKES,
        Propagation::Dense => 0,
        Propagation::Event => 64,
    };
    for (w, &z) in spikes.iter().enumerate() {
        if z == 0 {
            continue;
        }
        if z.count_ones() <= limit {
            let mut bits = z;
            while bits != 0 {
                let j = first + 64 * w + bits.trailing_zeros() as usize;
                add_row(counts, &net.h_rows[j * nw..(j + 1) * nw], sign);
                bits &= bits - 1;
            }
        } else {
            let col = &cols[w * n..(w + 1) * n];
            for (cnt, &m) in counts.iter_mut().zip(col) {
                *cnt += sign * (m & z).count_ones() as i32;
            }
        }
    }
}

#[inline(always)]
fn recurrent_counts_body(net: &PackedNet, z_exc: &[u64], z_inh: &[u64], counts: &mut [i32]) {
    counts.fill(0);
    propagate(net, z_exc, &net.h_exc, 0, 1, counts);
    propagate(net, z_inh, &net.h_inh, net.shape.n_exc, -1, counts);
}

/// One substep of SPEC 1. The recurrent counts sum over spiking presynaptic neurons
/// ([`propagate`]), skipping spike words that are all zero (spikes are sparse).
#[inline(always)]
fn substep_body(net: &PackedNet, c: &Constants, s: &mut NetState) {
    let n = net.shape.neurons;
    let n_exc = net.shape.n_exc;
    recurrent_counts_body(net, &s.z_exc, &s.z_inh, &mut s.counts[..n]);
    let NetState {
        v,
        i_syn,
        rate,
        i_in,
        counts,
        z_exc,
        z_inh,
    } = s;
    let (counts, i_in) = (&counts[..], &i_in[..]);
    neuron_update(
        c,
        c.spike_rate,
        &counts[..n_exc],
        &i_in[..n_exc],
        &mut v[..n_exc],
        &mut i_syn[..n_exc],
        &mut rate[..n_exc],
        z_exc,
    );
    neuron_update(
        c,
        -c.spike_rate,
        &counts[n_exc..n],
        &i_in[n_exc..n],
        &mut v[n_exc..n],
        &mut i_syn[n_exc..n],
        &mut rate[n_exc..n],
        z_inh,
    );
}

/// Updates a run of neurons of one sign (`r_spike = sigma / dt`) and packs their spikes.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn neuron_update(
    c: &Constants,
    r_spike: f32,
    counts: &[i32],
    i_in: &[f32],
    v: &mut [f32],
    i_syn: &mut [f32],
    rate: &mut [f32],
    words: &mut [u64],
) {
    // Two passes: the arithmetic vectorises cleanly when spikes go to a byte mask first,
    // then the mask is packed 64 neurons at a time. Indexed over slices of one length,
    // so the loop carries no bounds checks.
    let n = v.len();
    assert!(i_syn.len() == n && rate.len() == n && i_in.len() == n && counts.len() == n);
    // The constants in locals: stores to the state cannot alias them.
    let (r_h, alpha_syn, alpha_v, alpha_out) = (c.r_h, c.alpha_syn, c.alpha_v, c.alpha_out);
    let (v_reset, v_threshold) = (c.v_reset, c.v_threshold);
    let mut flags = [0u8; 64];
    for (w, word) in words.iter_mut().enumerate() {
        let lo = w * 64;
        let len = (n - lo).min(64);
        let v = &mut v[lo..lo + len];
        let i_syn = &mut i_syn[lo..lo + len];
        let rate = &mut rate[lo..lo + len];
        let i_in = &i_in[lo..lo + len];
        let counts = &counts[lo..lo + len];
        let mask = &mut flags[..len];
        for i in 0..len {
            let i_spk = r_h * counts[i] as f32;
            let syn = flushed(alpha_syn * i_syn[i] + i_spk);
            i_syn[i] = syn;
            let target = v_reset + syn + i_in[i];
            let vn = flushed(target + alpha_v * (v[i] - target));
            let spike = vn > v_threshold;
            v[i] = if spike { v_reset } else { vn };
            let r_t = if spike { r_spike } else { 0.0 };
            rate[i] = flushed(r_t + alpha_out * (rate[i] - r_t));
            mask[i] = spike as u8;
        }
        *word = pack_flags(&flags, len);
    }
}

/// SPEC 1: a subnormal state value (exponent bits all zero) is stored as +0. Decaying
/// rates and currents of silent neurons would otherwise sit in subnormals, which x86
/// computes in microcode (a trained policy's generation ran 1.5x slower), and GPU
/// drivers flush or keep as they choose (shaders/common.wgsl's `flushed`).
#[inline(always)]
pub fn flushed(x: f32) -> f32 {
    if x.to_bits() & 0x7f80_0000 == 0 {
        0.0
    } else {
        x
    }
}

/// Packs the first `len` of 64 0/1 bytes into a word (byte `b` -> bit `b`), eight
/// bytes at a time: the multiply gathers the low bits of eight 0/1 bytes into its top
/// byte. Bytes from `len` on may hold anything; their bits are masked off.
#[inline(always)]
fn pack_flags(flags: &[u8; 64], len: usize) -> u64 {
    let mut word = 0u64;
    for (q, chunk) in flags.chunks_exact(8).enumerate() {
        let bytes = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        word |= (bytes.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * q);
    }
    if len < 64 {
        word &= (1u64 << len) - 1;
    }
    word
}

/// Output projection after the last substep: `out[k] = R_out * sum_n rate[n] W_out[n][k]`,
/// a masked sum over `n` in order.
#[inline(always)]
pub fn output_projection(net: &PackedNet, c: &Constants, s: &NetState, out: &mut [f32]) {
    let n = net.shape.neurons;
    for (k, o) in out.iter_mut().enumerate().take(net.shape.act_dim) {
        let row = &net.w_out[k * net.nw..(k + 1) * net.nw];
        let mut acc = 0.0f32;
        for (i, &r) in s.rate[..n].iter().enumerate() {
            acc += if bit(row, i) { r } else { 0.0 };
        }
        *o = c.r_out * acc;
    }
}

#[inline(always)]
fn net_step_body(
    net: &PackedNet,
    c: &Constants,
    x: &[f32],
    s: &mut NetState,
    out: &mut [f32],
    after_substep: &mut impl FnMut(&NetState),
) {
    input_projection(net, c, x, s);
    for _ in 0..net.shape.substeps {
        substep_body(net, c, s);
        after_substep(s);
    }
    output_projection(net, c, s, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,avx2,bmi1,bmi2")]
unsafe fn net_step_x86(
    net: &PackedNet,
    c: &Constants,
    x: &[f32],
    s: &mut NetState,
    out: &mut [f32],
    after_substep: &mut impl FnMut(&NetState),
) {
    // Strict f32 semantics are unchanged by these features: Rust never contracts a*b+c
    // into an FMA, so results equal the portable build bit for bit.
    net_step_body(net, c, x, s, out, after_substep)
}

/// One environment step (the shader's `net_step`): input projection from `x`, `K`
/// substeps, output projection into `out`. Dispatches at run time to a build using the
/// CPU's POPCNT/AVX2 when present (the default x86-64 target has no POPCNT instruction).
pub fn net_step(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState, out: &mut [f32]) {
    net_step_observed(net, c, x, s, out, &mut |_| {})
}

/// [`net_step`], calling `after_substep` with the state after each of the `K`
/// substeps (the policy runner counts spikes there).
pub fn net_step_observed(
    net: &PackedNet,
    c: &Constants,
    x: &[f32],
    s: &mut NetState,
    out: &mut [f32],
    after_substep: &mut impl FnMut(&NetState),
) {
    #[cfg(target_arch = "x86_64")]
    if fast_path_available() {
        // SAFETY: the features were detected on this CPU.
        return unsafe { net_step_x86(net, c, x, s, out, after_substep) };
    }
    net_step_body(net, c, x, s, out, after_substep)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,avx2,bmi1,bmi2")]
unsafe fn recurrent_counts_x86(net: &PackedNet, z_exc: &[u64], z_inh: &[u64], counts: &mut [i32]) {
    recurrent_counts_body(net, z_exc, z_inh, counts)
}

/// The signed recurrent counts of a substep (excitatory minus inhibitory spikes
/// reaching each neuron) from packed spikes, into `counts` (overwritten), as
/// [`net_step`] computes them (benches and tests time and compare the two ways).
pub fn recurrent_counts(net: &PackedNet, z_exc: &[u64], z_inh: &[u64], counts: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if fast_path_available() {
        // SAFETY: the features were detected on this CPU.
        return unsafe { recurrent_counts_x86(net, z_exc, z_inh, counts) };
    }
    recurrent_counts_body(net, z_exc, z_inh, counts)
}

/// One substep alone (used by tests that compare substep by substep).
pub fn substep(net: &PackedNet, c: &Constants, s: &mut NetState) {
    substep_body(net, c, s)
}
