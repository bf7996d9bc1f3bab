//! The engine without the command line: the CPU twins of the kernels, the network
//! against its plain reference, sampling, the update rules, the lockstep path and the
//! built-in tasks against Gymnasium. One test binary (each links the whole crate, wgpu
//! and naga included); `cargo test --test engine`.

#[path = "../common/mod.rs"]
mod common;

mod cpu_twins;
mod lockstep;
mod network_reference;
mod optimizer;
mod sampling;
mod strategy;
mod tasks;
