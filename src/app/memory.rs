//! Host memory a run will need, estimated from its config before anything large is
//! allocated, against what the machine (or its cgroup) has available: a run that
//! cannot fit is refused with the estimate, the amount available and the key to change,
//! instead of growing until the kernel's OOM killer ends it without a message.

use super::error::TrainError;
pub use crate::byte_size::human;
use crate::config::Config;
use crate::network::Shape;
use crate::optimizer::Signal;

/// Overrides the available amount in bytes (for containers whose limits the checks
/// below do not see, and for tests).
pub const AVAILABLE_ENV: &str = "SATR_AVAILABLE_MEMORY";

/// The parts of a run's host memory, in bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// `(what, bytes)`, largest first.
    pub parts: Vec<(&'static str, u64)>,
}

impl MemoryEstimate {
    /// Bytes per genome coordinate held as f64 by the trainer and the rules: `p`, Adam's
    /// `m` and `v`, the gradient, the step direction, and the reductions `A` and `B`.
    const F64_ARRAYS: u64 = 7;

    /// The estimate for `cfg` (its shape must be valid).
    pub fn of(cfg: &Config, shape: &Shape) -> Result<Self, TrainError> {
        let dim = shape.layout().len() as u64;
        let words = dim.div_ceil(64);
        let threads = rayon::current_num_threads() as u64;
        let cross = u64::from(cfg.optimizer.signal == Signal::Cross);
        let mut parts = vec![
            (
                "p, Adam moments, gradient, step, reductions (f64 per coordinate)",
                (Self::F64_ARRAYS + cross) * 8 * dim,
            ),
            ("sampling thresholds (u32 per coordinate)", 4 * dim),
            (
                "train genomes (bit-packed, all kept for the reductions)",
                (cfg.population as u64 + 1) * words * 8,
            ),
            // A checkpoint copies p and the optimizer state, then streams them out
            // through a 1 MiB buffer.
            (
                "checkpoint copy of p and the optimizer state",
                (3 + cross) * 8 * dim + (1 << 20),
            ),
            (
                "per-thread genome and network buffers",
                threads * 2 * words * 8,
            ),
        ];
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        Ok(MemoryEstimate { parts })
    }

    /// The total in bytes.
    pub fn total(&self) -> u64 {
        self.parts.iter().map(|p| p.1).sum()
    }
}

/// A byte count from environment variable `name`, when set to a number.
pub fn bytes_from_env(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Bytes available to this process: [`AVAILABLE_ENV`] if set, else the smaller of
/// Linux's `MemAvailable` and the cgroup v2 limit left; `None` where neither is known.
pub fn available() -> Option<u64> {
    if let Some(v) = bytes_from_env(AVAILABLE_ENV) {
        return Some(v);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = match (
        read_number("/sys/fs/cgroup/memory.max"),
        read_number("/sys/fs/cgroup/memory.current"),
    ) {
        (Some(max), Some(cur)) => Some(max.saturating_sub(cur)),
        _ => None,
    };
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Refuses `cfg` when its estimate exceeds what is available, naming the key to change
/// (`network.neurons` unless the population's genomes dominate).
pub fn check(cfg: &Config, shape: &Shape) -> Result<MemoryEstimate, TrainError> {
    let est = MemoryEstimate::of(cfg, shape)?;
    let Some(available) = available() else {
        return Ok(est);
    };
    if est.total() <= available {
        return Ok(est);
    }
    let (key, value) = match est.parts.first() {
        Some((what, _)) if what.starts_with("train genomes") => ("population", cfg.population),
        _ => ("network.neurons", cfg.network.neurons),
    };
    Err(TrainError::Memory {
        needed: human(est.total()),
        available: human(available),
        detail: est
            .parts
            .iter()
            .map(|(what, b)| format!("{what}: {}", human(*b)))
            .collect::<Vec<_>>()
            .join("; "),
        key,
        value,
    })
}
