//! Throughput measurement in the units of SPEC 6, shared by `satr bench` and the
//! criterion benches.

use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::cpu::{self, NetState, PackedNet, Propagation};
use crate::distribution::{sample_genome, thresholds, words_for};
use crate::network::{Constants, NetworkConfig, Shape};
use crate::rng;

/// One measured configuration (SPEC 7, `satr bench --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchRecord {
    pub backend: String,
    pub device: String,
    /// `network` (random observations, no task) or `generation` (a full generation).
    pub mode: String,
    pub population: usize,
    pub neurons: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Member-steps measured (population x steps per member).
    pub env_steps: u64,
    /// Substeps `K` per environment step.
    pub substeps: usize,
    pub seconds: f64,
    pub env_steps_per_s: f64,
    pub synapse_substeps_per_s: f64,
    /// CPU records: how recurrent spikes were propagated (`dense`, `event`, or `auto`,
    /// chosen per spike word).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    /// Spikes per neuron per substep of the networks measured, where counted
    /// (`--checkpoint`: a sampled member's episode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firing_rate: Option<f64>,
    /// The same for the mode genome (`--checkpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode_firing_rate: Option<f64>,
}

impl BenchRecord {
    /// Fills in the derived rates from a measured time.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backend: &str,
        device: &str,
        mode: &str,
        shape: &Shape,
        population: usize,
        env_steps: u64,
        seconds: f64,
    ) -> Self {
        let eps = env_steps as f64 / seconds.max(1e-12);
        BenchRecord {
            backend: backend.into(),
            device: device.into(),
            mode: mode.into(),
            population,
            neurons: shape.neurons,
            obs_dim: shape.obs_dim,
            act_dim: shape.act_dim,
            env_steps,
            substeps: shape.substeps,
            seconds,
            env_steps_per_s: eps,
            synapse_substeps_per_s: eps
                * shape.substeps as f64
                * (shape.neurons * shape.neurons) as f64,
            propagation: None,
            firing_rate: None,
            mode_firing_rate: None,
        }
    }

    /// The record with the propagation it measured.
    pub fn with_propagation(mut self, p: Propagation) -> Self {
        self.propagation = Some(propagation_name(p).into());
        self
    }
}

/// The name a propagation has in bench records.
pub fn propagation_name(p: Propagation) -> &'static str {
    match p {
        Propagation::Auto => "auto",
        Propagation::Dense => "dense",
        Propagation::Event => "event",
    }
}

/// The one-line form `satr bench` prints.
impl std::fmt::Display for BenchRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>4} {:<5} {:<10} pop {:>6} N {:>4} obs {:>3} act {:>2}: {:>10.3e} env-steps/s {:>10.3e} synapse-substeps/s ({:.3} s, {}{})",
            self.backend,
            self.propagation.as_deref().unwrap_or(""),
            self.mode,
            self.population,
            self.neurons,
            self.obs_dim,
            self.act_dim,
            self.env_steps_per_s,
            self.synapse_substeps_per_s,
            self.seconds,
            self.device,
            self.firing_rate
                .map(|r| format!(", firing rate {r:.4}"))
                .unwrap_or_default()
        )
    }
}

/// A random observation for (member, step): uniform in [-2, 2), from the generator so
/// every backend can feed the same inputs.
pub fn random_observation(seed: u64, member: u32, step: u32, x: &mut [f32]) {
    for (j, chunk) in x.chunks_mut(4).enumerate() {
        let r = rng::block(seed, step, member, 3, j as u32);
        for (v, &w) in chunk.iter_mut().zip(r.iter()) {
            *v = (rng::unit_f32(w) - 0.5) * 4.0;
        }
    }
}

/// CPU network mode: `population` members with genomes at p = 0.5 run `env_steps`
/// network steps on random observations, spikes propagated by `propagation`; returns
/// the seconds of the stepping alone.
pub fn cpu_network(
    cfg: &NetworkConfig,
    obs_dim: usize,
    act_dim: usize,
    population: usize,
    env_steps: usize,
    seed: u64,
    propagation: Propagation,
) -> f64 {
    let shape = Shape::new(cfg, obs_dim, act_dim);
    let c = Constants::new(cfg, &shape);
    let dim = shape.layout().len();
    let th = thresholds(&vec![0.5; dim]);
    // Members in batches, each batch's nets built outside the timing: a million
    // members' packed nets at once would need about 17 GB at N 256.
    let mut seconds = 0.0;
    for first in (0..population).step_by(NETWORK_BATCH) {
        let members = first..(first + NETWORK_BATCH).min(population);
        let nets: Vec<(usize, PackedNet)> = members
            .into_par_iter()
            .map(|k| {
                let mut g = vec![0u64; words_for(dim)];
                sample_genome(&th, seed, 0, k as u32, &mut g);
                (
                    k,
                    PackedNet::from_genome(shape, &g).with_propagation(propagation),
                )
            })
            .collect();
        let start = Instant::now();
        nets.par_iter().for_each(|(k, net)| {
            let k = *k as u32;
            let mut s = NetState::new(&shape);
            s.reset(&c, seed, 0, k, 0);
            let mut x = vec![0.0f32; obs_dim];
            let mut out = vec![0.0f32; act_dim];
            for t in 0..env_steps {
                random_observation(seed, k, t as u32, &mut x);
                cpu::net_step(net, &c, &x, &mut s, &mut out);
            }
            std::hint::black_box(&out);
        });
        seconds += start.elapsed().as_secs_f64();
    }
    seconds
}

/// Members whose packed nets CPU network mode holds at once.
const NETWORK_BATCH: usize = 16_384;
