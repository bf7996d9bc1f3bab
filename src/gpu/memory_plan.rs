//! A generation's device memory and work, planned from the shape and an adapter's
//! limits without allocating anything: the chunk size the evaluator will use, how many
//! chunks and dispatches a generation takes, and the bytes it needs on the device
//! (`satr bench --plan`, and the refusal of a population that cannot run).

use serde::Serialize;

use super::episodes::units_per_dispatch;
use super::plan::{episode_result_words, NetOptions, NetPlan};
use crate::byte_size::human;
use crate::evaluation::EngineError;
use crate::network::Shape;

/// Share of the device memory a generation may plan to use; the rest is left to the
/// driver, staging buffers and other programs.
pub const DEVICE_MEMORY_SHARE: f64 = 0.9;

/// One buffer's share of a member.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberBuffer {
    pub buffer: &'static str,
    pub bytes: u64,
}

/// The plan of one generation on one device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DevicePlan {
    /// Train plus eval members.
    pub members: usize,
    pub neurons: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    /// Per-member buffers (host-task mode's, plus the episode buffers of
    /// full-generation mode when `generation_mode`).
    pub member_buffers: Vec<MemberBuffer>,
    pub bytes_per_member: u64,
    /// Buffers the size of the genome, held once: thresholds, mode genome, the
    /// reductions' sums.
    pub fixed_bytes: u64,
    /// Members per chunk, and what bounds it.
    pub chunk: usize,
    pub chunk_limited_by: &'static str,
    pub chunks: usize,
    /// Full-generation mode: dispatches per chunk (episodes sliced into units of work).
    pub dispatches_per_chunk: Option<u64>,
    /// What the largest chunk holds on the device, fixed buffers included.
    pub device_bytes: u64,
    /// The device memory the plan was made against, where known.
    pub device_memory: Option<u64>,
}

/// What a generation asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Train plus eval members.
    pub members: usize,
    pub episodes_per_member: usize,
    pub max_episode_steps: usize,
    /// Whole episodes on the device (the task in WGSL).
    pub generation_mode: bool,
}

/// Plans `work` for `shape` under `limits` and, when known, `device_memory` bytes.
/// Refuses with [`EngineError::TooLarge`], naming the estimate and the limit, when not
/// even one member fits.
pub fn plan(
    shape: &Shape,
    limits: &wgpu::Limits,
    opts: &NetOptions,
    work: &Workload,
    device_memory: Option<u64>,
) -> Result<DevicePlan, EngineError> {
    let net = NetPlan::new(shape, limits, opts)?;
    let [genome, packed, state, obs, out] = net.member_bytes();
    let mut buffers = vec![
        MemberBuffer {
            buffer: "genome",
            bytes: genome,
        },
        MemberBuffer {
            buffer: "packed net",
            bytes: packed,
        },
        MemberBuffer {
            buffer: "state",
            bytes: state,
        },
        MemberBuffer {
            buffer: "observations",
            bytes: obs,
        },
        MemberBuffer {
            buffer: "outputs",
            bytes: out,
        },
        MemberBuffer {
            buffer: "active flag and utilities",
            bytes: 4 + 16,
        },
    ];
    if work.generation_mode {
        buffers.push(MemberBuffer {
            buffer: "episode results",
            bytes: 4 * episode_result_words(shape.obs_dim) as u64,
        });
        buffers.push(MemberBuffer {
            buffer: "episode carry",
            bytes: 4 * net.carry_words() as u64,
        });
    }
    let per_member: u64 = buffers.iter().map(|b| b.bytes).sum();
    let dim = shape.layout().len() as u64;
    let fixed = 4 * dim + 4 * dim.div_ceil(32) + 16 * dim;
    let mut chunk = net.max_chunk(limits)?;
    let mut limited_by = "max_storage_buffer_binding_size / max_buffer_size";
    if let Some(memory) = device_memory {
        let budget = (memory as f64 * DEVICE_MEMORY_SHARE) as u64;
        if fixed + per_member > budget {
            return Err(EngineError::TooLarge(format!(
                "one member needs about {} of device memory ({} per member, {} for the \
                 genome-sized buffers) but {:.0}% of the device's {} is {}; lower \
                 network.neurons",
                human(fixed + per_member),
                human(per_member),
                human(fixed),
                DEVICE_MEMORY_SHARE * 100.0,
                human(memory),
                human(budget)
            )));
        }
        let by_memory = ((budget - fixed) / per_member) as usize;
        if by_memory < chunk {
            chunk = by_memory;
            limited_by = "device memory";
        }
    }
    let members = work.members.max(1);
    if members < chunk {
        chunk = members;
        limited_by = "population";
    }
    let dispatches = work.generation_mode.then(|| {
        let units = units_per_dispatch(&net) as u64;
        let work = work.episodes_per_member as u64 * (work.max_episode_steps as u64 + 1);
        work.div_ceil(units.max(1))
    });
    Ok(DevicePlan {
        members: work.members,
        neurons: shape.neurons,
        obs_dim: shape.obs_dim,
        act_dim: shape.act_dim,
        member_buffers: buffers,
        bytes_per_member: per_member,
        fixed_bytes: fixed,
        chunk,
        chunk_limited_by: limited_by,
        chunks: members.div_ceil(chunk),
        dispatches_per_chunk: dispatches,
        device_bytes: fixed + per_member * chunk as u64,
        device_memory,
    })
}

