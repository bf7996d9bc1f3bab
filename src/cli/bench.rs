//! `satr bench`.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use crate::app::bench::{self, BenchArgs};
use crate::app::Engines;
use crate::config::GpuMode;

#[derive(Clone, Copy, ValueEnum)]
enum Which {
    Cpu,
    Gpu,
    Both,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum BenchMode {
    Network,
    Generation,
    Both,
}

#[derive(Clone, Copy, ValueEnum)]
enum GpuModeArg {
    Generation,
    Host,
}

/// Measure throughput (SPEC 6 units).
#[derive(clap::Args)]
pub struct BenchCli {
    #[arg(long, value_enum, default_value = "cpu")]
    backend: Which,
    #[arg(long, value_enum, default_value = "both")]
    mode: BenchMode,
    /// Where generation mode runs the task on the GPU (as the config's `[gpu] mode`).
    #[arg(long, value_enum, default_value = "generation")]
    gpu_mode: GpuModeArg,
    /// Print a JSON array of records (SPEC 7).
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 256)]
    population: usize,
    #[arg(long, default_value_t = 256)]
    neurons: usize,
    /// Observation dimension in network mode.
    #[arg(long, default_value_t = 11)]
    obs_dim: usize,
    /// Outputs in network mode.
    #[arg(long, default_value_t = 3)]
    act_dim: usize,
    /// Environment steps per member in network mode.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    /// Task of generation mode.
    #[arg(long, default_value = "cartpole")]
    task: String,
    /// Timed repetitions (the best is reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Time whole generations of a trained run (checkpoint file or run directory):
    /// members sampled from its distribution, on its task, with its normaliser.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Print the device memory plan of one generation (bytes per member, chunks,
    /// dispatches) without allocating or measuring anything.
    #[arg(long)]
    plan: bool,
    /// With --plan: a named limit set instead of this machine's adapter
    /// (lavapipe, nvidia-24gb, nvidia-80gb, nvidia-141gb).
    #[arg(long, requires = "plan")]
    limits: Option<String>,
}

impl BenchCli {
    /// The library's arguments (`--plan`, `--limits` and `--json` are the command's).
    pub fn args(&self) -> BenchArgs {
        BenchArgs {
            cpu: !matches!(self.backend, Which::Gpu),
            gpu: !matches!(self.backend, Which::Cpu),
            network: self.mode != BenchMode::Generation,
            generation: self.mode != BenchMode::Network,
            gpu_mode: match self.gpu_mode {
                GpuModeArg::Generation => GpuMode::Generation,
                GpuModeArg::Host => GpuMode::Host,
            },
            population: self.population,
            neurons: self.neurons,
            obs_dim: self.obs_dim,
            act_dim: self.act_dim,
            steps: self.steps,
            task: self.task.clone(),
            repeat: self.repeat,
            checkpoint: self.checkpoint.clone(),
        }
    }

    /// Measures (or plans, with `--plan`) and prints the records.
    pub fn run(self, engines: &Engines<'_>) -> Result<()> {
        let args = self.args();
        if self.plan {
            return self.print_plan(engines, &args);
        }
        let records = bench::bench(engines, &args)?;
        for (m, ratio) in bench::ratios(&records) {
            eprintln!("{m} throughput ratio {ratio:.3}");
        }
        if self.json {
            println!("{}", serde_json::to_string_pretty(&records)?);
        } else {
            for r in &records {
                println!("{r}");
            }
        }
        Ok(())
    }

    #[cfg(feature = "gpu")]
    fn print_plan(&self, engines: &Engines<'_>, args: &BenchArgs) -> Result<()> {
        let p = bench::plan(engines, args, self.limits.as_deref())?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
        } else {
            println!("{p}");
        }
        Ok(())
    }

    #[cfg(not(feature = "gpu"))]
    fn print_plan(&self, _engines: &Engines<'_>, _args: &BenchArgs) -> Result<()> {
        anyhow::bail!("--plan needs the `gpu` feature ({:?})", self.limits)
    }
}
