//! `satr`: train binary recurrent spiking neural network (RSNN) policies with
//! Signal-Adaptive Trust Regions (SATR), on a CPU bitset path and a GPU (WGSL) path.
//!
//! The reference semantics are in `docs/SPEC.md`; every backend computes exactly what
//! it describes. Decisions the SPEC leaves open are in `docs/DECISIONS.md`.

pub mod app;
pub mod atomic_write;
pub mod byte_size;
pub mod checkpoint;
pub mod config;
pub mod cpu;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod distribution;
pub mod evaluation;
pub mod fault_injection;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod network;
pub mod optimizer;
pub mod policy;
pub mod rng;
pub mod tasks;
