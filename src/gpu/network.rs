//! The driver of the network kernels (`unpack_net.wgsl`, `reset_state.wgsl`,
//! `rsnn_step.wgsl`): one population's nets and state on the device. The debug
//! read-backs the comparison tests use ([`MemberState`]) are in `network/readback.rs`.

mod readback;

pub use readback::MemberState;

use super::context::GpuContext;
use super::device::{
    bind_group, create_pipeline, dispatch, poison, read_with, staging_buffer, storage_buffer,
    uniform_buffer,
};
use super::plan::{grid, NetOptions, NetParams, NetPlan, UnpackParams, FLAT_WORKGROUP};
use super::shaders::{compose, Kernel};
use crate::evaluation::EngineError;
use crate::network::{Constants, Shape};

/// The network of up to `capacity` members on the device: genomes, packed nets,
/// state, observation/output buffers and the three network kernels.
pub struct GpuNetwork {
    ctx: GpuContext,
    /// Sizes and header of the kernels.
    pub plan: NetPlan,
    constants: Constants,
    capacity: usize,
    unpack: wgpu::ComputePipeline,
    reset: wgpu::ComputePipeline,
    step: wgpu::ComputePipeline,
    net_params: wgpu::Buffer,
    unpack_params: wgpu::Buffer,
    genomes: wgpu::Buffer,
    nets: wgpu::Buffer,
    state: wgpu::Buffer,
    obs: wgpu::Buffer,
    active: wgpu::Buffer,
    outputs: wgpu::Buffer,
    trace: wgpu::Buffer,
    out_staging: wgpu::Buffer,
    unpack_bg: wgpu::BindGroup,
    reset_bg: wgpu::BindGroup,
    step_bg: wgpu::BindGroup,
    tracing: bool,
    opts: NetOptions,
}

impl GpuNetwork {
    /// Allocates buffers for `capacity` members of `shape` (refusing with `TooLarge`
    /// before any allocation when they cannot fit the device). With `trace`, every
    /// substep's spike words can be recorded (tests).
    pub fn new(
        ctx: &GpuContext,
        shape: &Shape,
        constants: Constants,
        capacity: usize,
        opts: &NetOptions,
        trace: bool,
    ) -> Result<Self, EngineError> {
        let opts = &NetOptions {
            quirks: Some(opts.quirks.unwrap_or_else(|| ctx.quirks())),
            ..*opts
        };
        let plan = NetPlan::new(shape, &ctx.limits, opts)?;
        // The kernels use the padding's bits as an opaque zero (`rounded` in common.wgsl).
        let constants = Constants {
            _pad0: 0.0,
            _pad1: 0.0,
            ..constants
        };
        let max = plan.max_chunk(&ctx.limits)?;
        if capacity > max {
            return Err(EngineError::TooLarge(format!(
                "{capacity} members exceed the {max} per chunk allowed by \
                 max_storage_buffer_binding_size ({})",
                ctx.limits.max_storage_buffer_binding_size
            )));
        }
        let capacity = capacity.max(1);
        let d = &ctx.device;
        let header = plan.header();
        let kernel = |k: Kernel| create_pipeline(d, k.file(), compose(&header, k));
        let unpack = kernel(Kernel::UnpackNet)?;
        let reset = kernel(Kernel::ResetState)?;
        let step = kernel(Kernel::RsnnStep)?;
        let cap = capacity as u64;
        let [gb, nb, sb, ob, ab] = plan.member_bytes();
        let zw = plan.zw() as u64;
        let trace_bytes = if trace {
            cap * shape.substeps as u64 * zw * 4
        } else {
            4
        };
        if trace_bytes > ctx.limits.max_storage_buffer_binding_size {
            return Err(EngineError::TooLarge(
                "spike trace buffer over max_storage_buffer_binding_size".into(),
            ));
        }
        let net_params = uniform_buffer(
            d,
            "satr net params",
            &NetParams {
                c: constants,
                ..bytemuck::Zeroable::zeroed()
            },
        );
        let unpack_params = uniform_buffer(
            d,
            "satr unpack params",
            &UnpackParams {
                members: 0,
                genome_words: 0,
                grid_x: 0,
                _pad0: 0,
            },
        );
        let genomes = storage_buffer(d, "satr genomes", cap * gb);
        let nets = storage_buffer(d, "satr packed nets", cap * nb);
        let state = storage_buffer(d, "satr network state", cap * sb);
        let obs = storage_buffer(d, "satr observations", cap * ob);
        let active = storage_buffer(d, "satr active flags", cap * 4);
        let outputs = storage_buffer(d, "satr outputs", cap * ab);
        let trace_buf = storage_buffer(d, "satr spike trace", trace_bytes);
        let out_staging = staging_buffer(d, "satr outputs staging", cap * ab);
        let unpack_bg = bind_group(
            d,
            "satr unpack bind group",
            &unpack,
            &[&unpack_params, &genomes, &nets],
        );
        let reset_bg = bind_group(d, "satr reset bind group", &reset, &[&net_params, &state]);
        let step_bg = bind_group(
            d,
            "satr step bind group",
            &step,
            &[
                &net_params,
                &nets,
                &obs,
                &active,
                &state,
                &outputs,
                &trace_buf,
            ],
        );
        Ok(GpuNetwork {
            ctx: ctx.clone(),
            plan,
            constants,
            capacity,
            unpack,
            reset,
            step,
            net_params,
            unpack_params,
            genomes,
            nets,
            state,
            obs,
            active,
            outputs,
            trace: trace_buf,
            out_staging,
            unpack_bg,
            reset_bg,
            step_bg,
            tracing: trace,
            opts: *opts,
        })
    }

