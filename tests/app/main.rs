//! The commands and the library as users meet them: the `satr` binary end to end (runs,
//! resume, signals, crashes, faults, bad input, sweeps, plots, TensorBoard), the library
//! API, policies and their Python reader. One test binary (each links the whole crate,
//! wgpu and naga included); `cargo test --test app`.
//!
//! `tests/export.rs` stays a binary of its own: CI runs it again with the MuJoCo tasks
//! (`--features mujoco --test export`).

#[path = "../common/mod.rs"]
mod common;

mod app;
mod bad_input;
mod checkpoint_size;
mod cli;
mod crash;
mod library;
mod non_finite;
mod plot;
mod policy;
mod python_policy;
mod run_faults;
mod sweep;
mod tensorboard;
