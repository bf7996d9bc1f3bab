//! The `satr sweep` command line (a module of the binary, beside `main.rs`, so that
//! clap stays out of the library and `main.rs` stays short).

use std::path::PathBuf;

use satr::app::sweep::{spec::parse_seeds, SweepArgs, SweepError};

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
    /// The library's arguments.
    pub fn args(self) -> Result<SweepArgs, SweepError> {
        Ok(SweepArgs {
            file: self.file,
            base: self.base,
            set: self.set,
            axes: self.axis,
            seeds: self.seeds.as_deref().map(parse_seeds).transpose()?,
            jobs: self.jobs,
            out: self.out,
            progress: !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        })
    }
}
