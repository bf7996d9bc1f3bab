//! The `satr` command line, a thin layer over [`crate::app`]: clap parses the
//! arguments into one struct per command, each converts itself into the library's
//! arguments and prints the outcome. The process's life (headless Vulkan, MPI world,
//! logging, the stop signal, the error report and exit status) is here too, not in
//! the library.
//!
//! [`main`] is the whole command line as a function, so that the binary (`src/main.rs`)
//! and the Python package's console entry point run the same thing.

mod bench;
mod eval;
mod export;
mod info;
mod logging;
mod plot;
mod process;
mod replay;
mod signal;
mod sweep;
mod train;

use std::ffi::OsString;

use anyhow::Result;
use clap::{Parser, Subcommand};

pub use self::logging::LogFormat;
use crate::app::{Engines, World};

#[derive(Parser)]
#[command(
    name = "satr",
    version,
    about = "Train binary RSNN policies with Signal-Adaptive Trust Regions"
)]
struct Cli {
    /// Log lines on stderr as text, or as one JSON object per line (for collected
    /// batch logs); default: the environment variable SATR_LOG_FORMAT, else text.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Train(train::TrainCli),
    Sweep(sweep::SweepCli),
    Plot(plot::PlotCli),
    Eval(eval::EvalCli),
    Export(export::ExportCli),
    Info(info::InfoCli),
    Bench(bench::BenchCli),
    Replay(replay::ReplayCli),
}

impl Command {
    fn run(self, world: &World) -> Result<()> {
        let engines = Engines::new(world);
        match self {
            Command::Train(c) => c.run(&engines),
            Command::Sweep(c) => c.run(&engines),
            Command::Plot(c) => c.run(),
            Command::Eval(c) => c.run(&engines),
            Command::Export(c) => c.run(),
            Command::Info(c) => c.run(world),
            Command::Bench(c) => c.run(&engines),
            Command::Replay(c) => c.run(),
        }
    }
}

/// Runs the command line `args` (the program name first, as [`std::env::args_os`]
/// gives it) and returns the process's exit status: 0, 1 after an error (reported on
/// stderr), or clap's status after `--help`, `--version` or a usage error (printed as
/// clap prints them; 2 also for a bad `SATR_LOG_FORMAT`). A second stop signal during
/// `train` or `sweep` still exits the process at once with status 130.
///
/// Callable more than once in a process: logging is set up by the first call, the
/// signal handler is installed once and re-armed by each `train` or `sweep`.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    // Parsed first: `--help` and usage errors return at once, before MPI is initialised.
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let format = match LogFormat::resolve(cli.log_format) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    process::run(format, |world| cli.command.run(world))
}
