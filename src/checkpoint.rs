//! Checkpoints: everything needed to continue a run bit for bit, written atomically
//! (temporary file, fsync, rename, fsync of the folder) and checked on load (length and
//! CRC-32 in a header line), so a crash mid-write never leaves a corrupt "latest".

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::Config;
use crate::evaluation::ObsStats;
use crate::optimizer::OptimizerState;

/// Format version written in the header; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &str = "satr-checkpoint";

/// Problems reading or writing checkpoints.
#[derive(Debug, Error)]
pub enum CheckpointError {
    /// The OS error is part of the message, not a `source`, so a report of the whole
    /// chain prints it once.
    #[error("checkpoint {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is not a checkpoint, is truncated, or fails its checksum.
    #[error("checkpoint {path} is corrupt or truncated: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// The saved state of a run after `generation` generations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Generations completed (the next one to run has this index).
    pub generation: u32,
    /// The resolved config of the run (seed included).
    pub config: Config,
    /// The Bernoulli probabilities.
    pub p: Vec<f64>,
    pub optimizer: OptimizerState,
    /// Observation statistics of all earlier generations (the normaliser).
    pub obs_stats: ObsStats,
    /// Cumulative environment steps.
    pub env_steps: u64,
    /// Cumulative wall-clock seconds.
    pub wall_s: f64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io {
        path: path.to_path_buf(),
        error,
    }
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let body = serde_json::to_vec(self).expect("checkpoint serialises");
        let header = format!(
            "{MAGIC} v{FORMAT_VERSION} len={} crc32={:08x}\n",
            body.len(),
            crc32fast::hash(&body)
        );
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = path.with_extension("tmp");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(header.as_bytes()).map_err(io(&tmp))?;
            f.write_all(&body).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, path).map_err(io(path))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads and verifies a checkpoint.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = fs::read(path).map_err(io(path))?;
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| corrupt("no header line".into()))?;
        let header =
            std::str::from_utf8(&bytes[..nl]).map_err(|_| corrupt("header is not text".into()))?;
        let mut parts = header.split(' ');
        if parts.next() != Some(MAGIC) {
            return Err(corrupt("not a satr checkpoint".into()));
        }
        let version = parts.next().unwrap_or("");
        if version != format!("v{FORMAT_VERSION}") {
            return Err(corrupt(format!(
                "format {version}, this build reads v{FORMAT_VERSION}"
            )));
        }
        let field = |p: Option<&str>, name: &str| -> Result<String, CheckpointError> {
            p.and_then(|s| s.strip_prefix(&format!("{name}=")).map(str::to_string))
                .ok_or_else(|| corrupt(format!("header lacks {name}")))
        };
        let len: usize = field(parts.next(), "len")?
            .parse()
            .map_err(|_| corrupt("bad length".into()))?;
        let crc = u32::from_str_radix(&field(parts.next(), "crc32")?, 16)
            .map_err(|_| corrupt("bad checksum field".into()))?;
        let body = &bytes[nl + 1..];
        if body.len() != len {
            return Err(corrupt(format!(
                "expected {len} bytes of data, found {}",
                body.len()
            )));
        }
        if crc32fast::hash(body) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let ck: Checkpoint = serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()))?;
        Ok(ck)
    }
}

/// The checkpoint file of a run directory (or the path itself if it is a file).
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("checkpoints").join("latest.ckpt")
    } else {
        path.to_path_buf()
    }
}
