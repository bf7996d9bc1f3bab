//! `metrics.jsonl`, one typed record per generation (SPEC 7): written by the training
//! loop, read back by resume and by anything that reads a finished run.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{io_error, TrainError};
use crate::optimizer::UpdateStats;
use crate::policy::cost::PolicyCost;

/// One line of `metrics.jsonl` (SPEC 7); `None` is written as `null`. The update's
/// figures are the optimizer's own [`UpdateStats`], flattened into the line in their
/// order, so the KL recorded is the KL the rule reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub generation: u32,
    pub eval_return: Option<f64>,
    pub train_return_mean: f64,
    pub train_return_max: f64,
    pub train_return_min: f64,
    /// Train and eval members whose fitness was not finite (invalidated by a NaN or
    /// infinite reward or observation; ranked last, left out of the returns above).
    /// Written only when non-zero.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub non_finite_members: u32,
    /// What the mode genome costs to run (absent without eval members).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostFigures>,
    #[serde(flatten)]
    pub update: UpdateStats,
    pub env_steps: u64,
    pub wall_s: f64,
    pub env_steps_per_s: f64,
}

/// The cost figures of a generation's mode genome, measured on the first eval member's
/// episodes ([`crate::policy::cost`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostFigures {
    /// Spikes per environment step (all neurons, all substeps).
    pub spikes_per_step: f64,
    /// Spikes per neuron per substep.
    pub firing_rate: f64,
    /// Synaptic operations per environment step (recurrent spikes times fan-out, plus
    /// the input and readout connections).
    pub synaptic_ops_per_step: f64,
    /// Ones in the mode genome over its length.
    pub density: f64,
}

impl From<PolicyCost> for CostFigures {
    fn from(c: PolicyCost) -> Self {
        CostFigures {
            spikes_per_step: c.spikes_per_step,
            firing_rate: c.firing_rate,
            synaptic_ops_per_step: c.synaptic_ops_per_step,
            density: c.density,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A run's metrics file.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsFile {
    path: PathBuf,
}

impl MetricsFile {
    /// The metrics file at `path` (nothing is opened yet).
    pub fn new(path: PathBuf) -> Self {
        MetricsFile { path }
    }

    /// Where it lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every record in file order. A line that does not parse (the torn last line of a
    /// crashed run) is skipped; a missing file has no records.
    pub fn read(&self) -> Result<Vec<Metrics>, TrainError> {
        Ok(self.lines()?.into_iter().filter_map(|(m, _)| m).collect())
    }

    /// Drops the records of generations at or after `generation` (written after the
    /// checkpoint being resumed), so the file reads as one uninterrupted run. Kept
    /// lines are copied byte for byte.
    pub fn truncate(&self, generation: u32) -> Result<(), TrainError> {
        if !self.path.exists() {
            return Ok(());
        }
        let mut kept = String::new();
        for (m, line) in self.lines()? {
            if m.is_some_and(|m| m.generation < generation) {
                kept.push_str(&line);
                kept.push('\n');
            }
        }
        let tmp = self.path.with_extension("jsonl.tmp");
        fs::write(&tmp, kept).map_err(io_error(&tmp))?;
        fs::rename(&tmp, &self.path).map_err(io_error(&self.path))?;
        Ok(())
    }

    /// Opens the file for appending records.
    pub fn appender(&self) -> Result<MetricsWriter, TrainError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_error(&self.path))?;
        Ok(MetricsWriter {
            file,
            path: self.path.clone(),
        })
    }

    fn lines(&self) -> Result<Vec<(Option<Metrics>, String)>, TrainError> {
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&self.path)(e)),
        };
        BufReader::new(f)
            .lines()
            .map(|line| {
                let line = line.map_err(io_error(&self.path))?;
                Ok((serde_json::from_str(&line).ok(), line))
            })
            .collect()
    }
}

/// Appends records, one flushed line each, so a crash loses at most the line being written.
pub struct MetricsWriter {
    file: File,
    path: PathBuf,
}

impl MetricsWriter {
    /// Writes one record.
    pub fn append(&mut self, m: &Metrics) -> Result<(), TrainError> {
        let line = serde_json::to_string(m).expect("metrics serialise") + "\n";
        let (a, b) = line.as_bytes().split_at(line.len() / 2);
        // Two writes with the fault hook between them: a crash test can tear the line.
        self.file.write_all(a).map_err(io_error(&self.path))?;
        self.file.flush().map_err(io_error(&self.path))?;
        crate::fault_injection::pause();
        self.file.write_all(b).map_err(io_error(&self.path))?;
        self.file.flush().map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(generation: u32, eval: Option<f64>) -> Metrics {
        Metrics {
            generation,
            eval_return: eval,
            train_return_mean: 1.5,
            train_return_max: 2.0,
            train_return_min: 0.1 + 0.2,
            non_finite_members: 0,
            cost: None,
            update: UpdateStats {
                total_energy: Some(1e-300),
                signal_energy: None,
                snr: Some(f64::MIN_POSITIVE),
                kl_budget: None,
                kl: 92.1047914891415,
                eta: Some(1.0),
                entropy: 0.69,
                clip_fraction: 0.0,
            },
            env_steps: u64::MAX,
            wall_s: 0.25,
            env_steps_per_s: 3.0,
        }
    }

    #[test]
    fn records_round_trip_and_truncate_keeps_earlier_lines_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let file = MetricsFile::new(dir.path().join("metrics.jsonl"));
        assert!(file.read().unwrap().is_empty());
        let recs: Vec<Metrics> = (0..4)
            .map(|g| record(g, (g % 2 == 0).then_some(-1.25)))
            .collect();
        let mut w = file.appender().unwrap();
        for m in &recs {
            w.append(m).unwrap();
        }
        drop(w);
        // A torn last line, as a crash mid-write leaves it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(file.path())
            .unwrap()
            .write_all(b"{\"generation\": 4, \"eval_re")
            .unwrap();
        assert_eq!(file.read().unwrap(), recs);
        let before = std::fs::read_to_string(file.path()).unwrap();
        file.truncate(2).unwrap();
        assert_eq!(file.read().unwrap(), recs[..2].to_vec());
        let after = std::fs::read_to_string(file.path()).unwrap();
        assert!(before.starts_with(&after), "kept lines changed:\n{after}");
        assert_eq!(after.lines().count(), 2);
    }
}
