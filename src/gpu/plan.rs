//! Every buffer size, WGSL header constant and dispatch grid of the GPU backend,
//! computed in one place so host and kernels cannot disagree.
//!
//! # Bytes per member
//!
//! With `N` neurons, `d` observations, `a` outputs, genome length
//! `D = 2dN + N^2 + Na`, `WE = ceil(N_exc / 32)`, `WI = ceil(N_inh / 32)`,
//! `NW = ceil(N / 32)`, `ZW = WE + WI`:
//!
//! | buffer | bytes per member |
//! |---|---|
//! | genome (sampled, SPEC order) | `8 * ceil(D / 64)` |
//! | packed net (`w_in`, `h_exc`, `h_inh`, `w_out`) | `4 * (2d * NW + ZW * N + a * NW)` |
//! | state (`v`, `i_syn`, `rate`, `i_in`, counts, spikes) | `4 * (5N + ZW)` |
//! | observations, outputs, active flag | `4 * (d + a + 1)` |
//! | reductions: utilities | `16` |
//! | debug spike trace (tests only) | `4 * K * ZW` |
//!
//! At `N = 256`, `d = 4`, `a = 2` that is about 8.3 + 8.3 + 5.2 KiB = 22 KiB.
//! A chunk holds as many members as the largest of these per-member buffers allows
//! under `min(max_storage_buffer_binding_size, max_buffer_size)`.

pub use super::quirks::{DriverQuirks, MIN_NET_WORKGROUP};
use crate::evaluation::EngineError;
use crate::network::{Constants, Shape};

/// Largest workgroup the network kernels use: enough invocations to cover N = 256 with
/// one neuron each, small enough to keep several workgroups per compute unit.
pub const MAX_NET_WORKGROUP: u32 = 256;
/// Workgroup size of the flat kernels (sampling, unpacking, reductions).
pub const FLAT_WORKGROUP: u32 = 64;

/// Per-dispatch uniform of the network kernels. Mirrors `struct NetParams` in
/// `shaders/common.wgsl` (80 bytes; checked by a layout test).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct NetParams {
    /// The dynamics constants, mirrored as `struct Constants`.
    pub c: Constants,
    /// Members in this dispatch.
    pub members: u32,
    /// Global index of the first member (the RNG's member index).
    pub member_offset: u32,
    /// Workgroups along x of the grid.
    pub grid_x: u32,
    /// Bit 0: record spike trains into the trace buffer.
    pub flags: u32,
    /// Run seed, low word (the Philox key).
    pub seed_lo: u32,
    /// Run seed, high word.
    pub seed_hi: u32,
    /// Generation (third counter word).
    pub generation: u32,
    /// Episode index (in the stream word of the potential stream).
    pub episode: u32,
}

/// Second uniform of `episodes.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct EpisodeParams {
    /// Episodes per member.
    pub episodes: u32,
    /// Steps per episode at most.
    pub max_steps: u32,
    /// Normaliser clip.
    pub clip: f32,
    /// Units of work (environment steps or episode resets) per dispatch, at least 1.
    pub units: u32,
}

/// u32 words of one member's result in full-generation mode (`RES_WORDS`): return,
/// steps, observation count, episodes completed, then the Welford mean and m2 of the
/// observations.
pub fn episode_result_words(obs_dim: usize) -> usize {
    4 + 2 * obs_dim
}

/// Words of `episodes.wgsl`'s carried state before the task's values
/// (`CARRY_TASK_S`): episode index, step, open flag, return, task steps, task flags.
pub const CARRY_HEAD_WORDS: u32 = 6;
/// Task state values the carried state has room for (`CARRY_TASK_MAX`).
pub const CARRY_TASK_MAX: u32 = 16;

/// Length of `task_reset`'s uniform array (`TASK_RESET_LEN`): two Philox blocks.
pub const RESET_UNIFORMS_LEN: usize = 8;

/// The WGSL header every task source is composed under (`shaders::compose_task`).
pub fn task_header() -> String {
    format!("const TASK_RESET_LEN: u32 = {RESET_UNIFORMS_LEN}u;\n")
}

/// Uniform of `sample_genomes.wgsl` (48 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct SampleParams {
    /// Run seed, low word.
    pub seed_lo: u32,
    /// Run seed, high word.
    pub seed_hi: u32,
    /// Generation.
    pub generation: u32,
    /// Genome length in bits.
    pub dim: u32,
    /// u32 words per genome.
    pub words: u32,
    /// Train members; later global indices copy the mode genome.
    pub population: u32,
    /// Global index of this dispatch's first member.
    pub member_offset: u32,
    /// Members in this dispatch.
    pub members: u32,
    /// Workgroups along x of the grid.
    pub grid_x: u32,
    /// Padding to 48 bytes.
    pub _pad0: u32,
    /// Padding.
    pub _pad1: u32,
    /// Padding.
    pub _pad2: u32,
}