    /// Members the buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The dynamics constants the kernels use.
    pub fn constants(&self) -> &Constants {
        &self.constants
    }

    /// The options the network was planned with.
    pub fn options(&self) -> NetOptions {
        self.opts
    }

    /// The packed nets (member-major), for the episode kernel.
    pub fn net_buffer(&self) -> &wgpu::Buffer {
        &self.nets
    }

    /// The genome buffer (member-major u32 words), for
    /// [`super::sample_genomes::GenomeSampler::sample_into`].
    pub fn genome_buffer(&self) -> &wgpu::Buffer {
        &self.genomes
    }

    /// The state (member-major `STATE_WORDS` words), for tests that check the poison.
    pub fn state_buffer(&self) -> &wgpu::Buffer {
        &self.state
    }

    /// The outputs (member-major `A_OUT` f32), for tests that check the poison.
    pub fn output_buffer(&self) -> &wgpu::Buffer {
        &self.outputs
    }

    /// The spike trace (member-major `K_SUB * ZW` words), for tests that check the poison.
    pub fn trace_buffer(&self) -> &wgpu::Buffer {
        &self.trace
    }

    fn check(&self, members: usize) -> Result<(), EngineError> {
        if members > self.capacity {
            return Err(EngineError::Gpu(format!(
                "{members} members over the network's capacity {}",
                self.capacity
            )));
        }
        Ok(())
    }

    fn member_grid(&self, members: usize) -> Result<(u32, u32), EngineError> {
        grid(
            members,
            self.ctx.limits.max_compute_workgroups_per_dimension,
        )
    }

    /// Uploads packed genomes (u64 words in SPEC order, member-major) from the host.
    pub fn upload_genomes(&self, genomes: &[u64], members: usize) -> Result<(), EngineError> {
        self.check(members)?;
        let words = self.plan.genome_words as usize / 2;
        if genomes.len() != words * members {
            return Err(EngineError::Gpu(format!(
                "expected {} genome words, got {}",
                words * members,
                genomes.len()
            )));
        }
        self.ctx
            .queue
            .write_buffer(&self.genomes, 0, bytemuck::cast_slice(genomes));
        Ok(())
    }

    /// Writes [`super::device::POISON`] over the packed nets, the state, the outputs and
    /// the trace, so that a test sees any word the next kernels leave unwritten.
    pub fn poison(&self) {
        for b in [&self.nets, &self.state, &self.outputs, &self.trace] {
            poison(&self.ctx.queue, b);
        }
    }

