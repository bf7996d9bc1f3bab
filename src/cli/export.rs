//! `satr export`.

use std::path::PathBuf;

use anyhow::Result;

use crate::app::export;

/// Write the mode genome of a checkpoint as a file other tools run (safetensors
/// for python/satr_policy.py, NIR for SNN frameworks and neuromorphic toolchains).
#[derive(clap::Args)]
pub struct ExportCli {
    /// Checkpoint file or run directory.
    #[arg(long)]
    checkpoint: PathBuf,
    /// safetensors or nir.
    #[arg(long, default_value = "safetensors")]
    format: String,
    /// Output file (default: policy.<format> in the run directory).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

impl ExportCli {
    /// Exports and prints the report as one JSON line.
    pub fn run(self) -> Result<()> {
        let report = export::export(&self.checkpoint, &self.format, self.output.as_deref())?;
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    }
}
