//! The driver of `sample_genomes.wgsl`: SPEC 3 genome sampling on the device.

use super::context::GpuContext;
use super::device::{bind_group, create_pipeline, dispatch, storage_buffer, uniform_buffer};
use super::plan::{flat_header, genome_words, grid, SampleParams, FLAT_WORKGROUP};
use super::shaders::{compose, Kernel};
use crate::evaluation::EngineError;

/// Genome sampling on the device (twin of `cpu::sample_genomes`).
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
        let words = genome_words(dim);
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
            pipeline: create_pipeline(
                &ctx.device,
                Kernel::SampleGenomes.file(),
                compose(&flat_header(), Kernel::SampleGenomes),
            )?,
            params: uniform_buffer(
                &ctx.device,
                "satr sample params",
                &<SampleParams as bytemuck::Zeroable>::zeroed(),
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
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
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
