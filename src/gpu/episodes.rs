//! Full-generation mode: `episodes.wgsl` runs every episode of every member of a chunk
//! in one dispatch, with the task stepped in WGSL (no host round trip per env step).

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::kernels::{read_words, storage_buffer, GpuNetwork};
use super::plan::{episode_result_words, grid, EpisodeParams, NetParams, NetPlan};
use super::shaders::{compose_episodes, validate};
use crate::evaluation::{EngineError, Normalizer, ObsStats};

/// One member's outcome in full-generation mode.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeResult {
    /// Sum of the returns of all episodes (f32 on the device).
    pub total_return: f64,
    /// Environment steps taken.
    pub steps: u64,
    /// Observations seen (Welford in f32 on the device).
    pub stats: ObsStats,
}

/// The compiled episode kernel for one network plan and one task source.
pub struct EpisodeKernel {
    ctx: GpuContext,
    plan: NetPlan,
    pipeline: wgpu::ComputePipeline,
    net_params: wgpu::Buffer,
    episode_params: wgpu::Buffer,
    norm: wgpu::Buffer,
    results: wgpu::Buffer,
    capacity: usize,
}

impl EpisodeKernel {
    /// Compiles `episodes.wgsl` with `task_source` (a `shaders/task_<name>.wgsl`) for
    /// chunks of up to `capacity` members. The task's `TASK_OBS_DIM`/`TASK_ACT_DIM`
    /// must equal the plan's (a `const_assert` in the shader checks it).
    pub fn new(
        ctx: &GpuContext,
        plan: &NetPlan,
        task_source: &str,
        capacity: usize,
    ) -> Result<Self, EngineError> {
        let source = compose_episodes(&plan.header(), task_source);
        validate(&source, "episodes.wgsl")?;
        let device = &ctx.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("episodes.wgsl"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("episodes.wgsl"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(EngineError::Gpu(format!("episodes.wgsl: {e}")));
        }
        let capacity = capacity.max(1);
        let d = plan.shape.obs_dim;
        let res_bytes = (4 * episode_result_words(d) * capacity) as u64;
        let binding = ctx.limits.max_storage_buffer_binding_size;
        if res_bytes > binding {
            return Err(EngineError::TooLarge(format!(
                "episode results of {capacity} members exceed \
                 max_storage_buffer_binding_size ({binding})"
            )));
        }
        let uniform = |label: &str, bytes: &[u8]| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
        };
        let zero_net: NetParams = bytemuck::Zeroable::zeroed();
        let zero_ep: EpisodeParams = bytemuck::Zeroable::zeroed();
        Ok(EpisodeKernel {
            net_params: uniform("satr episode net params", bytemuck::bytes_of(&zero_net)),
            episode_params: uniform("satr episode params", bytemuck::bytes_of(&zero_ep)),
            norm: storage_buffer(device, "satr normaliser", (8 * d) as u64),
            results: storage_buffer(device, "satr episode results", res_bytes),
            ctx: ctx.clone(),
            plan: *plan,
            pipeline,
            capacity,
        })
    }

    /// Members per run.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Runs all episodes of the first `members` members of `net` (already unpacked),
    /// whose global indices start at `member_offset`, and reads the results back.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        net: &GpuNetwork,
        normalizer: &Normalizer,
        seed: u64,
        generation: u32,
        member_offset: usize,
        members: usize,
        episodes: usize,
        max_steps: usize,
    ) -> Result<Vec<EpisodeResult>, EngineError> {
        if members > self.capacity.min(net.capacity()) {
            return Err(EngineError::Gpu(format!(
                "{members} members over the episode kernel's capacity {}",
                self.capacity
            )));
        }
        let d = self.plan.shape.obs_dim;
        if normalizer.mean.len() != d || normalizer.inv_std.len() != d {
            return Err(EngineError::Gpu("normaliser dimension".into()));
        }
        let to_u32 = |x: usize, what: &str| {
            u32::try_from(x).map_err(|_| EngineError::TooLarge(format!("{what} = {x} over u32")))
        };
        let g = grid(
            members,
            self.ctx.limits.max_compute_workgroups_per_dimension,
        )?;
        let p = NetParams {
            c: *net.constants(),
            members: to_u32(members, "members")?,
            member_offset: to_u32(member_offset, "member offset")?,
            grid_x: g.0,
            flags: 0,
            seed_lo: seed as u32,
            seed_hi: (seed >> 32) as u32,
            generation,
            episode: 0,
        };
        let ep = EpisodeParams {
            episodes: to_u32(episodes, "episodes")?,
            max_steps: to_u32(max_steps, "max_episode_steps")?,
            clip: normalizer.clip as f32,
            _pad0: 0,
        };
        let norm: Vec<f32> = normalizer
            .mean
            .iter()
            .chain(&normalizer.inv_std)
            .map(|&x| x as f32)
            .collect();
        let q = &self.ctx.queue;
        q.write_buffer(&self.net_params, 0, bytemuck::bytes_of(&p));
        q.write_buffer(&self.episode_params, 0, bytemuck::bytes_of(&ep));
        if !norm.is_empty() {
            q.write_buffer(&self.norm, 0, bytemuck::cast_slice(&norm));
        }
        let device = &self.ctx.device;
        let buffers = [
            &self.net_params,
            &self.episode_params,
            net.net_buffer(),
            &self.norm,
            &self.results,
        ];
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bg = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("satr episodes bind group"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("satr episodes"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("satr episodes"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bg, &[]);
            if members > 0 {
                pass.dispatch_workgroups(g.0, g.1, 1);
            }
        }
        q.submit(Some(enc.finish()));
        let rw = episode_result_words(d);
        let words = read_words(&self.ctx, &self.results, 0, (rw * members) as u64)?;
        Ok(words
            .chunks(rw)
            .map(|r| {
                let f = |w: u32| f32::from_bits(w) as f64;
                EpisodeResult {
                    total_return: f(r[0]),
                    steps: r[1] as u64,
                    stats: ObsStats {
                        count: r[2] as u64,
                        mean: r[4..4 + d].iter().map(|&w| f(w)).collect(),
                        m2: r[4 + d..4 + 2 * d].iter().map(|&w| f(w)).collect(),
                    },
                }
            })
            .collect())
    }
}
