//! Twin of `shaders/reset_state.wgsl`: episode start (SPEC 1). `i_syn = rate = i_in = 0`,
//! no spikes, counts zero, `v = V_r + (V_th - V_r) u` with `u` from the potential stream
//! of `(seed, generation, member, episode)`.
//!
//! Same loop as the shader: over neurons `n`, taking lane `n & 3` of Philox block
//! `n >> 2`; the block is computed once per four neurons instead of once per neuron
//! (the shader's invocations cannot share it). Compared in `tests/engine/cpu_twins.rs`.

use super::NetState;
use crate::network::Constants;
use crate::rng::{self, STREAM_POTENTIAL};

/// Resets `s` for episode `episode` of `member` (the shader's `main` for one member).
pub fn reset_state(
    c: &Constants,
    seed: u64,
    generation: u32,
    member: u32,
    episode: u32,
    s: &mut NetState,
) {
    let stream = rng::stream_word(STREAM_POTENTIAL, episode);
    let mut r = [0u32; 4];
    for n in 0..s.v.len() {
        if n & 3 == 0 {
            r = rng::block(seed, generation, member, stream, (n >> 2) as u32);
        }
        s.v[n] = c.v_reset + c.v_span * rng::unit_f32(r[n & 3]);
        s.i_syn[n] = 0.0;
        s.rate[n] = 0.0;
        s.i_in[n] = 0.0;
        s.counts[n] = 0;
    }
    s.z_exc.fill(0);
    s.z_inh.fill(0);
}

impl NetState {
    /// Episode start (see [`reset_state`]).
    pub fn reset(&mut self, c: &Constants, seed: u64, generation: u32, member: u32, episode: u32) {
        reset_state(c, seed, generation, member, episode, self)
    }
}
