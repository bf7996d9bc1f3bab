//! The `satr` command line: train, eval, info, bench, replay.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use satr::bench::{self, BenchRecord};
use satr::checkpoint::{self, Checkpoint};
use satr::config::{Backend, Config};
use satr::distribution;
use satr::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use satr::network::Shape;
use satr::tasks::{self, available_tasks, make_task};
use satr::train::{self, RunDir, RunOptions, TrainError, Trainer};

#[cfg(feature = "distributed")]
use satr::distributed::World;

/// Without the `distributed` feature every process is alone.
#[cfg(not(feature = "distributed"))]
struct World;

#[cfg(not(feature = "distributed"))]
impl World {
    fn init() -> Result<World> {
        Ok(World)
    }
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn abort(&self, _code: i32) {}
}

/// The evaluator of a training run: under MPI with several processes, each evaluates
/// its share of the members and all of them gather the whole generation.
#[cfg(feature = "distributed")]
fn run_evaluator(world: &World, cfg: &Config) -> Result<Box<dyn PopulationEvaluator>, TrainError> {
    if world.size() == 1 {
        return train::make_evaluator(cfg);
    }
    if cfg.backend != Backend::Cpu {
        world.assign_gpu_adapter();
    }
    let inner = train::make_evaluator(cfg)?;
    let obs_dim = train::shape_for(cfg)?.obs_dim;
    Ok(Box::new(satr::distributed::DistributedEvaluator::new(
        inner, world, obs_dim,
    )))
}

#[cfg(not(feature = "distributed"))]
fn run_evaluator(_world: &World, cfg: &Config) -> Result<Box<dyn PopulationEvaluator>, TrainError> {
    train::make_evaluator(cfg)
}

/// How the processes of a run agree to stop together (none needed when alone).
#[cfg(feature = "distributed")]
fn stop_vote(world: &World) -> Option<fn(bool) -> bool> {
    (world.size() > 1).then_some(satr::distributed::any_rank as fn(bool) -> bool)
}

#[cfg(not(feature = "distributed"))]
fn stop_vote(_world: &World) -> Option<fn(bool) -> bool> {
    None
}

/// FNV-1a over the bits of `p`: equal digests mean bit-identical distributions, which
/// is what tests compare across process counts.
fn p_digest(p: &[f64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in p {
        for b in x.to_bits().to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

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
enum BenchBackend {
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
        backend: BenchBackend,
        #[arg(long, value_enum, default_value = "both")]
        mode: BenchMode,
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

fn main() {
    // Parsed first: `--help` and usage errors exit at once, before MPI is initialised.
    let cli = Cli::parse();
    quiet_headless_vulkan();
    let ok = {
        // MPI wants to be initialised before other threads exist.
        let world = match World::init() {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
        };
        // The other ranks of an MPI job would repeat rank 0's log lines.
        let default_filter = if world.rank() == 0 {
            "warn,satr=info"
        } else {
            "warn"
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
        match real_main(&world, cli) {
            Ok(()) => true,
            Err(e) => {
                if world.size() > 1 {
                    eprintln!("error (rank {} of {}): {e:#}", world.rank(), world.size());
                    // The other ranks may be waiting in a collective this one never joins.
                    world.abort(1);
                } else {
                    eprintln!("error: {e:#}");
                }
                false
            }
        }
        // `world` ends here: MPI is finalised before exiting (a launcher counts a rank
        // that exits without finalising as failed).
    };
    if !ok {
        std::process::exit(1);
    }
}

/// Vulkan loaders print "XDG_RUNTIME_DIR is invalid or not set" on headless machines
/// (cloud batch jobs) when probing adapters; give them a private runtime folder.
fn quiet_headless_vulkan() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_some() {
        return;
    }
    #[cfg(unix)]
    let owner = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self")
            .map(|m| m.uid())
            .unwrap_or(0)
    };
    #[cfg(not(unix))]
    let owner = 0;
    let dir = std::env::temp_dir().join(format!("satr-runtime-{owner}"));
    if std::fs::create_dir_all(&dir).is_ok() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        }
        // SAFETY: called first thing in main, before any other thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
    }
}

fn real_main(world: &World, cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            config,
            set,
            backend,
            resume,
            quiet,
            print_digest,
        } => cmd_train(world, config, set, backend, resume, quiet, print_digest),
        Command::Eval {
            checkpoint,
            episodes,
            seed,
            backend,
        } => cmd_eval(checkpoint, episodes, seed, backend),
        Command::Info { json } => cmd_info(world, json),
        Command::Bench {
            backend,
            mode,
            json,
            population,
            neurons,
            obs_dim,
            act_dim,
            steps,
            task,
            repeat,
        } => cmd_bench(
            backend, mode, json, population, neurons, obs_dim, act_dim, steps, &task, repeat,
        ),
        Command::Replay {
            task,
            state,
            actions,
        } => cmd_replay(&task, &state, &actions),
    }
}

