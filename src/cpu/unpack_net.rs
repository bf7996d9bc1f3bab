//! Twin of `shaders/unpack_net.wgsl`: a genome (packed bits in SPEC order) repacked
//! into the layouts the network loops read, once per member and generation.
//!
//! Same loop structure as the shader: for every output word, gather its bits from the
//! genome (the shader runs one invocation per word; here one loop iteration). The only
//! difference is the word width: the CPU's words are 64 bits, the GPU's 32, so CPU
//! word `[w]` of a neuron-indexed row holds GPU words `[2w]` and `[2w + 1]`, and bit
//! `b` of column word `[w][n]` is presynaptic neuron `64w + b` instead of `32w + b`.
//! Compared word for word in `tests/engine/cpu_twins.rs`.

use crate::distribution::words_for;
use crate::network::Shape;

/// One member's weights, repacked for the bitset path.
#[derive(Debug, Clone)]
pub struct PackedNet {
    pub shape: Shape,
    /// Words per neuron-indexed row, `ceil(N / 64)`.
    pub(super) nw: usize,
    /// `W_in` rows: `[2d][nw]`, bit `n` = `W_in[j][n]`.
    pub(super) w_in: Vec<u64>,
    /// Excitatory columns, word-major: `[we][N]`, bit `b` of `[w][n]` = `W_h[64w + b][n]`.
    pub(super) h_exc: Vec<u64>,
    /// Inhibitory columns, word-major: `[wi][N]`, bit `b` of `[w][n]` = `W_h[N_exc + 64w + b][n]`.
    pub(super) h_inh: Vec<u64>,
    /// `W_out` transposed: `[a][nw]`, bit `n` of row `k` = `W_out[n][k]`.
    pub(super) w_out: Vec<u64>,
    /// `W_h` rows for event-driven propagation (CPU only, no shader twin): `[N][nw]`,
    /// bit `n` of row `j` = `W_h[j][n]`, the outgoing connections of neuron `j`.
    pub(super) h_rows: Vec<u64>,
    /// How substeps propagate recurrent spikes (results are identical either way).
    pub propagation: Propagation,
}

/// How the CPU engine sums recurrent input: the two ways give identical counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Per spike word: event-driven when it holds few spikes, dense otherwise
    /// (the switch point is [`super::rsnn_core::EVENT_MAX_SPIKES`]).
    #[default]
    Auto,
    /// AND + popcount over every column word that holds a spike.
    Dense,
    /// Add the outgoing row of every spiking neuron into the counts.
    Event,
}

impl PackedNet {
    /// Empty buffers for a shape; fill with [`PackedNet::load`].
    pub fn new(shape: Shape) -> Self {
        let nw = words_for(shape.neurons);
        let we = words_for(shape.n_exc);
        let wi = words_for(shape.n_inh());
        PackedNet {
            shape,
            nw,
            w_in: vec![0; 2 * shape.obs_dim * nw],
            h_exc: vec![0; we * shape.neurons],
            h_inh: vec![0; wi * shape.neurons],
            w_out: vec![0; shape.act_dim * nw],
            h_rows: vec![0; shape.neurons * nw],
            propagation: Propagation::Auto,
        }
    }

    /// Builds the packed layouts from a genome (packed bits in SPEC order).
    pub fn from_genome(shape: Shape, genome: &[u64]) -> Self {
        let mut net = PackedNet::new(shape);
        net.load(genome);
        net
    }

    /// Refills the layouts from a genome, reusing the buffers (see [`unpack_net`]),
    /// and the CPU-only rows of `W_h`.
    pub fn load(&mut self, genome: &[u64]) {
        unpack_net(genome, self);
        pack_rows(genome, self);
    }

    /// The same net with another [`Propagation`].
    pub fn with_propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// Words per neuron-indexed row, `ceil(N / 64)`.
    pub fn row_words(&self) -> usize {
        self.nw
    }

    /// `W_in` rows, `[2d][row_words]`: bit `n` of row `j` is `W_in[j][n]`.
    pub fn w_in(&self) -> &[u64] {
        &self.w_in
    }

    /// Excitatory columns, `[ceil(N_exc / 64)][N]`: bit `b` of `[w][n]` is `W_h[64w + b][n]`.
    pub fn h_exc(&self) -> &[u64] {
        &self.h_exc
    }

    /// Inhibitory columns, `[ceil(N_inh / 64)][N]`: bit `b` of `[w][n]` is
    /// `W_h[N_exc + 64w + b][n]`.
    pub fn h_inh(&self) -> &[u64] {
        &self.h_inh
    }

    /// `W_h` rows, `[N][row_words]`: bit `n` of row `j` is `W_h[j][n]`, the outgoing
    /// connections of neuron `j`.
    pub fn h_rows(&self) -> &[u64] {
        &self.h_rows
    }

    /// `W_out` transposed, `[a][row_words]`: bit `n` of row `k` is `W_out[n][k]`.
    pub fn w_out(&self) -> &[u64] {
        &self.w_out
    }
}

/// Bit `i` of the genome (the shader's `genome_bit`).
#[inline(always)]
fn genome_bit(genome: &[u64], i: usize) -> u64 {
    (genome[i >> 6] >> (i & 63)) & 1
}

