//! The task registry: one table row per task (name, Gymnasium id, spaces, step limit,
//! constructor, optional WGSL port). Config validation, `satr info`, replay, the
//! evaluators and the GPU's full-generation mode all read it, so adding a task is one
//! row here plus its files.

use super::{acrobot, cartpole, mountain_car, pendulum, Task, TaskError};

/// How a task's actions come out of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// `n` discrete actions, one output each (argmax).
    Discrete(usize),
    /// A box of this many dimensions, one output each.
    Continuous(usize),
}

impl ActionKind {
    /// Network outputs.
    pub fn outputs(self) -> usize {
        match self {
            ActionKind::Discrete(n) | ActionKind::Continuous(n) => n,
        }
    }
}

/// One registered task.
#[derive(Debug, Clone, Copy)]
pub struct TaskInfo {
    /// The name configs and the command line use.
    pub name: &'static str,
    /// The Gymnasium environment it reproduces.
    pub gymnasium: &'static str,
    /// Observation length.
    pub obs_dim: usize,
    /// Action space shape.
    pub action: ActionKind,
    /// Gymnasium's TimeLimit.
    pub max_episode_steps: usize,
    /// Runs on MuJoCo (needs the `mujoco` feature).
    pub mujoco: bool,
    /// The f32 WGSL port (`shaders/task_<name>.wgsl`) for full-generation GPU mode.
    pub wgsl: Option<&'static str>,
    make: fn() -> Result<Box<dyn Task>, TaskError>,
}

impl TaskInfo {
    /// A fresh instance.
    pub fn make(&self) -> Result<Box<dyn Task>, TaskError> {
        (self.make)()
    }

    /// Whether this build can run it.
    pub fn available(&self) -> bool {
        !self.mujoco || cfg!(feature = "mujoco")
    }
}

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

/// Every task, built-in control tasks first.
pub const TASKS: &[TaskInfo] = &[
    TaskInfo {
        name: "cartpole",
        gymnasium: "CartPole-v1",
        obs_dim: 4,
        action: ActionKind::Discrete(2),
        max_episode_steps: 500,
        mujoco: false,
        wgsl: Some(CARTPOLE_WGSL),
        make: || classic(cartpole::CartPole::new(false)),
    },
    TaskInfo {
        name: "cartpole-pos",
        gymnasium: "CartPole-v1 (x and theta observed)",
        obs_dim: 2,
        action: ActionKind::Discrete(2),
        max_episode_steps: 500,
        mujoco: false,
        wgsl: Some(CARTPOLE_POS_WGSL),
        make: || classic(cartpole::CartPole::new(true)),
    },
    TaskInfo {
        name: "acrobot",
        gymnasium: "Acrobot-v1",
        obs_dim: 6,
        action: ActionKind::Discrete(3),
        max_episode_steps: 500,
        mujoco: false,
        wgsl: Some(include_str!("../../shaders/task_acrobot.wgsl")),
        make: || classic(acrobot::Acrobot::new()),
    },
    TaskInfo {
        name: "pendulum",
        gymnasium: "Pendulum-v1",
        obs_dim: 3,
        action: ActionKind::Continuous(1),
        max_episode_steps: 200,
        mujoco: false,
        wgsl: Some(include_str!("../../shaders/task_pendulum.wgsl")),
        make: || classic(pendulum::Pendulum::new()),
    },
    TaskInfo {
        name: "mountaincar-continuous",
        gymnasium: "MountainCarContinuous-v0",
        obs_dim: 2,
        action: ActionKind::Continuous(1),
        max_episode_steps: 999,
        mujoco: false,
        wgsl: Some(include_str!(
            "../../shaders/task_mountaincar_continuous.wgsl"
        )),
        make: || classic(mountain_car::MountainCarContinuous::new()),
    },
    TaskInfo {
        name: "hopper",
        gymnasium: "Hopper-v5",
        obs_dim: 11,
        action: ActionKind::Continuous(3),
        max_episode_steps: 1000,
        mujoco: true,
        wgsl: None,
        make: || locomotion("hopper"),
    },
    TaskInfo {
        name: "walker2d",
        gymnasium: "Walker2d-v5",
        obs_dim: 17,
        action: ActionKind::Continuous(6),
        max_episode_steps: 1000,
        mujoco: true,
        wgsl: None,
        make: || locomotion("walker2d"),
    },
    TaskInfo {
        name: "halfcheetah",
        gymnasium: "HalfCheetah-v5",
        obs_dim: 17,
        action: ActionKind::Continuous(6),
        max_episode_steps: 1000,
        mujoco: true,
        wgsl: None,
        make: || locomotion("halfcheetah"),
    },
    TaskInfo {
        name: "ant",
        gymnasium: "Ant-v5",
        obs_dim: 105,
        action: ActionKind::Continuous(8),
        max_episode_steps: 1000,
        mujoco: true,
        wgsl: None,
        make: || locomotion("ant"),
    },
    TaskInfo {
        name: "humanoid",
        gymnasium: "Humanoid-v5",
        obs_dim: 348,
        action: ActionKind::Continuous(17),
        max_episode_steps: 1000,
        mujoco: true,
        wgsl: None,
        make: || locomotion("humanoid"),
    },
];