fn cmd_train(
    world: &World,
    config: Option<PathBuf>,
    mut set: Vec<String>,
    backend: Option<String>,
    resume: Option<PathBuf>,
    quiet: bool,
    print_digest: bool,
) -> Result<()> {
    // Rank 0 alone writes the run directory and prints.
    let writer = world.rank() == 0;
    if let Some(b) = backend {
        b.parse::<Backend>()?;
        set.push(format!("backend=\"{b}\""));
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A signal within this window of the first is the same event delivered twice, not
        // a second request: GNU `timeout` signals the child and then its process group,
        // and a terminal's Ctrl-C reaches every process of the group.
        const REPEAT_WINDOW: std::time::Duration = std::time::Duration::from_secs(1);
        let first = std::sync::Mutex::new(None::<std::time::Instant>);
        ctrlc::set_handler(move || {
            let mut first = first.lock().unwrap_or_else(|e| e.into_inner());
            match *first {
                None => {
                    *first = Some(std::time::Instant::now());
                    stop.store(true, Ordering::SeqCst);
                    eprintln!(
                        "signal received: finishing this generation, then writing a checkpoint"
                    );
                }
                Some(t) if t.elapsed() < REPEAT_WINDOW => {}
                Some(_) => {
                    eprintln!("second signal: exiting without a checkpoint");
                    std::process::exit(130);
                }
            }
        })
        .context("installing the SIGINT/SIGTERM handler")?;
    }
    let (mut trainer, dir) = match resume {
        Some(path) => {
            if config.is_some() {
                bail!("--resume takes the config from the checkpoint; use --set to change keys");
            }
            let (t, d) = train::resume_with(&path, &set, |cfg| run_evaluator(world, cfg), writer)?;
            tracing::info!(generation = t.generation, dir = %d.path.display(), "resuming");
            (t, d)
        }
        None => {
            let cfg = Config::load(config.as_deref(), &set)?;
            let evaluator = run_evaluator(world, &cfg)?;
            let dir = if writer {
                RunDir::create(&cfg)?
            } else {
                RunDir {
                    path: RunDir::path_for(&cfg),
                }
            };
            (Trainer::new(cfg, evaluator)?, dir)
        }
    };
    let cfg = &trainer.config;
    tracing::info!(
        task = %cfg.task,
        population = cfg.population,
        neurons = cfg.network.neurons,
        rule = ?cfg.optimizer.rule,
        backend = %trainer.backend(),
        world_size = world.size(),
        dir = %dir.path.display(),
        "training"
    );
    let opts = RunOptions {
        progress: writer && !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        stop,
        secondary: !writer,
        stop_vote: stop_vote(world),
    };
    let summary = train::run(&mut trainer, &dir, &opts)?;
    if !writer {
        return Ok(());
    }
    let last = summary.last.as_ref();
    let eval = last
        .and_then(|m| m.eval_return)
        .map(|e| format!("{e:.2}"))
        .unwrap_or_else(|| "n/a".into());
    if summary.interrupted {
        println!(
            "interrupted after generation {}; checkpoint written. Resume with: satr train --resume {}",
            summary.generations,
            dir.path.display()
        );
    } else {
        println!(
            "done: {} generations, eval return {eval}{}, {:.1} s; outputs in {}",
            summary.generations,
            summary
                .solved_at
                .map(|g| format!(" (target reached at generation {g})"))
                .unwrap_or_default(),
            last.map(|m| m.wall_s).unwrap_or(0.0),
            dir.path.display()
        );
    }
    if print_digest {
        println!("world size: {}", world.size());
        println!("p digest: {:016x}", p_digest(&trainer.p));
    }
    Ok(())
}

