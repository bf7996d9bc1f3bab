//! What can stop a command of the application layer.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::checkpoint::CheckpointError;
use crate::config::ConfigError;
use crate::evaluation::EngineError;
use crate::tasks::TaskError;

/// Anything that can stop a run.
#[derive(Debug, Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Export(#[from] crate::policy::export::ExportError),
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// A file of the run directory. The OS error is part of the message, not a
    /// `source`, so a report of the whole chain prints it once.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A command-line value that cannot be used, naming the flag.
    #[error("{0}")]
    Usage(String),
    /// A run directory or checkpoint that cannot be resumed (missing, or not a run).
    #[error("cannot resume: {0}")]
    Resume(String),
    /// A checkpoint whose arrays do not fit the network or task it is resumed with.
    #[error("cannot resume: the checkpoint's {what} has {found} values, but {needed_by} needs {expected}")]
    CheckpointMismatch {
        what: &'static str,
        found: usize,
        expected: usize,
        needed_by: String,
    },
    /// A checkpoint's probabilities outside the configured bounds (a damaged file).
    #[error("cannot resume: the checkpoint holds probabilities outside [{low}, {high}]")]
    CheckpointOutOfRange { low: f64, high: f64 },
    /// The parts handed to a trainer do not belong together (a task other than the
    /// config's, an evaluator built for another task).
    #[error("{0}")]
    Mismatch(String),
    /// Every train member of a generation ended with a non-finite fitness.
    #[error("generation {generation}: all {members} train members returned a non-finite fitness (a NaN or infinite reward or observation); the task or its model is broken, so the run stops")]
    NonFinite { generation: u32, members: usize },
    /// The run would not fit in host memory (estimated before allocating).
    #[error("this run needs about {needed} of host memory ({detail}) but {available} is available; lower {key} (now {value}), or set SATR_AVAILABLE_MEMORY if the amount available is misjudged")]
    Memory {
        needed: String,
        available: String,
        detail: String,
        key: &'static str,
        value: usize,
    },
    /// Another process holds the run directory's lock: it is training that run.
    #[error("{} is being trained by process {holder} (it holds {}/lock); wait for it to end or stop it first", path.display(), path.display())]
    Locked { path: PathBuf, holder: String },
}

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |error| TrainError::Io {
        path: path.to_path_buf(),
        error,
    }
}
