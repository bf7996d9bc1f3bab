//! Twin of `shaders/rsnn_core.wgsl`: the network of SPEC 1, one environment step
//! ([`net_step`]: input projection, `K` substeps, output projection).
//!
//! Per neuron, the operation order is the shader's (and SPEC 1's) exactly, so results
//! agree bit for bit (`tests/gpu_network.rs`, substep by substep). The loop nests are
//! turned around for the CPU: where the shader's invocation loops over its neurons and
//! then over inputs, words or neurons, the loops here run over inputs or words outside
//! and neurons inside, with unit stride, so they vectorise (the recurrent columns are
//! word-major for this, see [`PackedNet`]).

use super::PackedNet;
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

/// One substep of SPEC 1. The recurrent counts are AND + popcount over packed words,
/// skipping spike words that are all zero (spikes are sparse).
#[inline(always)]
fn substep_body(net: &PackedNet, c: &Constants, s: &mut NetState) {
    let n = net.shape.neurons;
    let n_exc = net.shape.n_exc;
    let counts = &mut s.counts[..n];
    counts.fill(0);
    for (w, &z) in s.z_exc.iter().enumerate() {
        if z != 0 {
            let col = &net.h_exc[w * n..(w + 1) * n];
            for (cnt, &m) in counts.iter_mut().zip(col) {
                *cnt += (m & z).count_ones() as i32;
            }
        }
    }
    for (w, &z) in s.z_inh.iter().enumerate() {
        if z != 0 {
            let col = &net.h_inh[w * n..(w + 1) * n];
            for (cnt, &m) in counts.iter_mut().zip(col) {
                *cnt -= (m & z).count_ones() as i32;
            }
        }
    }
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
    // then the mask is packed 64 neurons at a time.
    let mut flags = [0u8; 64];
    for (w, word) in words.iter_mut().enumerate() {
        let lo = w * 64;
        let hi = (lo + 64).min(v.len());
        let len = hi - lo;
        for (((((v, i_syn), rate), &i_in), &cnt), f) in v[lo..hi]
            .iter_mut()
            .zip(i_syn[lo..hi].iter_mut())
            .zip(rate[lo..hi].iter_mut())
            .zip(&i_in[lo..hi])
            .zip(&counts[lo..hi])
            .zip(flags.iter_mut())
        {
            let i_spk = c.r_h * cnt as f32;
            let syn = c.alpha_syn * *i_syn + i_spk;
            *i_syn = syn;
            let target = c.v_reset + syn + i_in;
            let vn = target + c.alpha_v * (*v - target);
            let spike = vn > c.v_threshold;
            *v = if spike { c.v_reset } else { vn };
            let r_t = if spike { r_spike } else { 0.0 };
            *rate = r_t + c.alpha_out * (*rate - r_t);
            *f = spike as u8;
        }
        *word = pack_flags(&flags[..len]);
    }
}

/// Packs up to 64 0/1 bytes into a word (byte `b` -> bit `b`).
#[inline(always)]
fn pack_flags(flags: &[u8]) -> u64 {
    let mut word = 0u64;
    for (b, &f) in flags.iter().enumerate() {
        word |= (f as u64) << b;
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
fn net_step_body(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState, out: &mut [f32]) {
    input_projection(net, c, x, s);
    for _ in 0..net.shape.substeps {
        substep_body(net, c, s);
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
) {
    // Strict f32 semantics are unchanged by these features: Rust never contracts a*b+c
    // into an FMA, so results equal the portable build bit for bit.
    net_step_body(net, c, x, s, out)
}

/// True when the CPU has the features of the fast path (POPCNT and AVX2), checked once.
pub fn fast_path_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static FAST: OnceLock<bool> = OnceLock::new();
        *FAST.get_or_init(|| {
            std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi1")
                && std::arch::is_x86_feature_detected!("bmi2")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One environment step (the shader's `net_step`): input projection from `x`, `K`
/// substeps, output projection into `out`. Dispatches at run time to a build using the
/// CPU's POPCNT/AVX2 when present (the default x86-64 target has no POPCNT instruction).
pub fn net_step(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fast_path_available() {
        // SAFETY: the features were detected on this CPU.
        return unsafe { net_step_x86(net, c, x, s, out) };
    }
    net_step_body(net, c, x, s, out)
}

/// One substep alone (used by tests that compare substep by substep).
pub fn substep(net: &PackedNet, c: &Constants, s: &mut NetState) {
    substep_body(net, c, s)
}
