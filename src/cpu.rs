//! The CPU bitset engine: the reference backend and the throughput baseline.
//!
//! One member's weights are repacked once per episode batch into the layouts the hot
//! loops want (recurrent columns word-major, so the popcount loop runs over neurons
//! with unit stride), then the whole episode runs out of L1. Members run in parallel
//! with rayon; nothing a member computes depends on the thread it runs on.

use rayon::prelude::*;

use crate::distribution::Reductions;
use crate::distribution::{self, bit, words_for};
use crate::evaluation::{
    EngineError, GenerationRequest, MemberEpisodes, MemberOutcome, PopulationEvaluator, TaskFactory,
};
use crate::network::{Constants, NetworkConfig, Shape};
use crate::rng::{self, STREAM_POTENTIAL};

/// One member's weights, repacked for the bitset path.
#[derive(Debug, Clone)]
pub struct PackedNet {
    pub shape: Shape,
    /// Words per neuron-indexed row, `ceil(N / 64)`.
    nw: usize,
    /// `W_in` rows: `[2d][nw]`, bit `n` = `W_in[j][n]`.
    w_in: Vec<u64>,
    /// Excitatory columns, word-major: `[we][N]`, bit `b` of `[w][n]` = `W_h[64w + b][n]`.
    h_exc: Vec<u64>,
    /// Inhibitory columns, word-major: `[wi][N]`, bit `b` of `[w][n]` = `W_h[N_exc + 64w + b][n]`.
    h_inh: Vec<u64>,
    /// `W_out` transposed: `[a][nw]`, bit `n` of row `k` = `W_out[n][k]`.
    w_out: Vec<u64>,
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
        }
    }

    /// Builds the packed layouts from a genome (packed bits in SPEC order).
    pub fn from_genome(shape: Shape, genome: &[u64]) -> Self {
        let mut net = PackedNet::new(shape);
        net.load(genome);
        net
    }

    /// Refills the layouts from a genome, reusing the buffers.
    pub fn load(&mut self, genome: &[u64]) {
        let s = self.shape;
        let layout = s.layout();
        let n = s.neurons;
        let in_end = layout.w_h(0, 0);
        let h_end = layout.w_out(0, 0);
        let len = layout.len();
        assert!(genome.len() >= words_for(len), "genome too short");
        self.w_in.fill(0);
        self.h_exc.fill(0);
        self.h_inh.fill(0);
        self.w_out.fill(0);
        for (w, &word) in genome.iter().enumerate().take(words_for(len)) {
            let mut bits = word;
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if i < in_end {
                    let (j, post) = (i / n, i % n);
                    self.w_in[j * self.nw + post / 64] |= 1 << (post % 64);
                } else if i < h_end {
                    let r = i - in_end;
                    let (pre, post) = (r / n, r % n);
                    if pre < s.n_exc {
                        self.h_exc[(pre / 64) * n + post] |= 1 << (pre % 64);
                    } else {
                        let q = pre - s.n_exc;
                        self.h_inh[(q / 64) * n + post] |= 1 << (q % 64);
                    }
                } else if i < len {
                    let r = i - h_end;
                    let (post, k) = (r / s.act_dim, r % s.act_dim);
                    self.w_out[k * self.nw + post / 64] |= 1 << (post % 64);
                }
            }
        }
    }
}

