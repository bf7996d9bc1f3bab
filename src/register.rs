//! Registering a task defined outside satr: [`register_task`] checks the spec (its
//! instances' sizes, and with the `gpu` feature its WGSL port, compiled with naga
//! against `shaders/task_interface.wgsl`) and adds it to the process's task registry,
//! after which configs name it like a built-in (`task = "<name>"`).

use std::sync::Arc;

#[cfg(feature = "gpu")]
use crate::tasks::ActionKind;
use crate::tasks::{registry, TaskError, TaskSpec};

/// Adds `spec` to the task registry and returns the registered spec. Refused, naming
/// the task: a name already registered, an instance whose sizes differ from the spec,
/// and (with the `gpu` feature) a WGSL port that does not compile or whose `TASK_*`
/// constants differ from the spec. Without the `gpu` feature the WGSL port is kept
/// unchecked (no GPU can run it).
pub fn register_task(spec: TaskSpec) -> Result<Arc<TaskSpec>, TaskError> {
    spec.check()?;
    #[cfg(feature = "gpu")]
    if let Some(src) = spec.wgsl() {
        check_wgsl(&spec, src)?;
    }
    registry::insert(spec)
}

/// The port compiles with the interface and declares the spec's sizes.
#[cfg(feature = "gpu")]
fn check_wgsl(spec: &TaskSpec, src: &str) -> Result<(), TaskError> {
    let fail = |reason: String| TaskError::Wgsl {
        task: spec.name().to_string(),
        reason,
    };
    let layout =
        crate::gpu::tasks::source_layout(spec.name(), src).map_err(|e| fail(e.to_string()))?;
    let (act_dim, discrete) = match spec.action() {
        ActionKind::Discrete(n) => (n, true),
        ActionKind::Continuous(n) => (n, false),
    };
    let checks = [
        ("TASK_OBS_DIM", layout.obs_dim, spec.obs_dim()),
        ("TASK_ACT_DIM", layout.act_dim, act_dim),
        (
            "TASK_MAX_STEPS",
            layout.max_steps as usize,
            spec.max_episode_steps(),
        ),
        ("TASK_DISCRETE", layout.discrete as usize, discrete as usize),
    ];
    for (name, wgsl, spec_value) in checks {
        if wgsl != spec_value {
            return Err(fail(format!(
                "{name} is {wgsl}, the spec says {spec_value}"
            )));
        }
    }
    let most = crate::gpu::plan::RESET_UNIFORMS_LEN;
    if layout.reset_uniforms > most {
        return Err(fail(format!(
            "TASK_RESET_UNIFORMS is {}, at most {most} are drawn per episode",
            layout.reset_uniforms
        )));
    }
    Ok(())
}
