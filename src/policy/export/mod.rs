//! `satr export`: a policy written to a file that other tools read, atomically
//! ([`crate::atomic_write`]), so a failed export leaves nothing half-written behind.
//!
//! - [`safetensors`]: the weights as `u8` tensors, the normaliser and action bounds as
//!   `f64`, the f32 constants as `f32`, and the rest as documented header metadata;
//!   `python/satr_policy.py` runs it with numpy alone, matching satr exactly.
//! - [`nir`]: a Neuromorphic Intermediate Representation graph (HDF5), the format
//!   that SNN frameworks and neuromorphic toolchains import. docs/EXPORT.md maps
//!   SPEC 1's discrete-time update onto NIR's continuous-time nodes.

pub mod nir;
pub mod safetensors;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use thiserror::Error;

use super::{Policy, PolicyError};

/// The version of both export layouts (metadata key `format_version`).
pub const EXPORT_VERSION: u32 = 1;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Safetensors,
    Nir,
}

impl Format {
    /// The file extension a format's files get by default.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Nir => "nir",
        }
    }
}

impl FromStr for Format {
    type Err = ExportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "safetensors" => Ok(Format::Safetensors),
            "nir" => Ok(Format::Nir),
            other => Err(ExportError::UnknownFormat(other.to_string())),
        }
    }
}

/// Why an export failed.
#[derive(Debug, Error)]
pub enum ExportError {
    #[error("unknown export format \"{0}\": expected \"safetensors\" or \"nir\"")]
    UnknownFormat(String),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The OS error is part of the message.
    #[error("cannot write {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The bytes of `policy` in `format`.
pub fn encode(policy: &Policy, format: Format) -> Result<Vec<u8>, PolicyError> {
    match format {
        Format::Safetensors => safetensors::encode(policy),
        Format::Nir => nir::encode(policy),
    }
}

/// Writes `policy` to `path` in `format`, atomically.
pub fn write(policy: &Policy, format: Format, path: &Path) -> Result<(), ExportError> {
    let bytes = encode(policy, format)?;
    crate::atomic_write::write(path, &bytes).map_err(|error| ExportError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// The documented metadata both formats carry (string values, keys as in
/// docs/EXPORT.md).
pub fn metadata(policy: &Policy) -> Vec<(&'static str, String)> {
    let n = &policy.network;
    let s = &policy.shape;
    let action = match policy.action {
        crate::tasks::ActionSpace::Discrete(_) => "discrete",
        crate::tasks::ActionSpace::Continuous { .. } => "continuous",
    };
    vec![
        ("format", "satr-policy".to_string()),
        ("format_version", EXPORT_VERSION.to_string()),
        ("satr_version", env!("CARGO_PKG_VERSION").to_string()),
        ("task", policy.task.clone()),
        ("generation", policy.generation.to_string()),
        ("seed", policy.seed.to_string()),
        ("obs_dim", s.obs_dim.to_string()),
        ("act_dim", s.act_dim.to_string()),
        ("neurons", s.neurons.to_string()),
        ("n_exc", s.n_exc.to_string()),
        ("substeps", s.substeps.to_string()),
        ("action", action.to_string()),
        ("clip_obs", policy.clip_obs.to_string()),
        ("dt", n.dt.to_string()),
        ("sim_time", n.sim_time.to_string()),
        ("tau_syn", n.tau_syn.to_string()),
        ("tau_v", n.tau_v.to_string()),
        ("tau_out", n.tau_out.to_string()),
        ("v_reset", n.v_reset.to_string()),
        ("v_threshold", n.v_threshold.to_string()),
        ("k_in", n.k_in.to_string()),
        ("k_h", n.k_h.to_string()),
        ("k_out", n.k_out.to_string()),
        ("sparsity", n.sparsity.to_string()),
        ("exc_ratio", n.exc_ratio.to_string()),
    ]
}

/// The f32 constants of SPEC 1 as both formats name them.
pub fn constants(policy: &Policy) -> [(&'static str, f32); 10] {
    let c = &policy.constants;
    [
        ("r_in", c.r_in),
        ("r_h", c.r_h),
        ("r_out", c.r_out),
        ("alpha_syn", c.alpha_syn),
        ("alpha_v", c.alpha_v),
        ("alpha_out", c.alpha_out),
        ("v_reset_f32", c.v_reset),
        ("v_threshold_f32", c.v_threshold),
        ("spike_rate", c.spike_rate),
        ("v_span", c.v_span),
    ]
}

/// The action bounds of a continuous policy (`None` for discrete actions).
pub fn action_bounds(policy: &Policy) -> Option<(&[f64], &[f64])> {
    match &policy.action {
        crate::tasks::ActionSpace::Discrete(_) => None,
        crate::tasks::ActionSpace::Continuous { low, high } => Some((low, high)),
    }
}