/// Repacks `genome` into `net` (the shader's `main`): every output word of the four
/// blocks is built by gathering its bits, in the shader's block order. Words past the
/// end of a row or column block (bits of neurons `>= N`) stay zero.
pub fn unpack_net(genome: &[u64], net: &mut PackedNet) {
    let s = net.shape;
    let layout = s.layout();
    let (n, n_exc, a) = (s.neurons, s.n_exc, s.act_dim);
    let nw = net.nw;
    let genome_h = layout.w_h(0, 0);
    let genome_out = layout.w_out(0, 0);
    assert!(genome.len() >= words_for(layout.len()), "genome too short");
    // w_in: word q of row j holds W_in[j][64q + b].
    for (r, word) in net.w_in.iter_mut().enumerate() {
        let (j, q) = (r / nw, r % nw);
        let mut acc = 0u64;
        for b in 0..(n - 64 * q).min(64) {
            acc |= genome_bit(genome, j * n + 64 * q + b) << b;
        }
        *word = acc;
    }
    // h_exc: word [w][post] holds W_h[64w + b][post] for excitatory pre.
    for (r, word) in net.h_exc.iter_mut().enumerate() {
        let (w, post) = (r / n, r % n);
        let mut acc = 0u64;
        for b in 0..(n_exc - 64 * w).min(64) {
            acc |= genome_bit(genome, genome_h + (64 * w + b) * n + post) << b;
        }
        *word = acc;
    }
    // h_inh: word [w][post] holds W_h[N_exc + 64w + b][post].
    for (r, word) in net.h_inh.iter_mut().enumerate() {
        let (w, post) = (r / n, r % n);
        let mut acc = 0u64;
        for b in 0..(n - n_exc - 64 * w).min(64) {
            acc |= genome_bit(genome, genome_h + (n_exc + 64 * w + b) * n + post) << b;
        }
        *word = acc;
    }
    // w_out: word q of row k holds W_out[64q + b][k].
    for (r, word) in net.w_out.iter_mut().enumerate() {
        let (k, q) = (r / nw, r % nw);
        let mut acc = 0u64;
        for b in 0..(n - 64 * q).min(64) {
            acc |= genome_bit(genome, genome_out + (64 * q + b) * a + k) << b;
        }
        *word = acc;
    }
}

/// Fills `net.h_rows` from the genome: row `j` of `W_h` is the contiguous bit range
/// `[w_h(j, 0), w_h(j, 0) + N)`, copied 64 bits at a time.
fn pack_rows(genome: &[u64], net: &mut PackedNet) {
    let s = net.shape;
    let (n, nw) = (s.neurons, net.nw);
    let base = s.layout().w_h(0, 0);
    for (j, row) in net.h_rows.chunks_mut(nw).enumerate() {
        for (q, word) in row.iter_mut().enumerate() {
            let start = base + j * n + 64 * q;
            let len = (n - 64 * q).min(64);
            let (wi, off) = (start >> 6, start & 63);
            let mut bits = genome[wi] >> off;
            if off != 0 && off + len > 64 {
                bits |= genome[wi + 1] << (64 - off);
            }
            *word = if len == 64 {
                bits
            } else {
                bits & ((1u64 << len) - 1)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distribution::{bit, sample_genome, thresholds};
    use crate::network::NetworkConfig;

    /// The scatter the CPU used before the gather (one pass over the set genome bits):
    /// a second, independent construction of the same layouts.
    fn scatter(shape: Shape, genome: &[u64]) -> PackedNet {
        let mut net = PackedNet::new(shape);
        let (l, n) = (shape.layout(), shape.neurons);
        for i in (0..l.len()).filter(|&i| bit(genome, i)) {
            if i < l.w_h(0, 0) {
                let (j, post) = (i / n, i % n);
                net.w_in[j * net.nw + post / 64] |= 1 << (post % 64);
            } else if i < l.w_out(0, 0) {
                let r = i - l.w_h(0, 0);
                let (pre, post) = (r / n, r % n);
                if pre < shape.n_exc {
                    net.h_exc[(pre / 64) * n + post] |= 1 << (pre % 64);
                } else {
                    let q = pre - shape.n_exc;
                    net.h_inh[(q / 64) * n + post] |= 1 << (q % 64);
                }
            } else {
                let r = i - l.w_out(0, 0);
                let (post, k) = (r / shape.act_dim, r % shape.act_dim);
                net.w_out[k * net.nw + post / 64] |= 1 << (post % 64);
            }
        }
        net
    }

    #[test]
    fn gather_equals_scatter() {
        for (neurons, exc_ratio, d, a) in [(37, 0.5, 3, 2), (129, 0.8, 5, 3), (70, 0.0, 1, 1)] {
            let cfg = NetworkConfig {
                neurons,
                exc_ratio,
                ..Default::default()
            };
            let shape = Shape::new(&cfg, d, a);
            let dim = shape.layout().len();
            let mut g = vec![0u64; words_for(dim)];
            sample_genome(&thresholds(&vec![0.5; dim]), 3, 1, 2, &mut g);
            let mut net = PackedNet::new(shape);
            // Poisoned buffers: every word must be written.
            for v in [
                &mut net.w_in,
                &mut net.h_exc,
                &mut net.h_inh,
                &mut net.w_out,
                &mut net.h_rows,
            ] {
                v.fill(u64::MAX);
            }
            net.load(&g);
            let expect = scatter(shape, &g);
            assert_eq!(net.w_in, expect.w_in, "w_in N={neurons}");
            assert_eq!(net.h_exc, expect.h_exc, "h_exc N={neurons}");
            assert_eq!(net.h_inh, expect.h_inh, "h_inh N={neurons}");
            assert_eq!(net.w_out, expect.w_out, "w_out N={neurons}");
            for j in 0..neurons {
                for post in 0..neurons {
                    let want = bit(&g, shape.layout().w_h(j, post));
                    let got = (net.h_rows[j * net.nw + post / 64] >> (post % 64)) & 1 == 1;
                    assert_eq!(got, want, "row {j} post {post} N={neurons}");
                }
            }
        }
    }
}