/// How many rows have `mujoco` set to the given value.
const fn count(mujoco: bool) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < TASKS.len() {
        if TASKS[i].mujoco == mujoco {
            n += 1;
        }
        i += 1;
    }
    n
}

/// The names of the rows with `mujoco` set to the given value, in table order.
const fn names<const N: usize>(mujoco: bool) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut k) = (0, 0);
    while i < TASKS.len() {
        if TASKS[i].mujoco == mujoco {
            out[k] = TASKS[i].name;
            k += 1;
        }
        i += 1;
    }
    out
}

/// The built-in control tasks' names (derived from the table at compile time).
pub const CLASSIC_NAMES: [&str; count(false)] = names::<{ count(false) }>(false);
/// The MuJoCo tasks' names (derived from the table at compile time).
pub const MUJOCO_NAMES: [&str; count(true)] = names::<{ count(true) }>(true);

/// The registered task `name`, whether or not this build can run it.
pub fn lookup(name: &str) -> Result<&'static TaskInfo, TaskError> {
    TASKS
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| TaskError::Unknown(name.to_string()))
}

/// The task `name` if this build can run it (a MuJoCo task without the feature says
/// how to get it).
pub fn find(name: &str) -> Result<&'static TaskInfo, TaskError> {
    let t = lookup(name)?;
    if !t.available() {
        return Err(TaskError::NeedsMuJoCo(name.to_string()));
    }
    Ok(t)
}

/// The tasks this build can run, in table order.
pub fn available() -> impl Iterator<Item = &'static TaskInfo> {
    TASKS.iter().filter(|t| t.available())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{ActionSpace, MUJOCO_TASK_NAMES, TASK_NAMES};

    #[test]
    fn the_name_lists_are_the_table() {
        let names: Vec<&str> = TASKS.iter().map(|t| t.name).collect();
        assert_eq!([TASK_NAMES, MUJOCO_TASK_NAMES].concat(), names);
        assert!(!TASK_NAMES.is_empty() && !MUJOCO_TASK_NAMES.is_empty());
    }

    /// The metadata is what the constructed task reports (for MuJoCo tasks in builds
    /// with the feature, which CI runs).
    #[test]
    fn metadata_matches_the_constructed_tasks() {
        for info in available() {
            let t = info.make().unwrap();
            assert_eq!(t.name(), info.name);
            assert_eq!(t.obs_dim(), info.obs_dim, "{}", info.name);
            assert_eq!(
                t.max_episode_steps(),
                info.max_episode_steps,
                "{}",
                info.name
            );
            let kind = match t.action_space() {
                ActionSpace::Discrete(n) => ActionKind::Discrete(n),
                ActionSpace::Continuous { low, .. } => ActionKind::Continuous(low.len()),
            };
            assert_eq!(kind, info.action, "{}", info.name);
            assert_eq!(info.wgsl.is_some(), !info.mujoco, "{}", info.name);
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
}
