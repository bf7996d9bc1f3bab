//! [`GpuEvaluator`]: the GPU backend of [`PopulationEvaluator`] in host-task mode.
//! The device runs the network of every member; the tasks run on CPU threads. Per env
//! step the host uploads the normalised observations of all members, dispatches one
//! step and reads the outputs back; members whose episode ended are masked.
//!
//! With [`GpuOptions::task_wgsl`] set, the evaluator runs in full-generation mode
//! instead: each chunk's episodes run entirely on the device (`episodes.wgsl`), the
//! task in f32 WGSL. The network is still exact; the task and the normaliser are f32,
//! so returns equal the CPU's only where the task's f32 and f64 trajectories agree.

use super::context::GpuContext;
use super::episodes::EpisodeKernel;
use super::memory_plan::{self, Workload};
use super::network::GpuNetwork;
use super::plan::{NetOptions, NetPlan};
use super::reductions::Reducer;
use super::sample_genomes::GenomeSampler;
use crate::distribution;
use crate::distribution::Reductions;
use crate::evaluation::{
    EngineError, GenerationRequest, Lockstep, LockstepNet, MemberOutcome, PopulationEvaluator,
    TaskFactory,
};
use crate::network::{Constants, NetworkConfig, Shape};
use crate::tasks::{TaskBatch, TaskSpec, VectorTask};

/// Construction options of [`GpuEvaluator`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GpuOptions {
    /// The task's WGSL (`shaders/task_<name>.wgsl`, e.g. from `gpu::tasks::task_wgsl`):
    /// when set, whole episodes run on the device (full-generation mode).
    pub task_wgsl: Option<&'static str>,
    /// Members per chunk; `None` takes the most the adapter's limits allow. Populations
    /// larger than a chunk are processed chunk by chunk, with identical results.
    pub max_chunk: Option<usize>,
    /// Network kernel knobs.
    pub net: NetOptions,
    /// The device's memory in bytes where known: chunks are sized to fit it.
    pub device_memory: Option<u64>,
}

/// Where host-task mode's tasks come from.
enum HostTasks {
    /// One single-member instance per slot (adapted by [`TaskBatch`]).
    Factory(TaskFactory),
    /// A resolved task, batched if it brings its own batched constructor.
    Spec(Box<TaskSpec>),
}

/// The GPU backend (host-task mode). Per-member fitness equals the CPU evaluator's when
/// the device computes the network exactly (see `tests/gpu/gpu_network.rs`).
pub struct GpuEvaluator {
    ctx: GpuContext,
    shape: Shape,
    tasks: HostTasks,
    chunk: usize,
    net: GpuNetwork,
    sampler: GenomeSampler,
    reducer: Reducer,
    /// The members' episodes on the host in lockstep (host-task mode), built on first
    /// use with a chunk's slots.
    hosts: Option<Lockstep>,
    plan: NetPlan,
    task_wgsl: Option<&'static str>,
    episodes: Option<EpisodeKernel>,
}

impl GpuEvaluator {
    /// A GPU evaluator with default options.
    pub fn new(
        ctx: &GpuContext,
        cfg: &NetworkConfig,
        factory: TaskFactory,
    ) -> Result<Self, EngineError> {
        Self::with_options(ctx, cfg, factory, GpuOptions::default())
    }

    /// A GPU evaluator; shapes that can never fit the device are refused here with
    /// [`EngineError::TooLarge`], before any allocation.
    pub fn with_options(
        ctx: &GpuContext,
        cfg: &NetworkConfig,
        factory: TaskFactory,
        opts: GpuOptions,
    ) -> Result<Self, EngineError> {
        let task = factory();
        let shape = Shape::new(cfg, task.obs_dim(), task.action_space().outputs());
        Self::build(ctx, cfg, shape, HostTasks::Factory(factory), opts)
    }

    /// A GPU evaluator for a resolved task: host-task mode steps it in lockstep
    /// through its own batched constructor when it has one.
    pub fn for_task(
        ctx: &GpuContext,
        cfg: &NetworkConfig,
        task: &TaskSpec,
        opts: GpuOptions,
    ) -> Result<Self, EngineError> {
        task.check()?;
        let shape = Shape::new(cfg, task.obs_dim(), task.action().outputs());
        Self::build(
            ctx,
            cfg,
            shape,
            HostTasks::Spec(Box::new(task.clone())),
            opts,
        )
    }

