//! `satr sweep`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Result;

use super::signal;
use crate::app::sweep::{self, spec::parse_seeds, SweepArgs, SweepError};
use crate::app::Engines;

/// Run a grid of configs x seeds, each an ordinary run directory, and summarise it per
/// cell; re-running the same command skips finished runs and resumes the others.
#[derive(clap::Args)]
pub struct SweepCli {
    /// Sweep file (TOML: base, seeds, [set], [axes], target_return, last_k, out).
    file: Option<PathBuf>,
    /// Base config file (replaces the sweep file's `base`).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Override a config key in every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// An axis, e.g. --axis population=8,32 (repeatable; replaces the file's axis of that key).
    #[arg(long = "axis", value_name = "KEY=V1,V2")]
    axis: Vec<String>,
    /// Seeds, e.g. 0,1,2 or 0..5 (replaces the file's list).
    #[arg(long)]
    seeds: Option<String>,
    /// Runs at once in this process.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Sweep directory (default: the file's `out`, else sweeps/<file stem>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

impl SweepCli {
    /// The library's arguments, stopped by `stop`.
    pub fn args(self, stop: Arc<AtomicBool>) -> Result<SweepArgs, SweepError> {
        Ok(SweepArgs {
            file: self.file,
            base: self.base,
            set: self.set,
            axes: self.axis,
            seeds: self.seeds.as_deref().map(parse_seeds).transpose()?,
            jobs: self.jobs,
            out: self.out,
            progress: !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            stop,
        })
    }

    /// Runs the sweep, stopped by SIGINT/SIGTERM, and prints its outcome.
    pub fn run(self, engines: &Engines<'_>) -> Result<()> {
        let args = self.args(signal::stop_flag()?)?;
        println!("{}", sweep::sweep(engines, args)?);
        Ok(())
    }
}
