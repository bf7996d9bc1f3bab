//! The driver of `reductions.wgsl`: `A` and `B` of SPEC 4 on the device.

use super::context::GpuContext;
use super::device::{
    bind_group, create_pipeline, dispatch, read_words, storage_buffer, uniform_buffer,
};
use super::plan::{flat_header, genome_words, grid, ReduceParams, FLAT_WORKGROUP};
use super::shaders::{compose, Kernel};
use crate::distribution::{fixed_point_scale, from_fixed, to_fixed};
use crate::evaluation::EngineError;

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
            pipeline: create_pipeline(
                &ctx.device,
                Kernel::Reductions.file(),
                compose(&flat_header(), Kernel::Reductions),
            )?,
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
            words: genome_words(dim),
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
        self.scale = fixed_point_scale(utilities);
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
                let [a, b] = to_fixed(u, self.scale);
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
            a.push(from_fixed(q[0] as u64 | (q[1] as u64) << 32, self.scale));
            b.push(from_fixed(q[2] as u64 | (q[3] as u64) << 32, self.scale));
        }
        Ok((a, b))
    }
}
