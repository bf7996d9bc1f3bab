//! `satr train`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Result;

use super::signal;
use crate::app::train::{self, TrainArgs};
use crate::app::Engines;
use crate::config::Backend;

/// Train a policy (CartPole-v1 with the default config when given no arguments).
#[derive(clap::Args)]
pub struct TrainCli {
    /// TOML config file (see configs/).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a config key, e.g. --set optimizer.epsilon=10 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Backend: auto, gpu or cpu (replaces the config key `backend`).
    #[arg(long, value_parser = |s: &str| s.parse::<Backend>())]
    backend: Option<Backend>,
    /// Continue the run in this directory (or from this checkpoint file).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// At the end, print the world size and a digest of the final p (for tests that
    /// compare runs bit for bit).
    #[arg(long, hide = true)]
    print_digest: bool,
}

impl TrainCli {
    /// The library's arguments, stopped by `stop`.
    pub fn args(self, stop: Arc<AtomicBool>) -> TrainArgs {
        TrainArgs {
            config: self.config,
            set: self.set,
            backend: self.backend,
            resume: self.resume,
            progress: !self.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            stop,
        }
    }

    /// Trains, stopped by SIGINT/SIGTERM; rank 0 prints the outcome.
    pub fn run(self, engines: &Engines<'_>) -> Result<()> {
        let print_digest = self.print_digest;
        let out = train::train(engines, self.args(signal::stop_flag()?))?;
        if out.writer {
            println!("{out}");
            if print_digest {
                println!("world size: {}", engines.world().size());
                println!("p digest: {:016x}", train::p_digest(&out.trainer.p));
            }
        }
        Ok(())
    }
}
