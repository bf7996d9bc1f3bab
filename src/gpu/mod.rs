//! The wgpu backend: WGSL compute kernels that simulate whole populations.
pub mod tasks;
