//! Pipelines, buffers and dispatches of the WGSL kernels, with debug read-backs for
//! the tests that compare every substep with the CPU engine.

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::plan::{
    flat_header, grid, NetOptions, NetParams, NetPlan, ReduceParams, SampleParams, UnpackParams,
    FLAT_WORKGROUP,
};
use super::shaders::{compose, validate, Kernel};
use crate::evaluation::EngineError;
use crate::network::{Constants, Shape};

fn gpu_err(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Gpu(format!("{what}: {e}"))
}

/// Compiles `kernel` under `header` into a pipeline. The source is validated by naga
/// first, and pipeline creation runs in a validation error scope so a rejected shader
/// is an error, not a panic.
pub fn create_pipeline(
    device: &wgpu::Device,
    header: &str,
    kernel: Kernel,
) -> Result<wgpu::ComputePipeline, EngineError> {
    let source = compose(header, kernel);
    validate(&source, kernel.file())?;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(kernel.file()),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(kernel.file()),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(gpu_err(kernel.file(), e));
    }
    Ok(pipeline)
}

/// A storage buffer of at least `bytes` bytes (never empty: wgpu rejects zero-size
/// bindings), readable back and writable from the host.
pub fn storage_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

fn uniform_buffer<T: bytemuck::Pod>(device: &wgpu::Device, label: &str, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

fn bind_group(
    device: &wgpu::Device,
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// Records and submits one dispatch of `groups` workgroups (a 2-D grid of `grid_x`
/// columns). Each dispatch is its own submission so the uniform written just before it
/// is the one it reads.
fn dispatch(
    ctx: (&wgpu::Device, &wgpu::Queue),
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    (x, y): (u32, u32),
) {
    let (device, queue) = ctx;
    let mut enc =
        device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        if x > 0 && y > 0 {
            pass.dispatch_workgroups(x, y, 1);
        }
    }
    queue.submit(Some(enc.finish()));
}

/// Waits until the queue is idle.
pub fn wait_idle(device: &wgpu::Device) -> Result<(), EngineError> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| gpu_err("poll", e))
}

/// Copies `bytes` bytes at `offset` of `src` back to the host through `staging`
/// (MAP_READ, at least `bytes` long), waiting for the queue.
fn read_with(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    src: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
    staging: &wgpu::Buffer,
) -> Result<Vec<u8>, EngineError> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("satr read-back"),
    });
    enc.copy_buffer_to_buffer(src, offset, staging, 0, bytes);
    queue.submit(Some(enc.finish()));
    let slice = staging.slice(..bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    wait_idle(device)?;
    rx.recv()
        .map_err(|e| gpu_err("map_async", e))?
        .map_err(|e| gpu_err("map_async", e))?;
    let data = slice
        .get_mapped_range()
        .map_err(|e| gpu_err("get_mapped_range", e))?
        .to_vec();
    staging.unmap();
    Ok(data)
}

