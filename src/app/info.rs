//! `satr info`: the build, the CPU, the registered tasks and the GPU adapters.

use serde::Serialize;

use super::world::World;
use crate::tasks::registry::{self, ActionKind};

/// One task as `satr info` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub name: String,
    pub gymnasium: String,
    pub obs_dim: usize,
    /// `discrete` or `continuous`.
    pub action: &'static str,
    pub act_dim: usize,
    pub max_episode_steps: usize,
    /// Whether full-generation GPU mode can run it (it has a WGSL port).
    pub gpu_episodes: bool,
}

/// What `satr info --json` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    pub version: &'static str,
    pub threads: usize,
    pub cpu_fast_path: bool,
    /// Names of the tasks this build runs.
    pub tasks: Vec<String>,
    pub task_details: Vec<TaskReport>,
    #[cfg(feature = "gpu")]
    pub gpu_adapters: Vec<crate::gpu::AdapterReport>,
    #[cfg(not(feature = "gpu"))]
    pub gpu_adapters: Vec<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub world_size: Option<usize>,
}

/// Gathers the report.
pub fn info(world: &World) -> Info {
    let task_details: Vec<TaskReport> = registry::available()
        .iter()
        .map(|t| TaskReport {
            name: t.name().to_string(),
            gymnasium: t.description().to_string(),
            obs_dim: t.obs_dim(),
            action: match t.action() {
                ActionKind::Discrete(_) => "discrete",
                ActionKind::Continuous(_) => "continuous",
            },
            act_dim: t.action().outputs(),
            max_episode_steps: t.max_episode_steps(),
            gpu_episodes: t.wgsl().is_some(),
        })
        .collect();
    Info {
        version: env!("CARGO_PKG_VERSION"),
        threads: rayon::current_num_threads(),
        cpu_fast_path: crate::cpu::fast_path_available(),
        tasks: task_details.iter().map(|t| t.name.clone()).collect(),
        task_details,
        #[cfg(feature = "gpu")]
        gpu_adapters: crate::gpu::list_adapters(),
        #[cfg(not(feature = "gpu"))]
        gpu_adapters: Vec::new(),
        world_size: (world.size() > 1).then_some(world.size()),
    }
}

impl std::fmt::Display for Info {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "satr {}", self.version)?;
        writeln!(
            f,
            "cpu: {} threads, popcnt+avx2 fast path: {}",
            self.threads, self.cpu_fast_path
        )?;
        writeln!(f, "tasks:")?;
        for t in &self.task_details {
            writeln!(
                f,
                "  {:<24} {:<36} obs {:>3}, {} {:>2}, {} steps{}",
                t.name,
                t.gymnasium,
                t.obs_dim,
                t.action,
                t.act_dim,
                t.max_episode_steps,
                if t.gpu_episodes { ", GPU episodes" } else { "" }
            )?;
        }
        if let Some(n) = self.world_size {
            writeln!(f, "mpi: world size {n}")?;
        }
        #[cfg(feature = "gpu")]
        {
            if self.gpu_adapters.is_empty() {
                writeln!(f, "gpu adapters: none found")?;
            }
            for a in &self.gpu_adapters {
                writeln!(
                    f,
                    "gpu adapter {}: {} ({}, {}, {} {}); max storage binding {} MiB, max buffer {} MiB, workgroup storage {} KiB",
                    a.index,
                    a.name,
                    a.backend,
                    a.device_type,
                    a.driver,
                    a.driver_info,
                    a.max_storage_buffer_binding_size >> 20,
                    a.max_buffer_size >> 20,
                    a.max_compute_workgroup_storage_size >> 10,
                )?;
            }
        }
        #[cfg(not(feature = "gpu"))]
        writeln!(f, "gpu adapters: none (built without the `gpu` feature)")?;
        Ok(())
    }
}