    /// Repacks the first `members` genomes into the network layouts.
    pub fn unpack(&self, members: usize) -> Result<(), EngineError> {
        self.check(members)?;
        if self.opts.poison {
            poison(&self.ctx.queue, &self.nets);
        }
        let groups = (members * self.plan.net_words as usize).div_ceil(FLAT_WORKGROUP as usize);
        let g = grid(groups, self.ctx.limits.max_compute_workgroups_per_dimension)?;
        let p = UnpackParams {
            members: members as u32,
            genome_words: self.plan.genome_words,
            grid_x: g.0,
            _pad0: 0,
        };
        self.ctx
            .queue
            .write_buffer(&self.unpack_params, 0, bytemuck::bytes_of(&p));
        dispatch(
            (&self.ctx.device, &self.ctx.queue),
            "satr unpack_net",
            &self.unpack,
            &self.unpack_bg,
            g,
        );
        Ok(())
    }

    fn write_params(&self, members: usize, grid_x: u32, p: NetParams) {
        let p = NetParams {
            c: self.constants,
            members: members as u32,
            grid_x,
            ..p
        };
        self.ctx
            .queue
            .write_buffer(&self.net_params, 0, bytemuck::bytes_of(&p));
    }

    /// Episode start for the first `members` members, whose global indices start at
    /// `member_offset` (the member index of the potential stream).
    pub fn reset(
        &self,
        seed: u64,
        generation: u32,
        member_offset: usize,
        members: usize,
        episode: u32,
    ) -> Result<(), EngineError> {
        self.check(members)?;
        let g = self.member_grid(members)?;
        self.write_params(
            members,
            g.0,
            NetParams {
                member_offset: member_offset as u32,
                seed_lo: seed as u32,
                seed_hi: (seed >> 32) as u32,
                generation,
                episode,
                ..bytemuck::Zeroable::zeroed()
            },
        );
        if self.opts.poison {
            poison(&self.ctx.queue, &self.state);
        }
        dispatch(
            (&self.ctx.device, &self.ctx.queue),
            "satr reset_state",
            &self.reset,
            &self.reset_bg,
            g,
        );
        Ok(())
    }

    /// Dispatches one environment step for the first `members` members with normalised
    /// observations `obs` (members x d). `active` (members flags, nonzero = running)
    /// masks members whose episode ended; `None` runs all. Does not wait.
    pub fn step(
        &self,
        obs: &[f32],
        active: Option<&[u32]>,
        members: usize,
        trace: bool,
    ) -> Result<(), EngineError> {
        self.check(members)?;
        let d = self.plan.shape.obs_dim;
        if obs.len() != members * d {
            return Err(EngineError::Gpu(format!(
                "expected {} observations, got {}",
                members * d,
                obs.len()
            )));
        }
        if trace && !self.tracing {
            return Err(EngineError::Gpu(
                "network was created without a trace buffer".into(),
            ));
        }
        let all;
        let active = match active {
            Some(a) if a.len() == members => a,
            Some(a) => {
                return Err(EngineError::Gpu(format!(
                    "expected {members} active flags, got {}",
                    a.len()
                )))
            }
            None => {
                all = vec![1u32; members];
                &all
            }
        };
        let g = self.member_grid(members)?;
        if !obs.is_empty() {
            self.ctx
                .queue
                .write_buffer(&self.obs, 0, bytemuck::cast_slice(obs));
        }
        self.ctx
            .queue
            .write_buffer(&self.active, 0, bytemuck::cast_slice(active));
        self.write_params(
            members,
            g.0,
            NetParams {
                flags: trace as u32,
                ..bytemuck::Zeroable::zeroed()
            },
        );
        if self.opts.poison {
            poison(&self.ctx.queue, &self.outputs);
            if trace {
                poison(&self.ctx.queue, &self.trace);
            }
        }
        dispatch(
            (&self.ctx.device, &self.ctx.queue),
            "satr rsnn_step",
            &self.step,
            &self.step_bg,
            g,
        );
        Ok(())
    }

    /// Reads the outputs of the last step (members x a), waiting for the queue.
    pub fn read_outputs(&self, members: usize) -> Result<Vec<f32>, EngineError> {
        self.check(members)?;
        let bytes = (members * self.plan.shape.act_dim * 4) as u64;
        let data = read_with(
            &self.ctx.device,
            &self.ctx.queue,
            &self.outputs,
            0,
            bytes,
            &self.out_staging,
        )?;
        Ok(bytemuck::pod_collect_to_vec(&data))
    }
}