fn cmd_eval(
    path: PathBuf,
    episodes: usize,
    seed: Option<u64>,
    backend: Option<String>,
) -> Result<()> {
    if episodes == 0 {
        bail!("--episodes must be at least 1");
    }
    let mut ck = Checkpoint::load(&checkpoint::resolve(&path))?;
    if let Some(b) = backend {
        ck.config.backend = b.parse::<Backend>()?;
    }
    let cfg = &ck.config;
    let mut evaluator = train::make_evaluator(cfg)?;
    let max_steps = cfg.episode_step_limit()?;
    let th = distribution::thresholds(&ck.p);
    let norm = Normalizer::from_stats(&ck.obs_stats, cfg.evaluation.clip_obs);
    let req = GenerationRequest::new(
        seed.unwrap_or(cfg.seed),
        ck.generation,
        &ck.p,
        &th,
        &norm,
        0,
        max_steps,
    )
    .with_eval(episodes, 1);
    let fit = evaluator.evaluate(&req)?;
    let n = fit.eval.len() as f64;
    let mean = fit.eval.iter().sum::<f64>() / n;
    let std = (fit.eval.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let out = serde_json::json!({
        "task": cfg.task,
        "generation": ck.generation,
        "episodes": episodes,
        "mean_return": mean,
        "std_return": std,
        "min_return": fit.eval.iter().cloned().fold(f64::INFINITY, f64::min),
        "max_return": fit.eval.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
    });
    println!("{out}");
    Ok(())
}

fn cmd_info(world: &World, json: bool) -> Result<()> {
    if world.rank() != 0 {
        return Ok(());
    }
    let mut info = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "threads": rayon::current_num_threads(),
        "cpu_fast_path": satr::cpu::fast_path_available(),
        "tasks": available_tasks(),
        "gpu_adapters": gpu_adapters(),
    });
    if world.size() > 1 {
        info["world_size"] = world.size().into();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        println!("satr {}", env!("CARGO_PKG_VERSION"));
        println!(
            "cpu: {} threads, popcnt+avx2 fast path: {}",
            info["threads"], info["cpu_fast_path"]
        );
        println!("tasks: {}", available_tasks().join(", "));
        if world.size() > 1 {
            println!("mpi: world size {}", world.size());
        }
        let adapters = info["gpu_adapters"].as_array().cloned().unwrap_or_default();
        if adapters.is_empty() {
            println!("gpu adapters: none found");
        }
        for a in adapters {
            println!(
                "gpu adapter {}: {} ({}, {}, {} {}); max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB",
                a["index"],
                a["name"].as_str().unwrap_or("?"),
                a["backend"].as_str().unwrap_or("?"),
                a["device_type"].as_str().unwrap_or("?"),
                a["driver"].as_str().unwrap_or("?"),
                a["driver_info"].as_str().unwrap_or(""),
                a["max_storage_buffer_binding_size"].as_u64().unwrap_or(0) >> 20,
                a["max_buffer_size"].as_u64().unwrap_or(0) >> 20,
                a["max_compute_workgroup_storage_size"].as_u64().unwrap_or(0) >> 10,
            );
        }
    }
    Ok(())
}

#[cfg(feature = "gpu")]
fn gpu_adapters() -> serde_json::Value {
    serde_json::to_value(satr::gpu::list_adapters()).unwrap_or_default()
}

#[cfg(not(feature = "gpu"))]
fn gpu_adapters() -> serde_json::Value {
    serde_json::Value::Array(Vec::new())
}

/// Times the best of `repeat` full generations (train members only, p = 0.5).
fn bench_generation(
    ev: &mut dyn PopulationEvaluator,
    cfg: &Config,
    repeat: usize,
) -> Result<BenchRecord> {
    let shape = train::shape_for(cfg)?;
    let task = make_task(&cfg.task)?;
    let p = vec![0.5; shape.layout().len()];
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&ObsStats::new(shape.obs_dim), cfg.evaluation.clip_obs);
    let mut best: Option<(f64, u64)> = None;
    for r in 0..repeat {
        let req = GenerationRequest::new(
            r as u64,
            0,
            &p,
            &th,
            &norm,
            cfg.population,
            task.max_episode_steps(),
        );
        let t = std::time::Instant::now();
        let fit = ev.evaluate(&req)?;
        let secs = t.elapsed().as_secs_f64();
        if best.is_none_or(|(b, s)| secs / (fit.env_steps as f64) < b / (s as f64)) {
            best = Some((secs, fit.env_steps));
        }
    }
    let (secs, steps) = best.expect("repeat >= 1");
    let backend = if ev.describe().starts_with("cpu") {
        "cpu"
    } else {
        "gpu"
    };
    Ok(BenchRecord::new(
        backend,
        &ev.describe(),
        "generation",
        &shape,
        cfg.population,
        steps,
        secs,
    ))
}