/// Uniform of `unpack_net.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct UnpackParams {
    /// Members in this dispatch.
    pub members: u32,
    /// u32 words per genome.
    pub genome_words: u32,
    /// Workgroups along x of the grid.
    pub grid_x: u32,
    /// Padding to 16 bytes.
    pub _pad0: u32,
}

/// Uniform of `reductions.wgsl` (16 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct ReduceParams {
    /// Genome length in bits.
    pub dim: u32,
    /// u32 words per genome.
    pub words: u32,
    /// Members in this chunk.
    pub members: u32,
    /// Workgroups along x of the grid.
    pub grid_x: u32,
}

/// u32 words holding `bits` bits, rounded to whole u64 words so the bytes equal the
/// CPU's packed `u64` genome.
pub fn genome_words(bits: usize) -> usize {
    2 * bits.div_ceil(64)
}

/// A 2-D grid of `groups` workgroups with at most `max_dim` per dimension:
/// `(x, y)` with `x * y >= groups`. Kernels recover the linear index as
/// `wid.y * grid_x + wid.x` (`group_index` in common.wgsl) and skip indices past the end.
pub fn grid(groups: usize, max_dim: u32) -> Result<(u32, u32), EngineError> {
    let max = max_dim.max(1) as usize;
    if groups <= max {
        return Ok((groups as u32, 1));
    }
    let y = groups.div_ceil(max);
    if y > max {
        return Err(EngineError::TooLarge(format!(
            "{groups} workgroups exceed max_compute_workgroups_per_dimension^2 ({max}^2)"
        )));
    }
    Ok((max as u32, y as u32))
}

/// Sizes of the network kernels for one shape, and the WGSL header that fixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetPlan {
    /// The network shape planned for.
    pub shape: Shape,
    /// Invocations per workgroup (one workgroup per member).
    pub wg: u32,
    /// Neurons per invocation, `ceil(N / wg)`.
    pub npt: u32,
    /// Words per neuron-indexed row, `ceil(N / 32)`.
    pub nw: u32,
    /// Excitatory spike words.
    pub we: u32,
    /// Inhibitory spike words.
    pub wi: u32,
    /// Genome length in bits.
    pub genome_bits: u32,
    /// u32 words per genome.
    pub genome_words: u32,
    /// u32 words per packed net.
    pub net_words: u32,
    /// u32 words per member state.
    pub state_words: u32,
    /// Whether the recurrent columns are copied into workgroup memory.
    pub cols_in_wg: bool,
    /// The driver workarounds planned for.
    pub quirks: DriverQuirks,
}

/// Tuning knobs of the network kernels; `None` chooses from the adapter's limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetOptions {
    /// Invocations per workgroup, at least the quirks' `min_workgroup` (a test uses a small
    /// one to give each invocation several neurons).
    pub workgroup_size: Option<u32>,
    /// Force the recurrent columns on (`true`) or off (`false`) chip.
    pub columns_in_workgroup: Option<bool>,
    /// The driver's workarounds; `None` plans for a software rasteriser (safe on every
    /// driver). The evaluator and [`super::network::GpuNetwork`] fill in the adapter's.
    pub quirks: Option<DriverQuirks>,
    /// Tests: before each dispatch, write [`super::device::POISON`] over the buffers
    /// it writes (nets, state, outputs, trace), so a word a kernel leaves unwritten
    /// shows as a mismatch instead of passing as a stale or zero value.
    pub poison: bool,
}

