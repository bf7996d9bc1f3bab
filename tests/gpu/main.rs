//! The GPU path (`gpu` feature): kernels, networks, episodes, the evaluator, device
//! memory, the WGSL tasks, shader translation and adapter selection. One test binary
//! (each links the whole crate, wgpu and naga included); `cargo test --test gpu`, which
//! `scripts/gpu_check.sh` runs with the GPU required.
//!
//! Without a GPU adapter the tests print a notice and pass, unless `SATR_REQUIRE_GPU=1`.
#![cfg(feature = "gpu")]

#[path = "../common/mod.rs"]
mod common;

mod gpu_adapter;
mod gpu_episodes;
mod gpu_evaluator;
mod gpu_kernels;
mod gpu_memory;
mod gpu_network;
mod gpu_tasks;
mod gpu_translation;
