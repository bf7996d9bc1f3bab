//! The application layer: what the `satr` commands do, over the library below.
//!
//! ```text
//! cli (parse only) -> app: train | sweep | plot | eval | export | bench | info | replay
//!     eval, export -> policy (the mode genome: episodes, cost, safetensors / NIR)
//!     sweep -> train's pieces per (cell, seed), in threads, then the summary
//!     plot  -> run and sweep directories' metrics -> PNG / SVG
//!     train -> run (loop, checkpoints, observers) -> trainer (one generation)
//!           -> engines (every evaluator: cpu | gpu by mode | mpi wrap)
//!                -> evaluation seam -> backends -> tasks
//!     trainer -> optimizer (pure update rule of p and the reductions)
//! ```
//!
//! Nothing here is process-wide: the caller (the command line, `crate::cli`) sets up
//! logging and signals and hands each run its stop flag. A process builds its
//! evaluators through one [`engines::Engines`], which opens the GPU device once;
//! several runs in one process share it.

pub mod bench;
pub mod engines;
pub mod error;
pub mod eval;
pub mod export;
pub mod info;
pub mod memory;
pub mod metrics;
pub mod observer;
pub mod plot;
pub mod replay;
pub mod run;
pub mod run_dir;
pub mod strategy;
pub mod sweep;
pub mod tensorboard;
pub mod throughput;
pub mod train;
pub mod trainer;
pub mod world;

pub use self::engines::Engines;
pub use self::error::TrainError;
pub use self::metrics::{Metrics, MetricsFile};
pub use self::run_dir::RunDir;
pub use self::strategy::{Population, Strategy, StrategyError};
pub use self::trainer::Trainer;
pub use self::world::World;
