//! What running a policy costs: spikes, firing rate and synaptic operations per
//! environment step, and the connection density of the mode genome.
//!
//! A synaptic operation is one spike delivered along one connection: a spike of neuron
//! `j` costs its recurrent fan-out (the ones in row `j` of `W_h`). The input projection
//! is analog: every connection of `W_in` is one multiply-accumulate per environment
//! step, and so is every connection of `W_out` for the readout. Neuron updates (`N`
//! per substep) are counted apart from synaptic operations.

use serde::{Deserialize, Serialize};

use super::Policy;
use crate::cpu::{NetState, PackedNet};

/// A policy's cost over the steps it ran (per environment step unless named otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PolicyCost {
    /// Environment steps the figures average over.
    pub env_steps: u64,
    /// Spikes per environment step, all neurons over all `K` substeps.
    pub spikes_per_step: f64,
    /// Spikes per neuron per substep.
    pub firing_rate: f64,
    /// Recurrent plus input plus readout operations per environment step.
    pub synaptic_ops_per_step: f64,
    /// Spikes times their neurons' recurrent fan-out, per environment step.
    pub recurrent_ops_per_step: f64,
    /// Connections of `W_in` (one multiply-accumulate each per environment step).
    pub input_ops_per_step: f64,
    /// Connections of `W_out` (likewise, for the readout).
    pub readout_ops_per_step: f64,
    /// Neuron updates per environment step, `N * K`.
    pub neuron_updates_per_step: f64,
    /// Ones in the mode genome over its length `D`.
    pub density: f64,
    /// Ones in `W_h` over `N^2`.
    pub recurrent_density: f64,
}

/// Counts spikes and operations substep by substep.
#[derive(Debug, Clone)]
pub struct CostCounter {
    /// Recurrent fan-out of each neuron.
    fanout: Vec<u64>,
    n_exc: usize,
    neurons: usize,
    substeps: usize,
    input_ops: u64,
    readout_ops: u64,
    ones: u64,
    genome_len: u64,
    recurrent_ones: u64,
    env_steps: u64,
    spikes: u64,
    recurrent_ops: u64,
}

impl CostCounter {
    /// A counter for `policy`'s mode genome.
    pub fn new(policy: &Policy) -> Self {
        Self::for_net(policy, &policy.net())
    }

    /// A counter for `policy`, whose packed layouts are `net`: fan-outs and connection
    /// counts are popcounts of its rows.
    pub fn for_net(policy: &Policy, net: &PackedNet) -> Self {
        let s = policy.shape;
        let n = s.neurons;
        let ones = |words: &[u64]| words.iter().map(|w| w.count_ones() as u64).sum::<u64>();
        let fanout: Vec<u64> = net.h_rows().chunks(net.row_words()).map(ones).collect();
        CostCounter {
            recurrent_ones: fanout.iter().sum(),
            fanout,
            n_exc: s.n_exc,
            neurons: n,
            substeps: s.substeps,
            input_ops: ones(net.w_in()),
            readout_ops: ones(net.w_out()),
            ones: ones(&policy.genome),
            genome_len: s.layout().len() as u64,
            env_steps: 0,
            spikes: 0,
            recurrent_ops: 0,
        }
    }

    /// Counts the spikes of the substep just taken; returns how many there were.
    pub fn substep(&mut self, s: &NetState) -> u64 {
        let mut spikes = 0;
        for (base, words) in [(0, &s.z_exc), (self.n_exc, &s.z_inh)] {
            for (w, &word) in words.iter().enumerate() {
                let mut bits = word;
                while bits != 0 {
                    let j = base + 64 * w + bits.trailing_zeros() as usize;
                    self.recurrent_ops += self.fanout[j];
                    spikes += 1;
                    bits &= bits - 1;
                }
            }
        }
        self.spikes += spikes;
        spikes
    }

    /// Marks the end of an environment step.
    pub fn env_step(&mut self) {
        self.env_steps += 1;
    }

    /// The figures so far (zero rates before the first step).
    pub fn cost(&self) -> PolicyCost {
        let steps = self.env_steps.max(1) as f64;
        let recurrent = self.recurrent_ops as f64 / steps;
        PolicyCost {
            env_steps: self.env_steps,
            spikes_per_step: self.spikes as f64 / steps,
            firing_rate: self.spikes as f64 / (steps * (self.neurons * self.substeps) as f64),
            synaptic_ops_per_step: recurrent + (self.input_ops + self.readout_ops) as f64,
            recurrent_ops_per_step: recurrent,
            input_ops_per_step: self.input_ops as f64,
            readout_ops_per_step: self.readout_ops as f64,
            neuron_updates_per_step: (self.neurons * self.substeps) as f64,
            density: self.ones as f64 / self.genome_len as f64,
            recurrent_density: self.recurrent_ones as f64 / (self.neurons * self.neurons) as f64,
        }
    }

    /// Adds another counter's steps (the same policy run elsewhere).
    pub fn merge(&mut self, other: &CostCounter) {
        self.env_steps += other.env_steps;
        self.spikes += other.spikes;
        self.recurrent_ops += other.recurrent_ops;
    }
}