/// Dynamic state of one member's network (SPEC 1): f32 state and packed spikes.
#[derive(Debug, Clone)]
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

    /// Episode start (SPEC 1): `i_syn = rate = 0`, no spikes, `v = V_r + (V_th - V_r) u`
    /// with `u` from the potential stream of `(seed, generation, member, episode)`.
    pub fn reset(&mut self, c: &Constants, seed: u64, generation: u32, member: u32, episode: u32) {
        let stream = rng::stream_word(STREAM_POTENTIAL, episode);
        for (q, chunk) in self.v.chunks_mut(4).enumerate() {
            let r = rng::block(seed, generation, member, stream, q as u32);
            for (v, &word) in chunk.iter_mut().zip(r.iter()) {
                *v = c.v_reset + c.v_span * rng::unit_f32(word);
            }
        }
        self.i_syn.fill(0.0);
        self.rate.fill(0.0);
        self.i_in.fill(0.0);
        self.counts.fill(0);
        self.z_exc.fill(0);
        self.z_inh.fill(0);
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
fn env_step_body(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState, out: &mut [f32]) {
    input_projection(net, c, x, s);
    for _ in 0..net.shape.substeps {
        substep_body(net, c, s);
    }
    output_projection(net, c, s, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt,avx2,bmi1,bmi2")]
unsafe fn env_step_x86(
    net: &PackedNet,
    c: &Constants,
    x: &[f32],
    s: &mut NetState,
    out: &mut [f32],
) {
    // Strict f32 semantics are unchanged by these features: Rust never contracts a*b+c
    // into an FMA, so results equal the portable build bit for bit.
    env_step_body(net, c, x, s, out)
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

/// One environment step: input projection, `K` substeps, output projection. Dispatches
/// at run time to a build using the CPU's POPCNT/AVX2 when present (the default x86-64
/// target has no POPCNT instruction).
pub fn env_step(net: &PackedNet, c: &Constants, x: &[f32], s: &mut NetState, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fast_path_available() {
        // SAFETY: the features were detected on this CPU.
        return unsafe { env_step_x86(net, c, x, s, out) };
    }
    env_step_body(net, c, x, s, out)
}

/// One substep alone (used by tests that compare substep by substep).
pub fn substep(net: &PackedNet, c: &Constants, s: &mut NetState) {
    substep_body(net, c, s)
}

/// Per-thread scratch for running members: the packed weights, the state, the episodes.
struct Worker {
    net: PackedNet,
    state: NetState,
    episodes: MemberEpisodes,
    genome: Vec<u64>,
    x: Vec<f32>,
    out: Vec<f32>,
}

/// Runs the episodes of one member with its packed network (SPEC 5).
fn run_member(
    w: &mut Worker,
    c: &Constants,
    req: &GenerationRequest<'_>,
    member: u32,
) -> Result<MemberOutcome, EngineError> {
    let m = &mut w.episodes;
    m.begin_member();
    for e in 0..req.episodes_per_member as u32 {
        w.state.reset(c, req.seed, req.generation, member, e);
        m.begin_episode(req.seed, req.generation, member, e);
        for _ in 0..req.max_episode_steps {
            m.observe(req.normalizer, &mut w.x);
            env_step(&w.net, c, &w.x, &mut w.state, &mut w.out);
            if m.act(&w.out)? {
                break;
            }
        }
        m.end_episode();
    }
    Ok(m.outcome(req.episodes_per_member))
}

/// The CPU backend: members in parallel on rayon's pool, each episode out of L1.
pub struct CpuEvaluator {
    shape: Shape,
    constants: Constants,
    factory: TaskFactory,
    /// Train genomes of the last evaluated generation (member-major), for the reductions.
    genomes: Vec<u64>,
    genomes_of: Option<(u64, u32)>,
}

impl CpuEvaluator {
    /// A CPU evaluator for a network config and a task.
    pub fn new(cfg: &NetworkConfig, factory: TaskFactory) -> Self {
        let task = factory();
        let space = task.action_space();
        let shape = Shape::new(cfg, task.obs_dim(), space.outputs());
        CpuEvaluator {
            shape,
            constants: Constants::new(cfg, &shape),
            factory,
            genomes: Vec::new(),
            genomes_of: None,
        }
    }

    /// The network shape for the task.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Samples train genomes `train` of the request into the cache; the cache serves the
    /// reductions only when it holds the whole population.
    fn sample_train(&mut self, req: &GenerationRequest<'_>, train: std::ops::Range<usize>) {
        let words = words_for(self.shape.layout().len());
        self.genomes.resize(words * train.len(), 0);
        self.genomes
            .par_chunks_mut(words)
            .enumerate()
            .for_each(|(k, g)| {
                let member = (train.start + k) as u32;
                distribution::sample_genome(req.thresholds, req.seed, req.generation, member, g)
            });
        self.genomes_of = (train.len() == req.population).then_some((req.seed, req.generation));
    }

    fn worker(&self) -> Worker {
        let s = self.shape;
        Worker {
            net: PackedNet::new(s),
            state: NetState::new(&s),
            episodes: MemberEpisodes::new((self.factory)()),
            genome: vec![0; words_for(s.layout().len())],
            x: vec![0.0; s.obs_dim],
            out: vec![0.0; s.act_dim],
        }
    }
}

impl PopulationEvaluator for CpuEvaluator {
    fn describe(&self) -> String {
        format!(
            "cpu ({} threads, {})",
            rayon::current_num_threads(),
            if fast_path_available() {
                "popcnt+avx2"
            } else {
                "portable"
            }
        )
    }

    fn obs_dim(&self) -> usize {
        self.shape.obs_dim
    }

    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        let dim = self.shape.layout().len();
        let words = words_for(dim);
        assert_eq!(req.thresholds.len(), dim, "thresholds length");
        let total = req.population + req.eval_members;
        assert!(
            members.end <= total,
            "members {members:?} outside 0..{total}"
        );
        // Train genomes of this range, cached for the reductions when the range is whole.
        let train = members.start.min(req.population)..members.end.min(req.population);
        self.sample_train(req, train.clone());
        let mode = distribution::mode_genome(req.p);
        let (c, genomes) = (&self.constants, &self.genomes);
        members
            .into_par_iter()
            .map_init(
                || self.worker(),
                |w, m| {
                    if m < req.population {
                        let k = m - train.start;
                        w.genome
                            .copy_from_slice(&genomes[k * words..(k + 1) * words]);
                    } else {
                        w.genome.copy_from_slice(&mode);
                    }
                    w.net.load(&w.genome);
                    run_member(w, c, req, m as u32)
                },
            )
            .collect()
    }

    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError> {
        let dim = self.shape.layout().len();
        let words = words_for(dim);
        if self.genomes_of != Some((req.seed, req.generation))
            || self.genomes.len() != words * req.population
        {
            self.sample_train(req, 0..req.population);
        }
        Ok(distribution::reductions(&self.genomes, dim, utilities))
    }
}
