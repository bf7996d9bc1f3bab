//! The connection-only binary RSNN of SPEC 1: sizes, constants and genome layout.
//!
//! Backends (the CPU bitset engine in [`crate::cpu`], the WGSL kernels in `shaders/`)
//! share these definitions so that they compute the same thing in the same order.

use serde::{Deserialize, Serialize};

use crate::config::error::ConfigError;

/// Largest supported neuron count: keeps genome indices inside u32 (the generator's
/// counter word) for any sensible observation size.
pub const MAX_NEURONS: usize = 16384;

/// Network hyperparameters (the `[network]` section of a config). Times in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Number of neurons `N`.
    pub neurons: usize,
    /// Fraction of excitatory neurons; the first `round(N * exc_ratio)` are excitatory.
    pub exc_ratio: f64,
    pub dt: f64,
    /// Simulated time per environment step; `K = round(sim_time / dt)` substeps.
    pub sim_time: f64,
    pub tau_syn: f64,
    pub tau_v: f64,
    pub tau_out: f64,
    pub v_reset: f64,
    pub v_threshold: f64,
    pub k_in: f64,
    pub k_h: f64,
    pub k_out: f64,
    /// Expected connection density `s` used by the weight scales.
    pub sparsity: f64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            neurons: 256,
            exc_ratio: 0.5,
            dt: 0.5,
            sim_time: 16.6,
            tau_syn: 5.0,
            tau_v: 10.0,
            tau_out: 10.0,
            v_reset: 0.0,
            v_threshold: 1.0,
            k_in: 0.1,
            k_h: 1.0,
            k_out: 5.0,
            sparsity: 0.5,
        }
    }
}

fn positive(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::range(key, v, "a finite number > 0"))
    }
}

fn finite(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::range(key, v, "a finite number"))
    }
}

impl NetworkConfig {
    /// Checks every value; errors name the key as `network.<field>`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.neurons == 0 || self.neurons > MAX_NEURONS {
            return Err(ConfigError::range(
                "network.neurons",
                self.neurons,
                &format!("1..={MAX_NEURONS}"),
            ));
        }
        if !(0.0..=1.0).contains(&self.exc_ratio) {
            return Err(ConfigError::range(
                "network.exc_ratio",
                self.exc_ratio,
                "0.0..=1.0",
            ));
        }
        positive("network.dt", self.dt)?;
        positive("network.sim_time", self.sim_time)?;
        if (self.sim_time / self.dt).round() < 1.0 || (self.sim_time / self.dt).round() > 10_000.0 {
            return Err(ConfigError::range(
                "network.sim_time",
                self.sim_time,
                "between dt and 10000 * dt (1..=10000 substeps)",
            ));
        }
        positive("network.tau_syn", self.tau_syn)?;
        positive("network.tau_v", self.tau_v)?;
        positive("network.tau_out", self.tau_out)?;
        finite("network.v_reset", self.v_reset)?;
        finite("network.v_threshold", self.v_threshold)?;
        if self.v_threshold <= self.v_reset {
            return Err(ConfigError::range(
                "network.v_threshold",
                self.v_threshold,
                &format!("greater than network.v_reset ({})", self.v_reset),
            ));
        }
        finite("network.k_in", self.k_in)?;
        finite("network.k_h", self.k_h)?;
        finite("network.k_out", self.k_out)?;
        if !(self.sparsity > 0.0 && self.sparsity <= 1.0) {
            return Err(ConfigError::range(
                "network.sparsity",
                self.sparsity,
                "0.0 < sparsity <= 1.0",
            ));
        }
        Ok(())
    }

    /// Substeps per environment step, `K = round(sim_time / dt)`.
    pub fn substeps(&self) -> usize {
        (self.sim_time / self.dt).round() as usize
    }

    /// Number of excitatory neurons, `round(N * exc_ratio)`.
    pub fn n_exc(&self) -> usize {
        (self.neurons as f64 * self.exc_ratio).round() as usize
    }
}

/// Sizes of one policy network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// Observation dimension `d` (the input has `2d` lines: `x` and `-x`).
    pub obs_dim: usize,
    /// Network outputs `a`.
    pub act_dim: usize,
    /// Neurons `N`.
    pub neurons: usize,
    /// Excitatory neurons (the first `n_exc`).
    pub n_exc: usize,
    /// Substeps `K` per environment step.
    pub substeps: usize,
}

impl Shape {
    /// The shape of a network for a task with `obs_dim` inputs and `act_dim` outputs.
    pub fn new(cfg: &NetworkConfig, obs_dim: usize, act_dim: usize) -> Self {
        Shape {
            obs_dim,
            act_dim,
            neurons: cfg.neurons,
            n_exc: cfg.n_exc(),
            substeps: cfg.substeps(),
        }
    }