fn staging_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Reads `words` u32 words of a storage buffer (debug and test path).
pub fn read_words(
    ctx: &GpuContext,
    src: &wgpu::Buffer,
    offset_words: u64,
    words: u64,
) -> Result<Vec<u32>, EngineError> {
    let staging = staging_buffer(&ctx.device, "satr debug staging", 4 * words);
    let bytes = read_with(
        &ctx.device,
        &ctx.queue,
        src,
        4 * offset_words,
        4 * words,
        &staging,
    )?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Genome sampling on the device (twin of `distribution::sample_genome`).
pub struct GenomeSampler {
    ctx: GpuContext,
    pipeline: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    thresholds: wgpu::Buffer,
    mode: wgpu::Buffer,
    dim: usize,
    words: usize,
}

impl GenomeSampler {
    /// A sampler for genomes of `dim` bits.
    pub fn new(ctx: &GpuContext, dim: usize) -> Result<Self, EngineError> {
        let words = super::plan::genome_words(dim);
        let binding = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if 4 * dim as u64 > binding {
            return Err(EngineError::TooLarge(format!(
                "thresholds of {dim} coordinates exceed max_storage_buffer_binding_size ({binding})"
            )));
        }
        Ok(GenomeSampler {
            pipeline: create_pipeline(&ctx.device, &flat_header(), Kernel::SampleGenomes)?,
            params: uniform_buffer(
                &ctx.device,
                "satr sample params",
                &SampleParams::zeroed_default(),
            ),
            thresholds: storage_buffer(&ctx.device, "satr thresholds", 4 * dim as u64),
            mode: storage_buffer(&ctx.device, "satr mode genome", 4 * words as u64),
            ctx: ctx.clone(),
            dim,
            words,
        })
    }

    /// u32 words per genome.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Uploads this generation's thresholds and mode genome (packed u64, SPEC order).
    pub fn set_distribution(&self, thresholds: &[u32], mode: &[u64]) -> Result<(), EngineError> {
        if thresholds.len() != self.dim || 2 * mode.len() != self.words {
            return Err(EngineError::Gpu(format!(
                "sampler expects {} thresholds and {} mode words, got {} and {}",
                self.dim,
                self.words / 2,
                thresholds.len(),
                mode.len()
            )));
        }
        self.ctx
            .queue
            .write_buffer(&self.thresholds, 0, bytemuck::cast_slice(thresholds));
        self.ctx
            .queue
            .write_buffer(&self.mode, 0, bytemuck::cast_slice(mode));
        Ok(())
    }

    /// Samples global members `member_offset..member_offset + members` of `generation`
    /// into `out` (member-major, [`GenomeSampler::words`] words each). Members at or past
    /// `population` get the mode genome.
    pub fn sample_into(
        &self,
        out: &wgpu::Buffer,
        seed: u64,
        generation: u32,
        population: usize,
        member_offset: usize,
        members: usize,
    ) -> Result<(), EngineError> {
        if (4 * members * self.words) as u64 > out.size() {
            return Err(EngineError::Gpu("genome buffer too small".into()));
        }
        let groups = (members * self.words).div_ceil(FLAT_WORKGROUP as usize);
        let g = grid(groups, self.ctx.limits.max_compute_workgroups_per_dimension)?;
        let p = SampleParams {
            seed_lo: seed as u32,
            seed_hi: (seed >> 32) as u32,
            generation,
            dim: self.dim as u32,
            words: self.words as u32,
            population: population.min(u32::MAX as usize) as u32,
            member_offset: member_offset as u32,
            members: members as u32,
            grid_x: g.0,
            _pad: [0; 3],
        };
        self.ctx
            .queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&p));
        let bg = bind_group(
            &self.ctx.device,
            "satr sample bind group",
            &self.pipeline,
            &[&self.params, &self.thresholds, &self.mode, out],
        );
        dispatch(
            (&self.ctx.device, &self.ctx.queue),
            "satr sample_genomes",
            &self.pipeline,
            &bg,
            g,
        );
        Ok(())
    }
}

impl SampleParams {
    fn zeroed_default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// Device state of one member, read back for tests (CPU layouts: spikes as u64 words).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberState {
    /// Membrane potentials.
    pub v: Vec<f32>,
    /// Synaptic currents.
    pub i_syn: Vec<f32>,
    /// Output rates.
    pub rate: Vec<f32>,
    /// Input currents of the last env step.
    pub i_in: Vec<f32>,
    /// Signed synaptic counts of the last substep.
    pub counts: Vec<i32>,
    /// Excitatory spikes of the last substep, packed as in `cpu::NetState::z_exc`.
    pub z_exc: Vec<u64>,
    /// Inhibitory spikes, packed as in `cpu::NetState::z_inh`.
    pub z_inh: Vec<u64>,
}