impl NetPlan {
    /// Plans the kernels for `shape` under `limits`, refusing shapes that can never
    /// fit with [`EngineError::TooLarge`] naming the limit.
    pub fn new(
        shape: &Shape,
        limits: &wgpu::Limits,
        opts: &NetOptions,
    ) -> Result<Self, EngineError> {
        let n = shape.neurons;
        if n == 0 || shape.n_exc > n || shape.substeps == 0 {
            return Err(EngineError::Gpu(format!("invalid network shape {shape:?}")));
        }
        let bits = shape.layout().len();
        if bits as u64 >= u32::MAX as u64 / 2 {
            return Err(EngineError::TooLarge(format!(
                "genome of {bits} bits does not fit the kernels' u32 indices"
            )));
        }
        let max_inv = limits
            .max_compute_invocations_per_workgroup
            .min(limits.max_compute_workgroup_size_x);
        let wg = match opts.workgroup_size {
            Some(w) => w,
            None => (n.div_ceil(32) * 32).min(MAX_NET_WORKGROUP as usize) as u32,
        };
        let quirks = opts.quirks.unwrap_or(DriverQuirks::SOFTWARE);
        let wg = wg.max(quirks.min_workgroup).min(max_inv).max(1);
        let nw = n.div_ceil(32) as u32;
        let we = shape.n_exc.div_ceil(32) as u32;
        let wi = shape.n_inh().div_ceil(32) as u32;
        let d = shape.obs_dim as u32;
        let a = shape.act_dim as u32;
        let n32 = n as u32;
        let net_words = 2 * d * nw + (we + wi) * n32 + a * nw;
        let mut plan = NetPlan {
            shape: *shape,
            wg,
            npt: n32.div_ceil(wg),
            nw,
            we,
            wi,
            genome_bits: bits as u32,
            genome_words: genome_words(bits) as u32,
            net_words,
            state_words: 5 * n32 + we + wi,
            cols_in_wg: false,
            quirks,
        };
        let wg_limit = limits.max_compute_workgroup_storage_size as usize;
        let base = plan.workgroup_bytes();
        if base > wg_limit {
            return Err(EngineError::TooLarge(format!(
                "N = {n} needs {base} bytes of workgroup memory for spikes and rates, \
                 over max_compute_workgroup_storage_size ({wg_limit})"
            )));
        }
        let cols_fit = base + 4 * plan.cols_words() as usize <= wg_limit;
        plan.cols_in_wg = match opts.columns_in_workgroup {
            Some(true) if !cols_fit => {
                return Err(EngineError::TooLarge(format!(
                    "recurrent columns of N = {n} need {} bytes of workgroup memory, \
                     over max_compute_workgroup_storage_size ({wg_limit})",
                    base + 4 * plan.cols_words() as usize
                )))
            }
            Some(f) => f,
            None => cols_fit,
        };
        Ok(plan)
    }

    /// Spike words per member, `WE + WI`.
    pub fn zw(&self) -> u32 {
        self.we + self.wi
    }

    /// Words of recurrent columns per member.
    pub fn cols_words(&self) -> u32 {
        self.zw() * self.shape.neurons as u32
    }

    /// Workgroup memory of `rsnn_step` in bytes (columns included when on chip).
    pub fn workgroup_bytes(&self) -> usize {
        let cols = if self.cols_in_wg {
            self.cols_words()
        } else {
            1
        };
        // cols, three spike buffers, rates, xin, yout, and two flags.
        4 * (cols as usize
            + 3 * self.zw() as usize
            + self.shape.neurons
            + self.shape.obs_dim.max(1)
            + self.shape.act_dim.max(1)
            + 2)
    }

    /// Offsets (in u32 words) of the four blocks of a packed net.
    pub fn net_offsets(&self) -> [u32; 4] {
        let d = self.shape.obs_dim as u32;
        let h_exc = 2 * d * self.nw;
        let h_inh = h_exc + self.we * self.shape.neurons as u32;
        let w_out = h_inh + self.wi * self.shape.neurons as u32;
        [0, h_exc, h_inh, w_out]
    }

    /// Bytes of each per-member buffer: genome, net, state, observations, outputs.
    pub fn member_bytes(&self) -> [u64; 5] {
        [
            4 * self.genome_words as u64,
            4 * self.net_words as u64,
            4 * self.state_words as u64,
            4 * self.shape.obs_dim as u64,
            4 * self.shape.act_dim as u64,
        ]
    }

    /// Total device bytes per member in host-task mode (see the module docs).
    pub fn bytes_per_member(&self) -> u64 {
        self.member_bytes().iter().sum::<u64>() + 4
    }

    /// The most members one chunk may hold under `limits`, or `TooLarge` when not even
    /// one member fits a binding.
    pub fn max_chunk(&self, limits: &wgpu::Limits) -> Result<usize, EngineError> {
        let binding = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let largest = *self.member_bytes().iter().max().unwrap_or(&4);
        if largest > binding {
            return Err(EngineError::TooLarge(format!(
                "one member needs a {largest}-byte buffer, over \
                 max_storage_buffer_binding_size/max_buffer_size ({binding})"
            )));
        }
        let words = largest.div_ceil(4).max(1);
        let by_binding = binding / largest.max(1);
        // Kernels index words in u32; the margin keeps the padded last workgroup's
        // indices from wrapping around to the first members.
        let by_index = (u32::MAX as u64 - 65_536) / words;
        let max_dim = limits.max_compute_workgroups_per_dimension.max(1) as u64;
        // The flat kernels run one invocation per word of the widest per-member buffer.
        let by_grid = (max_dim * max_dim * FLAT_WORKGROUP as u64) / words;
        Ok(by_binding.min(by_index).min(by_grid).max(1) as usize)
    }