    fn build(
        ctx: &GpuContext,
        cfg: &NetworkConfig,
        shape: Shape,
        tasks: HostTasks,
        opts: GpuOptions,
    ) -> Result<Self, EngineError> {
        cfg.validate()?;
        let opts = GpuOptions {
            net: NetOptions {
                quirks: Some(opts.net.quirks.unwrap_or_else(|| ctx.quirks())),
                ..opts.net
            },
            ..opts
        };
        let plan = NetPlan::new(&shape, &ctx.limits, &opts.net)?;
        let work = Workload {
            members: usize::MAX,
            episodes_per_member: 1,
            max_episode_steps: 1,
            generation_mode: opts.task_wgsl.is_some(),
        };
        let chunk = memory_plan::plan(&shape, &ctx.limits, &opts.net, &work, opts.device_memory)?
            .chunk
            .min(opts.max_chunk.unwrap_or(usize::MAX))
            .max(1);
        // Buffers start small and grow to the chunk size on first use.
        let net = GpuNetwork::new(
            ctx,
            &shape,
            Constants::new(cfg, &shape),
            1,
            &opts.net,
            false,
        )?;
        let dim = shape.layout().len();
        if let Some(src) = opts.task_wgsl {
            // Compile once now so a task/shape mismatch fails at construction.
            EpisodeKernel::new(ctx, &plan, src, 1)?;
        }
        Ok(GpuEvaluator {
            sampler: GenomeSampler::new(ctx, dim)?,
            reducer: Reducer::new(ctx, dim, 1)?,
            ctx: ctx.clone(),
            shape,
            tasks,
            chunk,
            net,
            hosts: None,
            plan,
            task_wgsl: opts.task_wgsl,
            episodes: None,
        })
    }

    /// Full-generation mode for a task with a WGSL port (its spec gives the WGSL and
    /// the f64 task that fixes the shape).
    pub fn full_generation(
        ctx: &GpuContext,
        cfg: &NetworkConfig,
        task: &TaskSpec,
        opts: GpuOptions,
    ) -> Result<Self, EngineError> {
        let wgsl = task
            .wgsl()
            .ok_or_else(|| EngineError::Gpu(format!("no WGSL port of task `{}`", task.name())))?;
        let opts = GpuOptions {
            task_wgsl: Some(wgsl),
            ..opts
        };
        Self::for_task(ctx, cfg, task, opts)
    }

    /// The network shape for the task.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Members per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    fn ensure_capacity(
        &mut self,
        members: usize,
        cfg_constants: Constants,
        opts: NetOptions,
    ) -> Result<(), EngineError> {
        if self.net.capacity() < members {
            self.net =
                GpuNetwork::new(&self.ctx, &self.shape, cfg_constants, members, &opts, false)?;
        }
        // Full-generation mode steps the tasks on the device: no host tasks needed.
        let short = self.hosts.as_ref().is_none_or(|h| h.slots() < members);
        if self.task_wgsl.is_none() && short {
            let tasks = match &self.tasks {
                HostTasks::Factory(f) => {
                    Box::new(TaskBatch::new(members, &|| Ok(f()))?) as Box<dyn VectorTask>
                }
                HostTasks::Spec(spec) => spec.make_vector(members)?,
            };
            self.hosts = Some(Lockstep::new(tasks));
        }
        Ok(())
    }

    /// Runs the members `offset..offset + members` (global indices) to the end of all
    /// their episodes in lockstep: the device steps every live member's network, then
    /// one batched task call steps their environments.
    fn run_chunk(
        &mut self,
        req: &GenerationRequest<'_>,
        offset: usize,
        members: usize,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        self.sampler.sample_into(
            self.net.genome_buffer(),
            req.seed,
            req.generation,
            req.population,
            offset,
            members,
        )?;
        self.net.unpack(members)?;
        let hosts = self
            .hosts
            .as_mut()
            .expect("ensure_capacity built the host tasks");
        let mut nets = DeviceNets {
            net: &self.net,
            seed: req.seed,
            generation: req.generation,
            offset,
            members,
            active: vec![0; members],
        };
        hosts.run(req, offset, members, &mut nets)
    }
}

/// A chunk's networks on the device, as the lockstep driver steps them.
struct DeviceNets<'a> {
    net: &'a GpuNetwork,
    seed: u64,
    generation: u32,
    offset: usize,
    members: usize,
    active: Vec<u32>,
}

impl LockstepNet for DeviceNets<'_> {
    fn begin_episode(&mut self, episode: u32) -> Result<(), EngineError> {
        self.net.reset(
            self.seed,
            self.generation,
            self.offset,
            self.members,
            episode,
        )
    }

    fn step(&mut self, x: &[f32], active: &[bool], out: &mut [f32]) -> Result<(), EngineError> {
        for (a, &on) in self.active.iter_mut().zip(active) {
            *a = on as u32;
        }
        self.net.step(x, Some(&self.active), self.members, false)?;
        let outputs = self.net.read_outputs(self.members)?;
        out.copy_from_slice(&outputs[..out.len()]);
        Ok(())
    }
}

impl PopulationEvaluator for GpuEvaluator {
    fn describe(&self) -> String {
        format!(
            "gpu ({}, {}, chunk {})",
            super::context::GpuContext::describe(&self.ctx),
            if self.task_wgsl.is_some() {
                "tasks on device"
            } else {
                "host tasks"
            },
            self.chunk
        )
    }