/// Packs u32 spike words into u64 words (little-endian pairs).
fn to_u64_words(words: &[u32], out_len: usize) -> Vec<u64> {
    (0..out_len)
        .map(|i| {
            let lo = words.get(2 * i).copied().unwrap_or(0) as u64;
            let hi = words.get(2 * i + 1).copied().unwrap_or(0) as u64;
            lo | (hi << 32)
        })
        .collect()
}

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
        let unpack = create_pipeline(d, &header, Kernel::UnpackNet)?;
        let reset = create_pipeline(d, &header, Kernel::ResetState)?;
        let step = create_pipeline(d, &header, Kernel::RsnnStep)?;
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
                _pad: 0,
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

    /// The genome buffer (member-major u32 words), for [`GenomeSampler::sample_into`].
    pub fn genome_buffer(&self) -> &wgpu::Buffer {
        &self.genomes
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

    /// Repacks the first `members` genomes into the network layouts.
    pub fn unpack(&self, members: usize) -> Result<(), EngineError> {
        self.check(members)?;
        let groups = (members * self.plan.net_words as usize).div_ceil(FLAT_WORKGROUP as usize);
        let g = grid(groups, self.ctx.limits.max_compute_workgroups_per_dimension)?;
        let p = UnpackParams {
            members: members as u32,
            genome_words: self.plan.genome_words,
            grid_x: g.0,
            _pad: 0,
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

    /// Reads the state of the first `members` members (debug and test path).
    pub fn read_state(&self, members: usize) -> Result<Vec<MemberState>, EngineError> {
        self.check(members)?;
        let sw = self.plan.state_words as usize;
        let words = read_words(&self.ctx, &self.state, 0, (members * sw) as u64)?;
        let s = &self.plan.shape;
        let n = s.neurons;
        let f = |w: &[u32]| -> Vec<f32> { w.iter().map(|&x| f32::from_bits(x)).collect() };
        Ok(words
            .chunks(sw)
            .map(|m| {
                let z = &m[5 * n..];
                let we = self.plan.we as usize;
                MemberState {
                    v: f(&m[..n]),
                    i_syn: f(&m[n..2 * n]),
                    rate: f(&m[2 * n..3 * n]),
                    i_in: f(&m[3 * n..4 * n]),
                    counts: m[4 * n..5 * n].iter().map(|&x| x as i32).collect(),
                    z_exc: to_u64_words(&z[..we], s.n_exc.div_ceil(64)),
                    z_inh: to_u64_words(&z[we..], s.n_inh().div_ceil(64)),
                }
            })
            .collect())
    }

    /// Spike words of every substep of the last traced step: for each member and
    /// substep, `(z_exc, z_inh)` packed as the CPU packs them.
    #[allow(clippy::type_complexity)]
    pub fn read_trace(
        &self,
        members: usize,
    ) -> Result<Vec<Vec<(Vec<u64>, Vec<u64>)>>, EngineError> {
        self.check(members)?;
        if !self.tracing {
            return Err(EngineError::Gpu(
                "network was created without a trace buffer".into(),
            ));
        }
        let s = &self.plan.shape;
        let zw = self.plan.zw() as usize;
        let we = self.plan.we as usize;
        let words = read_words(
            &self.ctx,
            &self.trace,
            0,
            (members * s.substeps * zw) as u64,
        )?;
        Ok(words
            .chunks(s.substeps * zw)
            .map(|m| {
                m.chunks(zw)
                    .map(|z| {
                        (
                            to_u64_words(&z[..we], s.n_exc.div_ceil(64)),
                            to_u64_words(&z[we..], s.n_inh().div_ceil(64)),
                        )
                    })
                    .collect()
            })
            .collect())
    }

    /// Reads the packed nets (debug path).
    pub fn read_nets(&self, members: usize) -> Result<Vec<u32>, EngineError> {
        self.check(members)?;
        read_words(
            &self.ctx,
            &self.nets,
            0,
            (members * self.plan.net_words as usize) as u64,
        )
    }
}

/// `A` and `B` of SPEC 4 in 64-bit fixed point on the device (see `reductions.wgsl`).
pub struct Reducer {
    ctx: GpuContext,
    pipeline: wgpu::ComputePipeline,
    params: wgpu::Buffer,
    utilities: wgpu::Buffer,
    sums: wgpu::Buffer,
    dim: usize,
    words: usize,
    capacity: usize,
    scale: f64,
}

impl Reducer {
    /// Accumulators for genomes of `dim` bits; chunks of up to `capacity` members.
    pub fn new(ctx: &GpuContext, dim: usize, capacity: usize) -> Result<Self, EngineError> {
        let binding = ctx
            .limits
            .max_storage_buffer_binding_size
            .min(ctx.limits.max_buffer_size);
        if 16 * dim as u64 > binding {
            return Err(EngineError::TooLarge(format!(
                "reduction accumulators for {dim} coordinates exceed \
                 max_storage_buffer_binding_size ({binding})"
            )));
        }
        let capacity = capacity.max(1);
        Ok(Reducer {
            pipeline: create_pipeline(&ctx.device, &flat_header(), Kernel::Reductions)?,
            params: uniform_buffer(
                &ctx.device,
                "satr reduce params",
                &ReduceParams {
                    dim: 0,
                    words: 0,
                    members: 0,
                    grid_x: 0,
                },
            ),
            utilities: storage_buffer(&ctx.device, "satr utilities", 16 * capacity as u64),
            sums: storage_buffer(&ctx.device, "satr reduction sums", 16 * dim as u64),
            ctx: ctx.clone(),
            dim,
            words: super::plan::genome_words(dim),
            capacity,
            scale: 1.0,
        })
    }

    /// Members per [`Reducer::add`].
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Zeroes the accumulators and fixes the fixed-point scale for `utilities` (all
    /// train members): `2^S` with `S` as large as keeps every partial sum of `|u|` and
    /// `u^2` below `2^62`.
    pub fn begin(&mut self, utilities: &[f64]) -> Result<(), EngineError> {
        if utilities.iter().any(|u| !u.is_finite()) {
            return Err(EngineError::Gpu("non-finite utility".into()));
        }
        let m = utilities
            .iter()
            .map(|u| u.abs())
            .sum::<f64>()
            .max(utilities.iter().map(|u| u * u).sum::<f64>());
        let s = if m > 0.0 {
            (61.0 - m.log2().ceil()).clamp(-60.0, 60.0)
        } else {
            0.0
        };
        self.scale = 2f64.powi(s as i32);
        let mut enc = self
            .ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("satr reduction clear"),
            });
        enc.clear_buffer(&self.sums, 0, None);
        self.ctx.queue.submit(Some(enc.finish()));
        Ok(())
    }

    /// Adds `members` genomes of `genomes` (member-major) with their utilities.
    pub fn add(&self, genomes: &wgpu::Buffer, utilities: &[f64]) -> Result<(), EngineError> {
        let members = utilities.len();
        if members > self.capacity {
            return Err(EngineError::Gpu("reduction chunk over capacity".into()));
        }
        let fixed: Vec<u32> = utilities
            .iter()
            .flat_map(|&u| {
                let a = (u * self.scale).round() as i64 as u64;
                let b = (u * u * self.scale).round() as i64 as u64;
                [a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32]
            })
            .collect();
        if !fixed.is_empty() {
            self.ctx
                .queue
                .write_buffer(&self.utilities, 0, bytemuck::cast_slice(&fixed));
        }
        let g = grid(
            self.dim.div_ceil(FLAT_WORKGROUP as usize),
            self.ctx.limits.max_compute_workgroups_per_dimension,
        )?;
        let p = ReduceParams {
            dim: self.dim as u32,
            words: self.words as u32,
            members: members as u32,
            grid_x: g.0,
        };
        self.ctx
            .queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&p));
        let bg = bind_group(
            &self.ctx.device,
            "satr reduce bind group",
            &self.pipeline,
            &[&self.params, genomes, &self.utilities, &self.sums],
        );
        dispatch(
            (&self.ctx.device, &self.ctx.queue),
            "satr reductions",
            &self.pipeline,
            &bg,
            g,
        );
        Ok(())
    }

    /// Reads `A` and `B` back as f64.
    pub fn finish(&self) -> Result<(Vec<f64>, Vec<f64>), EngineError> {
        let w = read_words(&self.ctx, &self.sums, 0, 4 * self.dim as u64)?;
        let mut a = Vec::with_capacity(self.dim);
        let mut b = Vec::with_capacity(self.dim);
        for q in w.chunks(4) {
            let ai = (q[0] as u64 | (q[1] as u64) << 32) as i64;
            let bi = (q[2] as u64 | (q[3] as u64) << 32) as i64;
            a.push(ai as f64 / self.scale);
            b.push(bi as f64 / self.scale);
        }
        Ok((a, b))
    }
}
