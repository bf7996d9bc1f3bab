//! Checkpoints: everything needed to continue a run bit for bit, written atomically
//! (temporary file, fsync, rename, fsync of the folder) and checked on load (length and
//! CRC-32 in a header line), so a crash mid-write never leaves a corrupt "latest".
//!
//! Format v2 (written): the header line `satr-checkpoint v2 len=<20 digits>
//! crc32=<8 hex>`, then the body: a little-endian u64 byte count and that much JSON
//! (generation, config, normaliser statistics, counters, the optimizer's scalars), then
//! the genome-sized arrays `p`, Adam's `m` and `v` and the previous gradient, each a
//! little-endian u64 count and that many little-endian f64. The arrays are streamed
//! (nothing genome-sized is built in memory) and exact to the bit. Format v1 (read
//! still): the same header and the whole checkpoint as one JSON body.

use std::fs::{self, File};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::config::Config;
use crate::evaluation::ObsStats;
use crate::optimizer::OptimizerState;

/// Format version written in the header; bumped on incompatible changes.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format this build still reads.
pub const OLDEST_FORMAT: u32 = 1;
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

/// What v2 keeps as JSON: everything but the genome-sized arrays.
#[derive(Serialize, Deserialize)]
struct Meta {
    generation: u32,
    config: Config,
    obs_stats: ObsStats,
    env_steps: u64,
    wall_s: f64,
    adam_t: u64,
    signal_ema: Option<f64>,
    energy_ema: Option<f64>,
}

/// Writes into the file and into the running CRC and length at once.
struct Summed<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    len: u64,
}

impl<W: Write> Summed<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn array(&mut self, xs: &[f64]) -> std::io::Result<()> {
        self.put(&(xs.len() as u64).to_le_bytes())?;
        let mut buf = Vec::with_capacity(8 * 4096);
        for chunk in xs.chunks(4096) {
            buf.clear();
            for x in chunk {
                buf.extend_from_slice(&x.to_le_bytes());
            }
            self.put(&buf)?;
        }
        Ok(())
    }
}

fn header(len: u64, crc: u32) -> String {
    format!("{MAGIC} v{FORMAT_VERSION} len={len:020} crc32={crc:08x}\n")
}

/// Reads the v2 body's fields in order, each bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| format!("body ends inside a field at byte {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn array(&mut self, what: &str) -> Result<Vec<f64>, String> {
        let n = self.u64()?;
        let bytes = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(8))
            .ok_or_else(|| format!("{what}: impossible length {n}"))?;
        let raw = self.take(bytes).map_err(|e| format!("{what}: {e}"))?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}

impl Checkpoint {
    /// Writes the checkpoint to `path` atomically (format v2).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let tmp = path.with_extension("tmp");
        // Destructured so that a field added to the state cannot be forgotten here.
        let OptimizerState {
            m,
            v,
            t,
            signal_ema,
            energy_ema,
            prev_gradient,
        } = &self.optimizer;
        let meta = serde_json::to_vec(&Meta {
            generation: self.generation,
            config: self.config.clone(),
            obs_stats: self.obs_stats.clone(),
            env_steps: self.env_steps,
            wall_s: self.wall_s,
            adam_t: *t,
            signal_ema: *signal_ema,
            energy_ema: *energy_ema,
        })
        .expect("checkpoint metadata serialises");
        {
            let file = File::create(&tmp).map_err(io(&tmp))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            // A placeholder of the final header's length, rewritten once the body's
            // length and CRC are known.
            out.write_all(header(0, 0).as_bytes()).map_err(io(&tmp))?;
            let mut body = Summed {
                out,
                crc: crc32fast::Hasher::new(),
                len: 0,
            };
            (|| {
                body.put(&(meta.len() as u64).to_le_bytes())?;
                body.put(&meta)?;
                body.array(&self.p)?;
                body.array(m)?;
                body.array(v)?;
                body.array(prev_gradient)
            })()
            .map_err(io(&tmp))?;
            let (len, crc) = (body.len, body.crc.finalize());
            let mut file = body
                .out
                .into_inner()
                .map_err(|e| io(&tmp)(e.into_error()))?;
            file.seek(SeekFrom::Start(0)).map_err(io(&tmp))?;
            file.write_all(header(len, crc).as_bytes())
                .map_err(io(&tmp))?;
            file.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, path).map_err(io(path))?;
        // Make the rename itself durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Reads and verifies a checkpoint (format v2, or v1 from earlier versions).
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
        let known = (OLDEST_FORMAT..=FORMAT_VERSION).find(|v| version == format!("v{v}"));
        let Some(version) = known else {
            return Err(corrupt(format!(
                "format {version}, this build reads v{OLDEST_FORMAT} to v{FORMAT_VERSION}"
            )));
        };
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
        if version == 1 {
            return serde_json::from_slice(body).map_err(|e| corrupt(e.to_string()));
        }
        let mut r = Reader { bytes: body, at: 0 };
        let decode = |r: &mut Reader| -> Result<Checkpoint, String> {
            let n = r.u64()?;
            let n = usize::try_from(n).map_err(|_| format!("impossible metadata length {n}"))?;
            let meta: Meta = serde_json::from_slice(r.take(n)?).map_err(|e| e.to_string())?;
            let p = r.array("p")?;
            let m = r.array("m")?;
            let v = r.array("v")?;
            let prev_gradient = r.array("previous gradient")?;
            if r.at != r.bytes.len() {
                return Err(format!(
                    "{} bytes after the last array",
                    r.bytes.len() - r.at
                ));
            }
            Ok(Checkpoint {
                generation: meta.generation,
                config: meta.config,
                p,
                optimizer: OptimizerState {
                    m,
                    v,
                    t: meta.adam_t,
                    signal_ema: meta.signal_ema,
                    energy_ema: meta.energy_ema,
                    prev_gradient,
                },
                obs_stats: meta.obs_stats,
                env_steps: meta.env_steps,
                wall_s: meta.wall_s,
            })
        };
        decode(&mut r).map_err(corrupt)
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
