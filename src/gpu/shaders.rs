//! WGSL sources (one kernel per file under `shaders/`), their composition on the host
//! (`header + common.wgsl + kernel`), and the one naga front end: validation before
//! any pipeline exists, and the reflection the layout tests read.

use super::plan::task_header;
use crate::evaluation::EngineError;

/// Shared code: Philox, the mirrored `Constants`/`NetParams` structs, helpers.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");

/// The network core shared by the network-step and episode kernels.
pub const RSNN_CORE: &str = include_str!("../../shaders/rsnn_core.wgsl");

/// The full-generation kernel (composed with a task by [`compose_episodes`]).
pub const EPISODES: &str = include_str!("../../shaders/episodes.wgsl");

/// The declarations every task shares (`TaskState`, `TaskStep`), composed before each
/// task source by [`compose_task`] so task files hold only their own code.
pub const TASK_INTERFACE: &str = include_str!("../../shaders/task_interface.wgsl");

/// The compute kernels, one per file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// `sample_genomes.wgsl`: SPEC 3 sampling (twin of `cpu::sample_genomes`).
    SampleGenomes,
    /// `unpack_net.wgsl`: genome to the packed layouts of the network kernels.
    UnpackNet,
    /// `reset_state.wgsl`: episode start (twin of `cpu::reset_state`).
    ResetState,
    /// `rsnn_step.wgsl`: one environment step (twin of `cpu::rsnn_step`; its core `net_step` is `cpu::net_step`).
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

    /// File name under `shaders/` (also the pipeline's label).
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

/// A task source (a `shaders/task_<name>.wgsl`, or a test's) with what every task
/// shares: the generated task header and `task_interface.wgsl`.
pub fn compose_task(task_source: &str) -> String {
    format!(
        "// ---- task header ----\n{}\n// ---- task_interface.wgsl ----\n{TASK_INTERFACE}\n\
         // ---- task ----\n{task_source}",
        task_header()
    )
}

/// The full-generation kernel for a task: header, common code, the task
/// ([`compose_task`]), the network core, then `episodes.wgsl`.
pub fn compose_episodes(header: &str, task_source: &str) -> String {
    format!(
        "// ---- header ----\n{header}\n// ---- common.wgsl ----\n{COMMON}\n{}\n\
         // ---- rsnn_core.wgsl ----\n{RSNN_CORE}\n// ---- episodes.wgsl ----\n{EPISODES}",
        compose_task(task_source)
    )
}

/// Parses and validates a composed source with naga, so a shader error is reported
/// with its line (and `name`) before any device work.
pub fn validate(source: &str, name: &str) -> Result<naga::Module, EngineError> {
    let module = naga::front::wgsl::parse_str(source)
        .map_err(|e| EngineError::Gpu(format!("{name}: {}", e.emit_to_string(source))))?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| EngineError::Gpu(format!("{name}: validation: {}", e.emit_to_string(source))))?;
    Ok(module)
}

/// The value of a module-scope `const` that naga folded to a literal.
pub fn constant(module: &naga::Module, name: &str) -> Option<naga::Literal> {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))?;
    match module.global_expressions[c.init] {
        naga::Expression::Literal(lit) => Some(lit),
        _ => None,
    }
}

/// A module-scope `const` of type `u32`.
pub fn constant_u32(module: &naga::Module, name: &str) -> Option<u32> {
    match constant(module, name)? {
        naga::Literal::U32(v) => Some(v),
        _ => None,
    }
}

/// Size and `(member, offset)` list of a WGSL struct as naga lays it out (for the tests
/// that hold each `#[repr(C)]` host mirror to it).
pub fn struct_layout(module: &naga::Module, name: &str) -> Option<(u32, Vec<(String, u32)>)> {
    module.types.iter().find_map(|(_, ty)| match &ty.inner {
        naga::TypeInner::Struct { members, span } if ty.name.as_deref() == Some(name) => Some((
            *span,
            members
                .iter()
                .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                .collect(),
        )),
        _ => None,
    })
}
