//! The task registry: every task a process can run, by name. The built-in tasks
//! populate it (one [`TaskSpec`] each, in [`builtins`]); a library user adds their
//! own with [`crate::register_task`]. Config validation, `satr info`, replay, the
//! evaluators and the GPU's full-generation mode all read it, and a run looks its task
//! up once and passes the spec on, so adding a built-in task is its file plus one
//! entry in [`builtins`].

use std::sync::{Arc, OnceLock, RwLock};

pub use super::spec::{ActionKind, TaskSpec};
use super::{acrobot, cartpole, mountain_car, pendulum, Task, TaskError};

fn classic<T: Task + 'static>(t: T) -> Result<Box<dyn Task>, TaskError> {
    Ok(Box::new(t))
}

#[cfg(feature = "mujoco")]
fn locomotion(name: &str) -> Result<Box<dyn Task>, TaskError> {
    let kind = super::mujoco::Kind::from_name(name).expect("a registered MuJoCo task");
    Ok(Box::new(super::mujoco::Locomotion::new(kind)?))
}

#[cfg(not(feature = "mujoco"))]
fn locomotion(name: &str) -> Result<Box<dyn Task>, TaskError> {
    Err(TaskError::NeedsMuJoCo(name.to_string()))
}

const CARTPOLE_WGSL: &str = concat!(
    include_str!("../../shaders/task_cartpole.wgsl"),
    include_str!("../../shaders/cartpole_dynamics.wgsl")
);
const CARTPOLE_POS_WGSL: &str = concat!(
    include_str!("../../shaders/task_cartpole_pos.wgsl"),
    include_str!("../../shaders/cartpole_dynamics.wgsl")
);

/// A MuJoCo locomotion task's spec.
fn mujoco_task(name: &'static str, gymnasium: &str, obs_dim: usize, act_dim: usize) -> TaskSpec {
    TaskSpec::new(
        name,
        obs_dim,
        ActionKind::Continuous(act_dim),
        1000,
        move || locomotion(name),
    )
    .with_description(gymnasium)
    .on_mujoco()
}

/// The built-in tasks, control tasks first: the registry starts with these.
pub fn builtins() -> Vec<TaskSpec> {
    vec![
        TaskSpec::new("cartpole", 4, ActionKind::Discrete(2), 500, || {
            classic(cartpole::CartPole::new(false))
        })
        .with_description("CartPole-v1")
        .with_wgsl(CARTPOLE_WGSL),
        TaskSpec::new("cartpole-pos", 2, ActionKind::Discrete(2), 500, || {
            classic(cartpole::CartPole::new(true))
        })
        .with_description("CartPole-v1 (x and theta observed)")
        .with_wgsl(CARTPOLE_POS_WGSL),
        TaskSpec::new("acrobot", 6, ActionKind::Discrete(3), 500, || {
            classic(acrobot::Acrobot::new())
        })
        .with_description("Acrobot-v1")
        .with_wgsl(include_str!("../../shaders/task_acrobot.wgsl")),
        TaskSpec::new("pendulum", 3, ActionKind::Continuous(1), 200, || {
            classic(pendulum::Pendulum::new())
        })
        .with_description("Pendulum-v1")
        .with_wgsl(include_str!("../../shaders/task_pendulum.wgsl")),
        TaskSpec::new(
            "mountaincar-continuous",
            2,
            ActionKind::Continuous(1),
            999,
            || classic(mountain_car::MountainCarContinuous::new()),
        )
        .with_description("MountainCarContinuous-v0")
        .with_wgsl(include_str!(
            "../../shaders/task_mountaincar_continuous.wgsl"
        )),
        mujoco_task("hopper", "Hopper-v5", 11, 3),
        mujoco_task("walker2d", "Walker2d-v5", 17, 6),
        mujoco_task("halfcheetah", "HalfCheetah-v5", 17, 6),
        mujoco_task("ant", "Ant-v5", 105, 8),
        mujoco_task("humanoid", "Humanoid-v5", 348, 17),
    ]
}

/// The built-in control tasks' names (the built-ins that need no MuJoCo), in order.
pub const CLASSIC_NAMES: [&str; 5] = [
    "cartpole",
    "cartpole-pos",
    "acrobot",
    "pendulum",
    "mountaincar-continuous",
];
/// The MuJoCo tasks' names, in order.
pub const MUJOCO_NAMES: [&str; 5] = ["hopper", "walker2d", "halfcheetah", "ant", "humanoid"];

/// The process's registry: the built-ins, then every registered task in order.
fn table() -> &'static RwLock<Vec<Arc<TaskSpec>>> {
    static TABLE: OnceLock<RwLock<Vec<Arc<TaskSpec>>>> = OnceLock::new();
    TABLE.get_or_init(|| RwLock::new(builtins().into_iter().map(Arc::new).collect()))
}

