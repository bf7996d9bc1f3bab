//! Full-generation mode: `episodes.wgsl` runs every episode of every member of a chunk
//! on the device, with the task stepped in WGSL (no host round trip per env step).
//! The work is cut into slices of [`EpisodeKernel::units_per_dispatch`] steps, one
//! dispatch each (all submitted at once), with the state carried over in a buffer:
//! llvmpipe (lavapipe) stops every loop of a shader invocation once its loops
//! together have iterated 65535 times (`LP_MAX_TGSI_LOOP_ITERATIONS`), which cut
//! single-dispatch generations short (CartPole episodes ended at 386 steps).

use super::context::GpuContext;
use super::device::{bind_group, create_pipeline, read_words, storage_buffer, uniform_buffer};
use super::network::GpuNetwork;
use super::plan::{episode_result_words, grid, EpisodeParams, NetParams, NetPlan};
use super::shaders::compose_episodes;
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
    carry: wgpu::Buffer,
    units: u32,
    capacity: usize,
}

/// Units of work (environment steps or episode resets) per dispatch. On a driver with
/// a loop budget (llvmpipe ends every loop of an invocation after
/// `LP_MAX_TGSI_LOOP_ITERATIONS`), few enough that the loop iterations of one dispatch
/// (an upper bound of those of `episodes.wgsl` and `rsnn_core.wgsl` per unit, with room
/// for the task's own loops) stay within half of it; elsewhere all of them (one
/// dispatch a generation chunk).
pub fn units_per_dispatch(plan: &NetPlan) -> u32 {
    let Some(budget) = plan.quirks.loop_budget else {
        return u32::MAX;
    };
    let s = &plan.shape;
    let (wg, npt) = (plan.wg as u64, plan.npt as u64);
    let (n, d, a, k) = (
        s.neurons as u64,
        s.obs_dim as u64,
        s.act_dim as u64,
        s.substeps as u64,
    );
    let zw = plan.zw() as u64;
    let (we, wi) = (plan.we as u64, plan.wi as u64);
    let strided = |len: u64| len.div_ceil(wg.max(1)) + 1;
    // Observation, input projection, substeps, rates, output projection, outputs.
    let step = 1
        + d
        + npt * (1 + 2 * d)
        + k * (1 + strided(zw) + npt * (1 + we + wi))
        + npt
        + strided(a) * (1 + n)
        + a;
    // Potentials (a 10-round Philox each), spikes, task reset (two Philox calls).
    let reset = 1 + npt * 11 + strided(3 * zw) + 2 * 11 + 8;
    // The task's own loops, and loading and saving the carried state.
    let unit = step.max(reset) + 256;
    let fixed = 4 * (npt + strided(zw) + d + 16) + 64;
    let units = (budget / 2).saturating_sub(fixed) / unit;
    units.clamp(1, u32::MAX as u64) as u32
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
        let device = &ctx.device;
        let pipeline = create_pipeline(
            device,
            "episodes.wgsl",
            compose_episodes(&plan.episode_header(), task_source),
        )?;
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
        let zero_net: NetParams = bytemuck::Zeroable::zeroed();
        let zero_ep: EpisodeParams = bytemuck::Zeroable::zeroed();
        let carry_bytes = 4 * plan.carry_words() as u64 * capacity as u64;
        if carry_bytes > binding {
            return Err(EngineError::TooLarge(format!(
                "episode state of {capacity} members exceeds \
                 max_storage_buffer_binding_size ({binding})"
            )));
        }
        Ok(EpisodeKernel {
            net_params: uniform_buffer(device, "satr episode net params", &zero_net),
            episode_params: uniform_buffer(device, "satr episode params", &zero_ep),
            norm: storage_buffer(device, "satr normaliser", (8 * d) as u64),
            results: storage_buffer(device, "satr episode results", res_bytes),
            carry: storage_buffer(device, "satr episode carry", carry_bytes),
            units: units_per_dispatch(plan),
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

    /// The carried state of the first `members` members after the last [`run`]
    /// (`CARRY_WORDS` words each, the layout `NetPlan::episode_header` generates): what
    /// tests compare with the CPU twin's `cpu::episodes::EpisodeCarry`.
    ///
    /// [`run`]: EpisodeKernel::run
    pub fn read_carry(&self, members: usize) -> Result<Vec<u32>, EngineError> {
        let words = self.plan.carry_words() as u64 * members.min(self.capacity) as u64;
        read_words(&self.ctx, &self.carry, 0, words)
    }

    /// Environment steps or episode resets per dispatch (see [`units_per_dispatch`]).
    pub fn units_per_dispatch(&self) -> u32 {
        self.units
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
            units: self.units,
        };
        // Every episode takes one reset and at most max_steps steps.
        let work = episodes as u64 * (max_steps as u64 + 1);
        let dispatches = work.div_ceil(self.units as u64);
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
        let bg = bind_group(
            device,
            "satr episodes bind group",
            &self.pipeline,
            &[
                &self.net_params,
                &self.episode_params,
                net.net_buffer(),
                &self.norm,
                &self.results,
                &self.carry,
            ],
        );
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("satr episodes"),
        });
        enc.clear_buffer(&self.results, 0, None);
        enc.clear_buffer(&self.carry, 0, None);
        if members > 0 {
            for _ in 0..dispatches {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("satr episodes"),
                    timestamp_writes: None,
                });
                pass.set_pipeline(&self.pipeline);
                pass.set_bind_group(0, &bg, &[]);
                pass.dispatch_workgroups(g.0, g.1, 1);
            }
        }
        q.submit(Some(enc.finish()));
        let rw = episode_result_words(d);
        let words = read_words(&self.ctx, &self.results, 0, (rw * members) as u64)?;
        // A device that ends loops early (as llvmpipe does past its loop budget) leaves
        // episodes unfinished: an error, not silently short episodes.
        if let Some(r) = words.chunks(rw).find(|r| r[3] as usize != episodes) {
            return Err(EngineError::Gpu(format!(
                "episode kernel completed {} of {episodes} episodes of a member \
                 (loops cut short by the device?)",
                r[3]
            )));
        }
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