#[allow(clippy::too_many_arguments)]
fn cmd_bench(
    backend: BenchBackend,
    mode: BenchMode,
    json: bool,
    population: usize,
    neurons: usize,
    obs_dim: usize,
    act_dim: usize,
    steps: usize,
    task: &str,
    repeat: usize,
) -> Result<()> {
    if population == 0 || steps == 0 || repeat == 0 || obs_dim == 0 || act_dim == 0 {
        bail!("--population, --steps, --repeat, --obs-dim and --act-dim must be at least 1");
    }
    let mut cfg = Config::default();
    cfg.network.neurons = neurons;
    cfg.network.validate()?;
    cfg.task = task.to_string();
    cfg.population = population.max(2);
    cfg.validate()?;
    let mut records: Vec<BenchRecord> = Vec::new();
    let want_cpu = matches!(backend, BenchBackend::Cpu | BenchBackend::Both);
    let want_gpu = matches!(backend, BenchBackend::Gpu | BenchBackend::Both);
    let net_shape = Shape::new(&cfg.network, obs_dim, act_dim);
    let member_steps = (population * steps) as u64;
    if want_cpu && mode != BenchMode::Generation {
        let secs = (0..repeat)
            .map(|r| {
                bench::cpu_network(&cfg.network, obs_dim, act_dim, population, steps, r as u64)
            })
            .fold(f64::INFINITY, f64::min);
        let dev = format!("{} threads", rayon::current_num_threads());
        records.push(BenchRecord::new(
            "cpu",
            &dev,
            "network",
            &net_shape,
            population,
            member_steps,
            secs,
        ));
    }
    if want_cpu && mode != BenchMode::Network {
        cfg.backend = Backend::Cpu;
        let mut ev = train::make_evaluator(&cfg)?;
        records.push(bench_generation(ev.as_mut(), &cfg, repeat)?);
    }
    if want_gpu {
        bench_gpu(
            &mut records,
            &mut cfg,
            mode,
            &net_shape,
            population,
            steps,
            repeat,
        )?;
    }
    if want_cpu && want_gpu {
        for m in ["network", "generation"] {
            let rate = |b: &str| {
                records
                    .iter()
                    .find(|r| r.backend == b && r.mode == m)
                    .map(|r| r.synapse_substeps_per_s)
            };
            if let (Some(c), Some(g)) = (rate("cpu"), rate("gpu")) {
                eprintln!("{m} mode: GPU/CPU throughput ratio {:.3}", g / c);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        for r in &records {
            println!(
                "{:>4} {:<10} pop {:>6} N {:>4} obs {:>3} act {:>2}: {:>10.3e} env-steps/s {:>10.3e} synapse-substeps/s ({:.3} s, {})",
                r.backend, r.mode, r.population, r.neurons, r.obs_dim, r.act_dim, r.env_steps_per_s, r.synapse_substeps_per_s, r.seconds, r.device
            );
        }
    }
    Ok(())
}

#[cfg(feature = "gpu")]
fn bench_gpu(
    records: &mut Vec<BenchRecord>,
    cfg: &mut Config,
    mode: BenchMode,
    shape: &Shape,
    population: usize,
    steps: usize,
    repeat: usize,
) -> Result<()> {
    let ctx = satr::gpu::GpuContext::new()?.context("no GPU adapter found (see `satr info`)")?;
    if mode != BenchMode::Generation {
        let mut best = f64::INFINITY;
        for r in 0..repeat {
            best = best.min(satr::gpu::bench_network(
                &ctx,
                &cfg.network,
                shape.obs_dim,
                shape.act_dim,
                population,
                steps,
                r as u64,
            )?);
        }
        records.push(BenchRecord::new(
            "gpu",
            &ctx.describe(),
            "network",
            shape,
            population,
            (population * steps) as u64,
            best,
        ));
    }
    if mode != BenchMode::Network {
        let factory = train::task_factory(&cfg.task)?;
        let mut ev = satr::gpu::GpuEvaluator::new(&ctx, &cfg.network, factory)?;
        records.push(bench_generation(&mut ev, cfg, repeat)?);
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
fn bench_gpu(
    _records: &mut Vec<BenchRecord>,
    _cfg: &mut Config,
    _mode: BenchMode,
    _shape: &Shape,
    _population: usize,
    _steps: usize,
    _repeat: usize,
) -> Result<()> {
    bail!("this build has no GPU backend (built without the `gpu` feature)")
}

fn cmd_replay(task: &str, state: &str, actions: &PathBuf) -> Result<()> {
    let mut t = make_task(task)?;
    let state: Vec<f64> = state
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .with_context(|| format!("--state value `{s}` is not a number"))
        })
        .collect::<Result<_>>()?;
    let text = std::fs::read_to_string(actions)
        .with_context(|| format!("reading {}", actions.display()))?;
    let acts = tasks::replay::parse_actions(&t.action_space(), &text)?;
    for step in tasks::replay::replay(t.as_mut(), &state, &acts)? {
        println!("{}", serde_json::to_string(&step)?);
    }
    Ok(())
}
