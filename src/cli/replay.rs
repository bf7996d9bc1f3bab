//! `satr replay`.

use std::path::PathBuf;

use anyhow::Result;

use crate::app::replay;

/// Step a task from a given state through a file of actions; one JSON line per step.
#[derive(clap::Args)]
pub struct ReplayCli {
    #[arg(long)]
    task: String,
    /// Comma-separated state values (see the task's `state()`; for the MuJoCo tasks,
    /// qpos then qvel, as Gymnasium's `set_state(qpos, qvel)` takes them).
    #[arg(long, allow_hyphen_values = true)]
    state: String,
    /// File with one action per line.
    #[arg(long)]
    actions: PathBuf,
}

impl ReplayCli {
    /// Replays and prints one JSON line per step.
    pub fn run(self) -> Result<()> {
        for step in replay::replay(&self.task, &self.state, &self.actions)? {
            println!("{}", serde_json::to_string(&step)?);
        }
        Ok(())
    }
}