fn read() -> std::sync::RwLockReadGuard<'static, Vec<Arc<TaskSpec>>> {
    // A panic while holding the lock cannot leave the table half-written (pushes are
    // atomic with respect to readers), so a poisoned lock is still a valid table.
    table().read().unwrap_or_else(|e| e.into_inner())
}

/// Adds a task (WGSL already validated by the caller, [`crate::register_task`]).
/// Names are unique: registering a name twice is an error, so a config always means
/// the same task within a process.
pub(crate) fn insert(spec: TaskSpec) -> Result<Arc<TaskSpec>, TaskError> {
    let mut table = table().write().unwrap_or_else(|e| e.into_inner());
    if spec.name().is_empty() || spec.name().chars().any(|c| c.is_control() || c == '"') {
        return Err(TaskError::BadName(spec.name().to_string()));
    }
    if table.iter().any(|t| t.name() == spec.name()) {
        return Err(TaskError::Duplicate(spec.name().to_string()));
    }
    let spec = Arc::new(spec);
    table.push(spec.clone());
    Ok(spec)
}

/// The registered task `name`, whether or not this build can run it.
pub fn lookup(name: &str) -> Result<Arc<TaskSpec>, TaskError> {
    read()
        .iter()
        .find(|t| t.name() == name)
        .cloned()
        .ok_or_else(|| TaskError::Unknown(name.to_string()))
}

/// The task `name` if this build can run it (a MuJoCo task without the feature says
/// how to get it).
pub fn find(name: &str) -> Result<Arc<TaskSpec>, TaskError> {
    let t = lookup(name)?;
    if !t.available() {
        return Err(TaskError::NeedsMuJoCo(name.to_string()));
    }
    Ok(t)
}

/// The tasks this build can run, in registry order.
pub fn available() -> Vec<Arc<TaskSpec>> {
    read().iter().filter(|t| t.available()).cloned().collect()
}

/// The names of the tasks this build can run, comma-separated (for error messages).
pub fn available_names() -> String {
    available()
        .iter()
        .map(|t| t.name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{MUJOCO_TASK_NAMES, TASK_NAMES};

    #[test]
    fn the_name_lists_are_the_table() {
        let names: Vec<String> = builtins().iter().map(|t| t.name().to_string()).collect();
        assert_eq!([TASK_NAMES, MUJOCO_TASK_NAMES].concat(), names);
        assert!(!TASK_NAMES.is_empty() && !MUJOCO_TASK_NAMES.is_empty());
    }

    /// The metadata is what the constructed task reports (for MuJoCo tasks in builds
    /// with the feature, which CI runs).
    #[test]
    fn metadata_matches_the_constructed_tasks() {
        for info in available() {
            let t = info.checked_instance().unwrap();
            assert_eq!(t.name(), info.name());
            assert_eq!(info.wgsl().is_some(), !info.mujoco(), "{}", info.name());
        }
    }

    #[test]
    fn unknown_and_unavailable_names_are_told_apart() {
        assert!(matches!(find("nope"), Err(TaskError::Unknown(_))));
        if !cfg!(feature = "mujoco") {
            assert!(matches!(find("hopper"), Err(TaskError::NeedsMuJoCo(_))));
            assert!(lookup("hopper").is_ok());
        }
    }

    /// A duplicate name, an empty name and a spec whose instances report other sizes
    /// are refused, naming the task.
    #[test]
    fn registration_refuses_duplicates_bad_names_and_mismatched_specs() {
        let cartpole = || classic(cartpole::CartPole::new(false));
        let e = insert(TaskSpec::new(
            "cartpole",
            4,
            ActionKind::Discrete(2),
            500,
            cartpole,
        ))
        .unwrap_err();
        assert_eq!(e, TaskError::Duplicate("cartpole".into()));
        assert!(e.to_string().contains("cartpole"), "{e}");
        let e = insert(TaskSpec::new("", 4, ActionKind::Discrete(2), 500, cartpole)).unwrap_err();
        assert!(matches!(e, TaskError::BadName(_)), "{e}");
        let wrong = TaskSpec::new(
            "registry-test-wrong",
            5,
            ActionKind::Discrete(2),
            500,
            cartpole,
        );
        let e = wrong.checked_instance().err().unwrap();
        assert!(
            e.to_string().contains("registry-test-wrong") && e.to_string().contains("obs_dim"),
            "{e}"
        );
        let spec = insert(TaskSpec::new(
            "registry-test-ok",
            4,
            ActionKind::Discrete(2),
            500,
            cartpole,
        ))
        .unwrap();
        assert_eq!(find("registry-test-ok").unwrap().name(), spec.name());
        assert!(available().iter().any(|t| t.name() == "registry-test-ok"));
        assert!(TaskError::Unknown("zzz".into())
            .to_string()
            .contains("registry-test-ok"));
    }
}
