//! `satr`: train binary recurrent spiking neural network (RSNN) policies with
//! Signal-Adaptive Trust Regions (SATR), on a CPU bitset path and a GPU (WGSL) path.
//!
//! The reference semantics are in `docs/SPEC.md`; every backend computes exactly what
//! it describes. Decisions the SPEC leaves open are in `docs/DECISIONS.md`; the API
//! below is listed, with how to add a task or an update rule, in
//! `docs/ARCHITECTURE.md`.
//!
//! # The library
//!
//! A run is a [`Config`] (TOML, `--set`-style overrides), a task resolved once from
//! the registry ([`TaskSpec`]; built-ins, or your own through [`register_task`]), an
//! evaluator for it ([`Engines`]: CPU, GPU, MPI) and a [`Trainer`] that advances one
//! generation per [`Trainer::step`]. [`app::run::run`] drives a trainer to its end with
//! observers ([`GenerationObserver`]: metrics file, progress, TensorBoard, yours), a
//! caller-owned stop flag and, only when given one, a run directory for checkpoints.
//! The library installs no signal handler and never exits the process.
//!
//! ```
//! use satr::{register_task, ActionKind, Config, Engines, TaskSpec, Trainer, World};
//!
//! // A task of your own (here CartPole's instances under a new name).
//! let spec = TaskSpec::new("my-cartpole", 4, ActionKind::Discrete(2), 500, || {
//!     satr::tasks::make_task("cartpole")
//! });
//! register_task(spec)?;
//! let cfg = Config::from_toml_with_overrides(
//!     "task = \"my-cartpole\"\nbackend = \"cpu\"\npopulation = 16\n[network]\nneurons = 16",
//!     &["generations=2".into()],
//! )?;
//! let world = World::init()?;
//! let engines = Engines::new(&world);
//! let task = cfg.resolve_task()?;
//! let mut trainer = Trainer::new(cfg.clone(), task.clone(), engines.evaluator(&cfg, &task)?)?;
//! while !trainer.finished() {
//!     let m = trainer.step()?;
//!     assert!(m.train_return_mean >= 1.0);
//! }
//! let policy = trainer.policy()?; // the mode genome: evaluate it, export it
//! assert_eq!(policy.task, "my-cartpole");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Batched environments (a vector env, a JAX env) implement [`VectorTask`] and register
//! with [`TaskSpec::batched`] or [`TaskSpec::with_vector`]; evaluators then step every
//! member's network, then the whole batch in one call.
//!
//! Modules marked hidden in the docs (the CPU kernels' twins, the GPU drivers,
//! sampling, checkpoints' byte layout) are public for the test suite and benches; they
//! are not part of the API and may change.

pub mod app;
#[doc(hidden)]
pub mod atomic_write;
#[doc(hidden)]
pub mod byte_size;
pub mod checkpoint;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
#[doc(hidden)]
pub mod cpu;
#[doc(hidden)]
pub mod cpu_features;
#[cfg(feature = "distributed")]
pub mod distributed;
#[doc(hidden)]
pub mod distribution;
pub mod evaluation;
pub(crate) mod fault_injection;
#[cfg(feature = "gpu")]
#[doc(hidden)]
pub mod gpu;
pub mod network;
pub mod optimizer;
pub mod policy;
pub mod register;
#[doc(hidden)]
pub mod rng;
pub mod tasks;

pub use app::observer::GenerationObserver;
pub use app::{Engines, Metrics, Population, Strategy, StrategyError, TrainError, Trainer, World};
pub use config::{Backend, Config, ConfigError};
pub use evaluation::{EngineError, PopulationEvaluator, Stepping};
pub use policy::Policy;
pub use register::register_task;
pub use tasks::{
    Action, ActionBatch, ActionKind, ActionSpace, EpisodeKey, Step, Task, TaskError, TaskSpec,
    VectorTask,
};
