//! The CPU bitset engine: the reference backend, the throughput baseline, and the
//! CPU twin of every WGSL kernel.
//!
//! One member's weights are repacked once per episode batch into the layouts the hot
//! loops want (recurrent columns word-major, so the popcount loop runs over neurons
//! with unit stride), then the whole episode runs out of L1. Members run in parallel
//! with rayon ([`CpuEvaluator`]).
//!
//! # Twins
//!
//! Each network kernel under `shaders/` has a file here with the same name, holding a
//! function named after the shader that runs its `main` (or, for `rsnn_core`, its
//! `net_step`) with the same loops (vello keeps `cpu/<stage>.rs` beside each shader
//! the same way), so a GPU result can be checked, and a kernel debugged, against
//! plain Rust:
//!
//! | shader | twin | compared in |
//! |---|---|---|
//! | `unpack_net.wgsl` | [`unpack_net`](unpack_net::unpack_net) ([`PackedNet::load`]) | `tests/engine/cpu_twins.rs` |
//! | `reset_state.wgsl` | [`reset_state`](reset_state::reset_state) ([`NetState::reset`]) | `tests/engine/cpu_twins.rs`, `tests/gpu/gpu_network.rs` |
//! | `rsnn_core.wgsl` | [`net_step`] | `tests/gpu/gpu_network.rs` (substep by substep), `tests/engine/network_reference.rs` (plain SPEC 1) |
//! | `rsnn_step.wgsl` | [`rsnn_step`](rsnn_step::rsnn_step) | `tests/engine/cpu_twins.rs` |
//! | `sample_genomes.wgsl` | [`sample_genomes`](sample_genomes::sample_genomes) (over `distribution::sample_words`) | `tests/engine/cpu_twins.rs`, `tests/engine/sampling.rs` |
//! | `episodes.wgsl` | [`episodes`](episodes::episodes) (one slice), [`run_episodes`](episodes::run_episodes) (the host's slicing) | `tests/engine/cpu_twins.rs` |
//! | `reductions.wgsl` | [`reductions`](reductions::reductions), [`fixed_point_reductions`](reductions::fixed_point_reductions) (64-bit fixed point) | `tests/engine/cpu_twins.rs` |
//!
//! Not twinned here: `common.wgsl` (its twin is `src/rng.rs`) and the task kernels
//! (`task_*.wgsl`, `cartpole_dynamics.wgsl`, `task_step.wgsl`: f32 ports of
//! `src/tasks/`, compared in `tests/gpu/gpu_tasks/`). [`evaluator`] is the backend
//! itself, which has no shader.
//!
//! The twins meet the GPU only in tests: nothing here imports `gpu/`.

pub mod episodes;
pub mod evaluator;
pub mod reductions;
pub mod reset_state;
pub mod rsnn_core;
pub mod rsnn_step;
pub mod sample_genomes;
pub mod unpack_net;

pub use crate::cpu_features::fast_path_available;
pub use evaluator::CpuEvaluator;
pub use reset_state::reset_state;
pub use rsnn_core::{
    flushed, input_projection, net_step, net_step_observed, output_projection, recurrent_counts,
    substep, NetState, EVENT_MAX_SPIKES,
};
pub use rsnn_step::rsnn_step;
pub use sample_genomes::sample_genomes;
pub use unpack_net::{unpack_net, PackedNet, Propagation};
