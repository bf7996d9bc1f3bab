//! WGSL sources (one kernel per file under `shaders/`), composed on the host as
//! `header + common.wgsl + kernel` and validated with naga before any pipeline exists.

use crate::evaluation::EngineError;

/// Shared code: Philox, the mirrored `Constants`/`NetParams` structs, helpers.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// The compute kernels, one per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// `sample_genomes.wgsl`: SPEC 3 sampling (twin of `distribution::sample_genome`).
    SampleGenomes,
    /// `unpack_net.wgsl`: genome to the packed layouts of the network kernels.
    UnpackNet,
    /// `reset_state.wgsl`: episode start (twin of `cpu::NetState::reset`).
    ResetState,
    /// `rsnn_step.wgsl`: one environment step (twin of `cpu::env_step`).
    RsnnStep,
    /// `reductions.wgsl`: `A` and `B` of SPEC 4.
    Reductions,
}

impl Kernel {
    /// Every kernel, for validation tests.
    pub const ALL: [Kernel; 5] = [
        Kernel::SampleGenomes,
        Kernel::UnpackNet,
        Kernel::ResetState,
        Kernel::RsnnStep,
        Kernel::Reductions,
    ];

    /// File name under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::SampleGenomes => "sample_genomes.wgsl",
            Kernel::UnpackNet => "unpack_net.wgsl",
            Kernel::ResetState => "reset_state.wgsl",
            Kernel::RsnnStep => "rsnn_step.wgsl",
            Kernel::Reductions => "reductions.wgsl",
        }
    }

    /// The kernel's own source (without header and common code).
    pub fn source(self) -> &'static str {
        match self {
            Kernel::SampleGenomes => include_str!("../../shaders/sample_genomes.wgsl"),
            Kernel::UnpackNet => include_str!("../../shaders/unpack_net.wgsl"),
            Kernel::ResetState => include_str!("../../shaders/reset_state.wgsl"),
            Kernel::RsnnStep => include_str!("../../shaders/rsnn_step.wgsl"),
            Kernel::Reductions => include_str!("../../shaders/reductions.wgsl"),
        }
    }

    /// Whether the kernel needs the network header ([`super::plan::NetPlan::header`])
    /// rather than the flat one.
    pub fn needs_net_header(self) -> bool {
        matches!(
            self,
            Kernel::UnpackNet | Kernel::ResetState | Kernel::RsnnStep
        )
    }
}

/// The full-generation kernel (composed with a task file by [`compose_episodes`]).
pub const EPISODES: &str = include_str!("../../shaders/episodes.wgsl");

/// The full-generation kernel for a task: header, common code, the task's WGSL
/// (`shaders/task_<name>.wgsl`, which defines `TASK_*`, `TaskState`, `task_reset`,
/// `task_observe`, `task_step`), the network core, then `episodes.wgsl`.
pub fn compose_episodes(header: &str, task_source: &str) -> String {
    format!(
        "// ---- header ----\n{header}\n// ---- common.wgsl ----\n{COMMON}\n\
         // ---- task ----\n{task_source}\n// ---- rsnn_core.wgsl ----\n{RSNN_CORE}\n\
         // ---- episodes.wgsl ----\n{EPISODES}"
    )
}

/// The network core shared by the network-step and episode kernels.
pub const RSNN_CORE: &str = include_str!("../../shaders/rsnn_core.wgsl");

/// The full source of `kernel` under a generated `header`: header, common code, the
/// network core where the kernel needs it, then the kernel.
pub fn compose(header: &str, kernel: Kernel) -> String {
    let core = if kernel == Kernel::RsnnStep {
        format!("// ---- rsnn_core.wgsl ----\n{RSNN_CORE}\n")
    } else {
        String::new()
    };
    format!(
        "// ---- header ----\n{header}\n// ---- common.wgsl ----\n{COMMON}\n{core}// ---- {} ----\n{}",
        kernel.file(),
        kernel.source()
    )
}

/// Parses and validates a composed source with naga, so a shader error is reported
/// with its line before any device work.
pub fn validate(source: &str, name: &str) -> Result<(), EngineError> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| EngineError::Gpu(format!("{name}: {}", e.emit_to_string(source))))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| EngineError::Gpu(format!("{name}: validation: {e:?}")))?;
    Ok(())
}
