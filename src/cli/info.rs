//! `satr info`.

use anyhow::Result;

use crate::app::{info, World};

/// Show the build, the CPU features, the tasks and the GPU adapters.
#[derive(clap::Args)]
pub struct InfoCli {
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

impl InfoCli {
    /// Prints the report (rank 0 alone).
    pub fn run(self, world: &World) -> Result<()> {
        if world.rank() == 0 {
            let report = info::info(world);
            if self.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
        }
        Ok(())
    }
}
