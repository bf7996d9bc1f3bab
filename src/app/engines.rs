//! Every evaluator is built here, from a config: the CPU bitset engine, the GPU engine
//! in the configured mode, and under several MPI processes the distributed wrapper
//! around either. One GPU device serves all the evaluators of a process (and rayon's
//! global pool all the CPU ones), so several runs in one process share them.

#[cfg(feature = "gpu")]
use std::sync::OnceLock;

use super::error::TrainError;
use super::world::World;
use crate::config::{Backend, Config};
use crate::cpu::CpuEvaluator;
use crate::evaluation::{EngineError, PopulationEvaluator};
#[cfg(feature = "gpu")]
use crate::gpu::GpuContext;
use crate::tasks::TaskSpec;

/// Builds the evaluators of one process; shared by reference between the threads of
/// a sweep (`Sync`), each building its own evaluators.
pub struct Engines<'w> {
    world: &'w World,
    /// The process's GPU device, opened on first use (`None` inside: no adapter).
    #[cfg(feature = "gpu")]
    gpu: OnceLock<Option<GpuContext>>,
}

impl<'w> Engines<'w> {
    /// The engines of a process in `world`.
    pub fn new(world: &'w World) -> Self {
        Engines {
            world,
            #[cfg(feature = "gpu")]
            gpu: OnceLock::new(),
        }
    }

    /// The process's world.
    pub fn world(&self) -> &World {
        self.world
    }

    /// The evaluator of a training run: with several processes, each evaluates its
    /// share of the members and all of them gather the whole generation.
    pub fn run_evaluator(
        &self,
        cfg: &Config,
        task: &TaskSpec,
    ) -> Result<Box<dyn PopulationEvaluator>, TrainError> {
        #[cfg(feature = "distributed")]
        if self.world.size() > 1 {
            if cfg.backend != Backend::Cpu {
                // Before the device is opened: ranks sharing a node take different GPUs.
                self.world.assign_gpu_adapter();
            }
            let inner = self.evaluator(cfg, task)?;
            let obs_dim = inner.obs_dim();
            return Ok(Box::new(crate::distributed::DistributedEvaluator::new(
                inner, self.world, obs_dim,
            )));
        }
        self.evaluator(cfg, task)
    }

    /// The evaluator the config's `backend` asks for, in this process alone, for the
    /// config's resolved task.
    pub fn evaluator(
        &self,
        cfg: &Config,
        task: &TaskSpec,
    ) -> Result<Box<dyn PopulationEvaluator>, TrainError> {
        let cpu = || -> Result<Box<dyn PopulationEvaluator>, TrainError> {
            Ok(Box::new(CpuEvaluator::for_task(
                &cfg.network,
                task,
                cfg.evaluation.stepping,
            )?))
        };
        match cfg.backend {
            Backend::Cpu => cpu(),
            Backend::Gpu => self.gpu_evaluator(cfg, task, false)?.ok_or_else(|| {
                EngineError::Gpu(
                    "backend = \"gpu\" but no GPU adapter was found (see `satr info`); use backend = \"cpu\" or \"auto\"".into(),
                )
                .into()
            }),
            Backend::Auto => match self.gpu_evaluator(cfg, task, true)? {
                Some(ev) => {
                    tracing::info!(device = %ev.describe(), "backend auto: using the GPU");
                    Ok(ev)
                }
                None if cfg!(feature = "gpu") => {
                    tracing::warn!(
                        "backend auto: no hardware GPU adapter found, using the CPU bitset engine"
                    );
                    cpu()
                }
                // A build without the GPU backend (the Python wheel, for now) has
                // nothing to look for: the CPU is the only engine, not a fallback.
                None => cpu(),
            },
        }
    }

    /// The process's GPU device, or `None` when there is no adapter.
    #[cfg(feature = "gpu")]
    pub fn gpu_context(&self) -> Result<Option<&GpuContext>, EngineError> {
        if let Some(ctx) = self.gpu.get() {
            return Ok(ctx.as_ref());
        }
        // Threads of a sweep asking at once open one device, not one each.
        static OPENING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _opening = OPENING.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(ctx) = self.gpu.get() {
            return Ok(ctx.as_ref());
        }
        let ctx = GpuContext::new()?;
        Ok(self.gpu.get_or_init(|| ctx).as_ref())
    }

    /// The GPU evaluator, or `None` when there is no adapter (or, with
    /// `hardware_only`, no adapter that is not a software rasteriser).
    #[cfg(feature = "gpu")]
    fn gpu_evaluator(
        &self,
        cfg: &Config,
        task: &TaskSpec,
        hardware_only: bool,
    ) -> Result<Option<Box<dyn PopulationEvaluator>>, TrainError> {
        use crate::config::GpuMode;
        use crate::gpu::{list_adapters, GpuEvaluator, GpuOptions};
        if hardware_only
            && self.gpu.get().is_none()
            && !list_adapters().iter().any(|a| a.device_type != "Cpu")
        {
            return Ok(None);
        }
        let Some(ctx) = self.gpu_context()? else {
            return Ok(None);
        };
        if hardware_only && ctx.adapter_info.device_type == wgpu::DeviceType::Cpu {
            return Ok(None);
        }
        let opts = GpuOptions {
            device_memory: device_memory(ctx),
            ..Default::default()
        };
        let ev = if task.wgsl().is_some() && cfg.gpu.mode == GpuMode::Generation {
            GpuEvaluator::full_generation(ctx, &cfg.network, task, opts)?
        } else {
            GpuEvaluator::for_task(ctx, &cfg.network, task, opts)?
        };
        Ok(Some(Box::new(ev)))
    }

    #[cfg(not(feature = "gpu"))]
    fn gpu_evaluator(
        &self,
        _cfg: &Config,
        _task: &TaskSpec,
        _hardware_only: bool,
    ) -> Result<Option<Box<dyn PopulationEvaluator>>, TrainError> {
        Ok(None)
    }
}

/// Overrides the device memory satr plans against, in bytes (wgpu does not report it).
pub const DEVICE_MEMORY_ENV: &str = "SATR_DEVICE_MEMORY";

/// The device's memory where it can be known: [`DEVICE_MEMORY_ENV`], or for a CPU
/// adapter (lavapipe) the host memory available; `None` for a discrete GPU without the
/// variable (chunks are then bounded by the buffer limits alone).
#[cfg(feature = "gpu")]
pub fn device_memory(ctx: &GpuContext) -> Option<u64> {
    if let Some(v) = super::memory::bytes_from_env(DEVICE_MEMORY_ENV) {
        return Some(v);
    }
    (ctx.adapter_info.device_type == wgpu::DeviceType::Cpu)
        .then(super::memory::available)
        .flatten()
}