    fn obs_dim(&self) -> usize {
        self.shape.obs_dim
    }

    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        let out = self
            .run_members(req, members)
            .map_err(|e| self.ctx.classify(e))?;
        self.ctx.check()?;
        Ok(out)
    }

    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError> {
        let red = self
            .reduce(req, utilities)
            .map_err(|e| self.ctx.classify(e))?;
        self.ctx.check()?;
        Ok(red)
    }

    /// The device reduces every coordinate and the words asked for are kept: sampling
    /// whole genomes on the device costs less than sampling a share of them on the
    /// host, and the fixed-point sums are exact integers, the same bits on any device.
    fn reductions_of_words(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
        words: std::ops::Range<usize>,
    ) -> Result<Reductions, EngineError> {
        Ok(self.reductions(req, utilities)?.of_words(words))
    }
}

impl GpuEvaluator {
    /// The reductions `A`, `B` on the device (64-bit fixed point).
    fn reduce(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError> {
        let dim = self.shape.layout().len();
        let pop = utilities.len();
        if req.thresholds.len() != dim || pop != req.population {
            return Err(EngineError::Gpu(format!(
                "reductions: {} utilities for a population of {}",
                pop, req.population
            )));
        }
        let mode = distribution::mode_genome(req.p);
        self.sampler.set_distribution(req.thresholds, &mode)?;
        let cap = self.chunk.min(pop).max(1);
        let constants = *self.net_constants();
        let opts = self.net_options();
        self.ensure_capacity(cap, constants, opts)?;
        if self.reducer_capacity() < cap {
            self.reducer = Reducer::new(&self.ctx, dim, cap)?;
        }
        self.reducer.begin(utilities)?;
        let mut offset = 0;
        while offset < pop {
            let members = cap.min(pop - offset);
            self.sampler.sample_into(
                self.net.genome_buffer(),
                req.seed,
                req.generation,
                req.population,
                offset,
                members,
            )?;
            self.reducer.add(
                self.net.genome_buffer(),
                &utilities[offset..offset + members],
            )?;
            offset += members;
        }
        let (a, b) = self.reducer.finish()?;
        Ok(Reductions {
            a,
            b,
            u1: utilities.iter().sum(),
            u2: utilities.iter().map(|u| u * u).sum(),
            population: pop,
        })
    }

    /// The outcomes of global members `range` (train `0..P`, eval `P..P+E`), in order,
    /// chunk by chunk.
    fn run_members(
        &mut self,
        req: &GenerationRequest<'_>,
        range: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        let dim = self.shape.layout().len();
        if req.thresholds.len() != dim || req.p.len() != dim {
            return Err(EngineError::Gpu(format!(
                "request has {} thresholds and {} probabilities for a genome of {dim} bits",
                req.thresholds.len(),
                req.p.len()
            )));
        }
        let total = req.population + req.eval_members;
        if range.start > range.end || range.end > total {
            return Err(EngineError::Gpu(format!(
                "members {range:?} outside 0..{total}"
            )));
        }
        let mode = distribution::mode_genome(req.p);
        self.sampler.set_distribution(req.thresholds, &mode)?;
        let cap = self.chunk.min(range.len()).max(1);
        let constants = *self.net_constants();
        let opts = self.net_options();
        self.ensure_capacity(cap, constants, opts)?;
        if let Some(src) = self.task_wgsl {
            if self.episodes.as_ref().is_none_or(|k| k.capacity() < cap) {
                self.episodes = Some(EpisodeKernel::new(&self.ctx, &self.plan, src, cap)?);
            }
        }
        let episodes = req.episodes_per_member.max(1) as f64;
        let mut out = Vec::with_capacity(range.len());
        let mut offset = range.start;
        while offset < range.end {
            let members = cap.min(range.end - offset);
            if let Some(kernel) = &self.episodes {
                self.sampler.sample_into(
                    self.net.genome_buffer(),
                    req.seed,
                    req.generation,
                    req.population,
                    offset,
                    members,
                )?;
                self.net.unpack(members)?;
                let results = kernel.run(
                    &self.net,
                    req.normalizer,
                    req.seed,
                    req.generation,
                    offset,
                    members,
                    req.episodes_per_member,
                    req.max_episode_steps,
                )?;
                out.extend(results.into_iter().map(|r| MemberOutcome {
                    fitness: r.total_return / episodes,
                    env_steps: r.steps,
                    obs_stats: r.stats,
                }));
            } else {
                out.extend(self.run_chunk(req, offset, members)?);
            }
            offset += members;
        }
        Ok(out)
    }

    fn net_constants(&self) -> &Constants {
        self.net.constants()
    }

    fn net_options(&self) -> NetOptions {
        self.net.options()
    }

    fn reducer_capacity(&self) -> usize {
        self.reducer.capacity()
    }
}
