//! The `satr` command line: parses arguments and hands each command to [`satr::app`].

mod cli_plot;
mod cli_sweep;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};

use satr::app::bench::{self, BenchArgs};
use satr::app::train::{self, TrainArgs};
use satr::app::{eval, export, info, process, replay, Engines, World};
use satr::app::{plot, sweep};
use satr::config::GpuMode;

#[derive(Parser)]
#[command(
    name = "satr",
    version,
    about = "Train binary RSNN policies with Signal-Adaptive Trust Regions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

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

#[derive(Subcommand)]
enum Command {
    /// Train a policy (CartPole-v1 with the default config when given no arguments).
    Train {
        /// TOML config file (see configs/).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override a config key, e.g. --set optimizer.epsilon=10 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Backend: auto, gpu or cpu (mirrors the config key `backend`).
        #[arg(long)]
        backend: Option<String>,
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
    },
    Sweep(cli_sweep::SweepCli),
    Plot(cli_plot::PlotCli),
    /// Evaluate the mode genome of a checkpoint.
    Eval {
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
    },
    /// Write the mode genome of a checkpoint as a file other tools run (safetensors
    /// for python/satr_policy.py, NIR for SNN frameworks and neuromorphic toolchains).
    Export {
        /// Checkpoint file or run directory.
        #[arg(long)]
        checkpoint: PathBuf,
        /// safetensors or nir.
        #[arg(long, default_value = "safetensors")]
        format: String,
        /// Output file (default: policy.<format> in the run directory).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show the build, the CPU features, the tasks and the GPU adapters.
    Info {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Measure throughput (SPEC 6 units).
    Bench {
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
    },
    /// Step a task from a given state through a file of actions; one JSON line per step.
    Replay {
        #[arg(long)]
        task: String,
        /// Comma-separated state values (see the task's `state()`; for the MuJoCo tasks,
        /// qpos then qvel, as Gymnasium's `set_state(qpos, qvel)` takes them).
        #[arg(long, allow_hyphen_values = true)]
        state: String,
        /// File with one action per line.
        #[arg(long)]
        actions: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GpuModeArg {
    Generation,
    Host,
}

fn main() {
    // Parsed first: `--help` and usage errors exit at once, before MPI is initialised.
    let cli = Cli::parse();
    process::main(|world| run(world, cli));
}

fn run(world: &World, cli: Cli) -> Result<()> {
    let engines = Engines::new(world);
    match cli.command {
        Command::Train {
            config,
            set,
            backend,
            resume,
            quiet,
            print_digest,
        } => {
            let progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let args = TrainArgs {
                config,
                set,
                backend,
                resume,
                progress,
            };
            let out = train::train(&engines, args)?;
            if out.writer {
                println!("{out}");
                if print_digest {
                    println!("world size: {}", world.size());
                    println!("p digest: {:016x}", train::p_digest(&out.trainer.p));
                }
            }
        }
        Command::Sweep(cli) => println!("{}", sweep::sweep(&engines, cli.args()?)?),
        Command::Plot(cli) => println!("{}", plot::plot(&cli.args())?),
        Command::Eval {
            checkpoint,
            episodes,
            seed,
            backend,
            transcript,
        } => {
            let report = eval::eval(
                &engines,
                &checkpoint,
                episodes,
                seed,
                backend.as_deref(),
                transcript.as_deref(),
            )?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Export {
            checkpoint,
            format,
            output,
        } => {
            let report = export::export(&checkpoint, &format, output.as_deref())?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Info { json } => {
            if world.rank() == 0 {
                let report = info::info(world);
                if json {
                    println!("{}", serde_json::to_string_pretty(&report)?);
                } else {
                    print!("{report}");
                }
            }
        }
        Command::Bench {
            backend,
            mode,
            gpu_mode,
            json,
            population,
            neurons,
            obs_dim,
            act_dim,
            steps,
            task,
            repeat,
            checkpoint,
            plan,
            limits,
        } => {
            let args = BenchArgs {
                cpu: !matches!(backend, Which::Gpu),
                gpu: !matches!(backend, Which::Cpu),
                network: mode != BenchMode::Generation,
                generation: mode != BenchMode::Network,
                gpu_mode: match gpu_mode {
                    GpuModeArg::Generation => GpuMode::Generation,
                    GpuModeArg::Host => GpuMode::Host,
                },
                population,
                neurons,
                obs_dim,
                act_dim,
                steps,
                task,
                repeat,
                checkpoint,
            };
            if plan {
                #[cfg(feature = "gpu")]
                {
                    let p = bench::plan(&engines, &args, limits.as_deref())?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&p)?);
                    } else {
                        println!("{p}");
                    }
                    return Ok(());
                }
                #[cfg(not(feature = "gpu"))]
                anyhow::bail!("--plan needs the `gpu` feature ({limits:?})");
            }
            let records = bench::bench(&engines, &args)?;
            for (m, ratio) in bench::ratios(&records) {
                eprintln!("{m} throughput ratio {ratio:.3}");
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                for r in &records {
                    println!("{r}");
                }
            }
        }
        Command::Replay {
            task,
            state,
            actions,
        } => {
            for step in replay::replay(&task, &state, &actions)? {
                println!("{}", serde_json::to_string(&step)?);
            }
        }
    }
    Ok(())
}
