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
    /// A checkpoint that does not fit the config it is resumed with.
    #[error("cannot resume: {0}")]
    Resume(String),
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