    /// Inhibitory neurons.
    pub fn n_inh(&self) -> usize {
        self.neurons - self.n_exc
    }

    /// The genome layout of this shape.
    pub fn layout(&self) -> GenomeLayout {
        GenomeLayout {
            inputs: 2 * self.obs_dim,
            neurons: self.neurons,
            outputs: self.act_dim,
        }
    }
}

/// Bit positions of the three weight blocks in a genome (SPEC 1, row-major):
/// `W_in` (2d x N), then `W_h` (N x N, row = presynaptic), then `W_out` (N x a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenomeLayout {
    /// Input lines, `2d`.
    pub inputs: usize,
    pub neurons: usize,
    pub outputs: usize,
}

impl GenomeLayout {
    /// Genome length `D = 2dN + N^2 + Na` in bits.
    pub fn len(&self) -> usize {
        self.inputs * self.neurons + self.neurons * self.neurons + self.neurons * self.outputs
    }

    /// True for a zero-length genome (never for a valid shape).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bit of `W_in[j][n]`.
    pub fn w_in(&self, j: usize, n: usize) -> usize {
        j * self.neurons + n
    }

    /// Bit of `W_h[j][n]` (presynaptic `j`, postsynaptic `n`).
    pub fn w_h(&self, j: usize, n: usize) -> usize {
        self.inputs * self.neurons + j * self.neurons + n
    }

    /// Bit of `W_out[n][k]`.
    pub fn w_out(&self, n: usize, k: usize) -> usize {
        self.inputs * self.neurons + self.neurons * self.neurons + n * self.outputs + k
    }
}

/// The f32 constants of the dynamics, derived once in f64 and rounded (SPEC 1).
///
/// Mirrored in WGSL as `struct Constants` in `shaders/common.wgsl`; keep the two in sync
/// (a layout test checks the size).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Constants {
    pub r_in: f32,
    pub r_h: f32,
    pub r_out: f32,
    pub alpha_syn: f32,
    pub alpha_v: f32,
    pub alpha_out: f32,
    pub v_reset: f32,
    pub v_threshold: f32,
    /// `1 / dt` in f32: the rate target of a spiking neuron is `sigma_n / dt`.
    pub spike_rate: f32,
    /// `V_th - V_r`, the span of initial potentials.
    pub v_span: f32,
    pub _pad0: f32,
    pub _pad1: f32,
}

impl Constants {
    /// Derives the constants for a network config and shape.
    pub fn new(cfg: &NetworkConfig, shape: &Shape) -> Self {
        let d = shape.obs_dim.max(1) as f64;
        let n = cfg.neurons as f64;
        let s = cfg.sparsity;
        let r_in = cfg.k_in * cfg.v_threshold * cfg.tau_v * (2.0 / (s * d)).sqrt();
        let r_h = cfg.k_h * cfg.v_threshold * cfg.tau_v / cfg.tau_syn * (2.0 / (s * n)).sqrt();
        let r_out = cfg.k_out * (1.0 / (s * n)).sqrt();
        let dt32 = cfg.dt as f32;
        Constants {
            r_in: r_in as f32,
            r_h: r_h as f32,
            r_out: r_out as f32,
            alpha_syn: (-cfg.dt / cfg.tau_syn).exp() as f32,
            alpha_v: (-cfg.dt / cfg.tau_v).exp() as f32,
            alpha_out: (-cfg.dt / cfg.tau_out).exp() as f32,
            v_reset: cfg.v_reset as f32,
            v_threshold: cfg.v_threshold as f32,
            spike_rate: 1.0f32 / dt32,
            v_span: (cfg.v_threshold - cfg.v_reset) as f32,
            _pad0: 0.0,
            _pad1: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_defaults() {
        let cfg = NetworkConfig::default();
        assert_eq!(cfg.substeps(), 33);
        assert_eq!(cfg.n_exc(), 128);
        cfg.validate().unwrap();
        let shape = Shape::new(&cfg, 4, 2);
        assert_eq!(shape.layout().len(), 2 * 4 * 256 + 256 * 256 + 256 * 2);
        let l = shape.layout();
        assert_eq!(l.w_h(0, 0), 2 * 4 * 256);
        assert_eq!(l.w_out(255, 1), l.len() - 1);
    }

    #[test]
    fn validation_names_the_key() {
        let cfg = NetworkConfig {
            neurons: 0,
            ..Default::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("network.neurons"), "{e}");
        let cfg = NetworkConfig {
            v_threshold: -1.0,
            ..Default::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("network.v_threshold"), "{e}");
    }
}
