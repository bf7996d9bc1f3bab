//! `satr eval`.

use std::path::PathBuf;

use anyhow::Result;

use crate::app::{eval, Engines};

/// Evaluate the mode genome of a checkpoint.
#[derive(clap::Args)]
pub struct EvalCli {
    /// Checkpoint file or run directory.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Episodes to run.
    #[arg(long, default_value_t = 100)]
    episodes: usize,
    /// Seed for the evaluation episodes (default: the run's seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Backend: auto, gpu or cpu (default: the run's config).
    #[arg(long)]
    backend: Option<String>,
    /// Also write every step of every episode to this file (JSON lines: the
    /// observation, the network's input and outputs, the action, the reward).
    #[arg(long, value_name = "FILE")]
    transcript: Option<PathBuf>,
}

impl EvalCli {
    /// Evaluates and prints the report as one JSON line.
    pub fn run(self, engines: &Engines<'_>) -> Result<()> {
        let report = eval::eval(
            engines,
            &self.checkpoint,
            self.episodes,
            self.seed,
            self.backend.as_deref(),
            self.transcript.as_deref(),
        )?;
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    }
}