impl std::fmt::Display for DevicePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} members, N {}, obs {}, act {}",
            self.members, self.neurons, self.obs_dim, self.act_dim
        )?;
        for b in &self.member_buffers {
            writeln!(f, "  {:<28} {:>12} bytes per member", b.buffer, b.bytes)?;
        }
        writeln!(
            f,
            "  {:<28} {:>12} bytes per member",
            "total", self.bytes_per_member
        )?;
        writeln!(
            f,
            "  genome-sized buffers         {:>12} bytes",
            self.fixed_bytes
        )?;
        writeln!(
            f,
            "chunk: {} members (bounded by {}), {} chunk(s) per generation",
            self.chunk, self.chunk_limited_by, self.chunks
        )?;
        if let Some(d) = self.dispatches_per_chunk {
            writeln!(f, "full-generation mode: {d} dispatches per chunk")?;
        }
        write!(
            f,
            "device memory: {} for the largest chunk",
            human(self.device_bytes)
        )?;
        match self.device_memory {
            Some(m) => write!(
                f,
                " of {} ({:.0}% usable)",
                human(m),
                DEVICE_MEMORY_SHARE * 100.0
            ),
            None => write!(
                f,
                " (the device's memory is not known: set SATR_DEVICE_MEMORY)"
            ),
        }
    }
}

/// Named limit sets for planning a device one does not have (`satr bench --plan
/// --limits NAME`): the limits wgpu reports there and the memory of the card.
/// `lavapipe` is Mesa 22.3's as `satr info` shows it; the NVIDIA sets take Vulkan's
/// `maxStorageBufferRange` of 2^32 - 1 bytes and a 4 GiB buffer, and are assumptions
/// until a card of that class has been measured (README says which were).
pub fn preset(name: &str) -> Option<(wgpu::Limits, Option<u64>)> {
    let base = wgpu::Limits::default();
    let nvidia = |memory: u64| {
        (
            wgpu::Limits {
                max_storage_buffer_binding_size: u32::MAX as _,
                max_buffer_size: 1 << 32,
                max_compute_workgroup_storage_size: 49_152,
                max_compute_invocations_per_workgroup: 1024,
                max_compute_workgroup_size_x: 1024,
                max_compute_workgroups_per_dimension: 65_535,
                ..base.clone()
            },
            Some(memory),
        )
    };
    Some(match name {
        "lavapipe" => (
            wgpu::Limits {
                max_storage_buffer_binding_size: 128 << 20,
                max_buffer_size: 2047 << 20,
                max_compute_workgroup_storage_size: 32_768,
                max_compute_invocations_per_workgroup: 1024,
                max_compute_workgroup_size_x: 1024,
                max_compute_workgroups_per_dimension: 65_535,
                ..base.clone()
            },
            None,
        ),
        "nvidia-24gb" => nvidia(24 << 30),
        "nvidia-80gb" => nvidia(80 << 30),
        "nvidia-141gb" => nvidia(141 << 30),
        _ => return None,
    })
}

/// The names [`preset`] knows.
pub const PRESETS: &[&str] = &["lavapipe", "nvidia-24gb", "nvidia-80gb", "nvidia-141gb"];