    /// u32 words `episodes.wgsl` carries over between dispatches per member
    /// (`CARRY_WORDS`): the head, room for the task state, the neurons' v, syn and
    /// rate, and the spike words.
    pub fn carry_words(&self) -> u32 {
        CARRY_HEAD_WORDS + CARRY_TASK_MAX + 3 * self.shape.neurons as u32 + self.zw()
    }

    /// The WGSL header of `episodes.wgsl`: [`NetPlan::header`] and the layouts of
    /// its result and carry buffers.
    pub fn episode_header(&self) -> String {
        let mut h = self.header();
        let mut c = |name: &str, v: u32| h.push_str(&format!("const {name}: u32 = {v}u;\n"));
        c("RES_WORDS", episode_result_words(self.shape.obs_dim) as u32);
        c("CARRY_TASK_S", CARRY_HEAD_WORDS);
        c("CARRY_TASK_MAX", CARRY_TASK_MAX);
        c("CARRY_NEURONS", CARRY_HEAD_WORDS + CARRY_TASK_MAX);
        c("CARRY_WORDS", self.carry_words());
        h
    }

    /// The WGSL `const` header for the network kernels.
    pub fn header(&self) -> String {
        let s = &self.shape;
        let [h_exc, h_inh, w_out] = {
            let o = self.net_offsets();
            [o[1], o[2], o[3]]
        };
        let n = s.neurons as u32;
        let layout = s.layout();
        let mut h = String::new();
        let mut c = |name: &str, v: u32| h.push_str(&format!("const {name}: u32 = {v}u;\n"));
        c("WG", self.wg);
        c("N", n);
        c("N_EXC", s.n_exc as u32);
        c("N_INH", s.n_inh() as u32);
        c("D_OBS", s.obs_dim as u32);
        c("A_OUT", s.act_dim as u32);
        c("K_SUB", s.substeps as u32);
        c("NPT", self.npt);
        c("NW", self.nw);
        c("WE", self.we);
        c("WI", self.wi);
        c("ZW", self.zw());
        c("OFF_W_IN", 0);
        c("OFF_H_EXC", h_exc);
        c("OFF_H_INH", h_inh);
        c("OFF_W_OUT", w_out);
        c("NET_WORDS", self.net_words);
        c("COLS_WORDS", self.cols_words());
        c(
            "COLS_WG_WORDS",
            if self.cols_in_wg {
                self.cols_words()
            } else {
                1
            },
        );
        c("GENOME_H", layout.w_h(0, 0) as u32);
        c("GENOME_OUT", layout.w_out(0, 0) as u32);
        c("STATE_WORDS", self.state_words);
        c("OFF_V", 0);
        c("OFF_SYN", n);
        c("OFF_RATE", 2 * n);
        c("OFF_IIN", 3 * n);
        c("OFF_COUNTS", 4 * n);
        c("OFF_Z", 5 * n);
        c("XIN_LEN", (s.obs_dim as u32).max(1));
        c("YOUT_LEN", (s.act_dim as u32).max(1));
        h.push_str(&format!("const COLS_IN_WG: bool = {};\n", self.cols_in_wg));
        h
    }
}

/// The WGSL header of the flat kernels (sampling, reductions).
pub fn flat_header() -> String {
    format!("const WG: u32 = {FLAT_WORKGROUP}u;\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workgroup_floor_applies_only_with_the_software_quirks() {
        let cfg = crate::network::NetworkConfig {
            neurons: 20,
            ..Default::default()
        };
        let shape = Shape::new(&cfg, 2, 1);
        let limits = wgpu::Limits::default();
        let plan = |q| {
            let opts = NetOptions {
                quirks: Some(q),
                ..Default::default()
            };
            NetPlan::new(&shape, &limits, &opts).unwrap().wg
        };
        assert_eq!(plan(DriverQuirks::SOFTWARE), MIN_NET_WORKGROUP);
        assert_eq!(plan(DriverQuirks::HARDWARE), 32);
    }
}
