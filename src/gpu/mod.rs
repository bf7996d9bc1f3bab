//! The wgpu backend: WGSL compute kernels that simulate whole populations.
//!
//! [`context::GpuContext`] opens the device; [`plan`] fixes every size; [`kernels`]
//! holds the pipelines (sampling, genome unpacking, reset, network step,
//! reductions); [`evaluator::GpuEvaluator`] runs generations with the tasks on CPU
//! threads, or whole episodes on the device with a WGSL task ([`episodes`], tasks
//! from [`tasks`]); [`bench`] times the kernels.

pub mod bench;
pub mod context;
pub mod episodes;
pub mod evaluator;
pub mod kernels;
pub mod plan;
pub mod shaders;
pub mod tasks;

pub use bench::{bench_generation, bench_network};
pub use context::{list_adapters, AdapterReport, GpuContext};
pub use evaluator::{GpuEvaluator, GpuOptions};
