//! The wgpu backend: WGSL compute kernels that simulate whole populations.
//!
//! [`context::GpuContext`] opens the device; [`device`] is the layer of labelled
//! buffers, pipelines and dispatches every driver builds on; [`plan`] fixes every size
//! and generates the WGSL headers; [`shaders`] composes and validates the sources.
//! One driver per kernel: [`sample_genomes`], [`network`] (`unpack_net`,
//! `reset_state`, `rsnn_step`), [`reductions`], and [`episodes`] (whole episodes on
//! the device, with a WGSL task from [`tasks`]). [`evaluator::GpuEvaluator`] runs
//! generations with them; [`bench`](mod@bench) times the kernels.
//!
//! # Exactness
//!
//! The network kernels compute the CPU engine's results bit for bit (integer counts,
//! spikes, every f32 state value and the outputs; `tests/gpu/gpu_network.rs`), because
//! they keep its operation order and round every product on its own: WGSL cannot
//! forbid FMA contraction, so each product that feeds an add goes through
//! `rounded()` in `common.wgsl` (an OR with an opaque zero), which no compiler can fuse.
//! Measured on lavapipe: identical with and without the guard (it does not contract);
//! drivers that do (NVIDIA's) would otherwise differ in the last bit.
//! Two device properties WGSL cannot control: subnormals (drivers flush or keep them as
//! they choose, so SPEC 1 stores a subnormal state value as +0 on every backend:
//! `flushed` in common.wgsl; an intermediate product that a driver flushes can still
//! differ in rare last-bit cases), and the workgroup size: on lavapipe 22.3 workgroups
//! under 64 invocations give wrong results (barriers appear not to synchronise), so on
//! software rasterisers the kernels never use fewer ([`quirks::DriverQuirks`], read from
//! the adapter, which also slices whole-generation episodes for llvmpipe's loop budget).
//! Reductions are exact integer sums in 64-bit fixed point (independent of chunking).
//! In full-generation mode the task and the normaliser run in f32, so returns follow
//! the CPU's f64 tasks only to f32 rounding.

pub mod bench;
pub mod context;
pub mod device;
pub mod episodes;
pub mod evaluator;
pub mod memory_plan;
pub mod network;
pub mod plan;
pub mod quirks;
pub mod reductions;
pub mod sample_genomes;
pub mod shaders;
pub mod tasks;

pub use bench::{bench_generation, bench_network};
pub use context::{list_adapters, AdapterReport, GpuContext};
pub use evaluator::{GpuEvaluator, GpuOptions};
