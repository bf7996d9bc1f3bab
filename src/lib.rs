//! `satr`: train binary recurrent spiking neural network (RSNN) policies with
//! Signal-Adaptive Trust Regions (SATR), on a CPU bitset path and a GPU (WGSL) path.
//!
//! The reference semantics live in `SPEC.md` (copied into `docs/`); every backend
//! computes exactly what it describes.

pub mod optimizer;
pub mod tasks;
pub mod config;
