//! `satr export`: the mode genome of a checkpoint as a safetensors or NIR file.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::TrainError;
use crate::checkpoint::{self, Checkpoint};
use crate::policy::export::{self, Format};
use crate::policy::Policy;

/// What was written (printed as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    pub path: PathBuf,
    pub format: &'static str,
    pub task: String,
    pub generation: u32,
    pub neurons: usize,
    pub bytes: u64,
}

/// Where an export goes by default: `policy.<ext>` in the run directory (the
/// directory given, or the one holding the checkpoint file's `checkpoints/`).
pub fn default_output(checkpoint: &Path, format: Format) -> PathBuf {
    let name = format!("policy.{}", format.extension());
    if checkpoint.is_dir() {
        return checkpoint.join(name);
    }
    let dir = checkpoint.parent().unwrap_or(Path::new("."));
    let run = match dir.file_name() {
        Some(n) if n == "checkpoints" => dir.parent().unwrap_or(dir),
        _ => dir,
    };
    run.join(name)
}

/// Exports the checkpoint at `checkpoint` (a file or a run directory) in `format`
/// (`safetensors` or `nir`) to `output` (default: [`default_output`]).
pub fn export(
    checkpoint: &Path,
    format: &str,
    output: Option<&Path>,
) -> Result<ExportReport, TrainError> {
    let format: Format = format.parse()?;
    let ck = Checkpoint::load(&checkpoint::resolve(checkpoint))?;
    let policy = Policy::from_checkpoint(&ck)?;
    let path = output.map_or_else(|| default_output(checkpoint, format), Path::to_path_buf);
    export::write(&policy, format, &path)?;
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(ExportReport {
        path,
        format: format.extension(),
        task: policy.task,
        generation: policy.generation,
        neurons: policy.shape.neurons,
        bytes,
    })
}
