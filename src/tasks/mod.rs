//! Built-in control tasks, defined exactly as Gymnasium 1.x defines them (in f64).
//!
//! Each task keeps its physics in a plain struct of `f64` and free functions over it,
//! so the math can be ported line by line to WGSL. Expressions keep Gymnasium's
//! evaluation order, so results agree with it to the last bit or two.

use thiserror::Error;

pub mod acrobot;
pub mod cartpole;
pub mod mountain_car;
#[cfg(feature = "mujoco")]
pub mod mujoco;
pub mod pendulum;
pub mod registry;
pub mod replay;
pub mod spec;
pub mod vector;

pub use self::spec::{ActionKind, TaskConstructor, TaskFactory, TaskSpec, VectorConstructor};
pub use self::vector::{ActionBatch, EpisodeKey, TaskBatch, VectorStep, VectorTask};

/// The action space of a task, in the task's own units.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionSpace {
    /// `n` discrete actions `0..n`.
    Discrete(usize),
    /// A box of `low.len()` continuous dimensions.
    Continuous { low: Vec<f64>, high: Vec<f64> },
}

impl ActionSpace {
    /// Number of network outputs this space needs (`n` for discrete, the dimension otherwise).
    pub fn outputs(&self) -> usize {
        match self {
            ActionSpace::Discrete(n) => *n,
            ActionSpace::Continuous { low, .. } => low.len(),
        }
    }
}

/// One action, in the task's own units (not normalised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<'a> {
    /// An index into a discrete space.
    Discrete(usize),
    /// One value per dimension of a continuous space.
    Continuous(&'a [f64]),
}

/// What one step returns besides the new observation (read with [`Task::observe`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The reward for this transition.
    pub reward: f64,
    /// The task reached a terminal state.
    pub terminated: bool,
    /// The TimeLimit ran out (independent of `terminated`).
    pub truncated: bool,
}

/// Errors from building or driving a task.
#[derive(Debug, Error, PartialEq)]
pub enum TaskError {
    /// No task has this name.
    #[error(
        "unknown task `{0}`; known tasks: {known}{mj}",
        known = registry::available_names(),
        mj = if cfg!(feature = "mujoco") {
            String::new()
        } else {
            format!(", and with the `mujoco` feature: {}", MUJOCO_TASK_NAMES.join(", "))
        }
    )]
    Unknown(String),
    /// A task of this name is already registered.
    #[error("a task named `{0}` is already registered; task names are unique")]
    Duplicate(String),
    /// A name a config could not refer to.
    #[error("invalid task name {0:?}: it must be non-empty, without control characters or quotes")]
    BadName(String),
    /// A task's instances do not report what its spec says.
    #[error("task `{task}`: its spec says {what} {spec}, but an instance reports {instance}")]
    SpecMismatch {
        task: String,
        what: String,
        spec: String,
        instance: String,
    },
    /// A task that steps members in batches only was asked for one instance.
    #[error("task `{0}` steps members in batches only; this needs a per-member instance")]
    BatchedOnly(String),
    /// A task's WGSL port does not compile or does not fit its spec.
    #[error("task `{task}`: WGSL port: {reason}")]
    Wgsl { task: String, reason: String },
    /// A MuJoCo task was asked of a build without the `mujoco` feature.
    #[error(
        "task `{0}` runs on MuJoCo: build satr with `--features mujoco` after \
         `eval \"$(scripts/setup_mujoco.sh)\"` (see README)"
    )]
    NeedsMuJoCo(String),
    /// MuJoCo could not load the task's model.
    #[error("task `{task}`: {reason}")]
    MuJoCo { task: &'static str, reason: String },
    /// `set_state` got a vector of the wrong length.
    #[error("task `{task}` has a state of {expected} values, got {got}")]
    StateLength {
        task: &'static str,
        expected: usize,
        got: usize,
    },
    /// The action does not fit the task's action space (or is not finite).
    #[error("task `{task}`: invalid action: {reason}")]
    InvalidAction { task: &'static str, reason: String },
    /// A line of an action file (see [`replay::parse_actions`]) could not be used.
    #[error("action file, line {line}: {reason}")]
    ActionFile { line: usize, reason: String },
    /// A task defined outside satr (a Python environment of the `satr` package, say)
    /// could not be built or stepped; `reason` names what failed.
    #[error("task `{task}`: {reason}")]
    External { task: String, reason: String },
}

/// The built-in control tasks (the registry's rows that need no MuJoCo).
pub const TASK_NAMES: &[&str] = &registry::CLASSIC_NAMES;

/// The MuJoCo locomotion tasks (Gymnasium v5), available with the `mujoco` feature.
pub const MUJOCO_TASK_NAMES: &[&str] = &registry::MUJOCO_NAMES;

/// Every task this build can run, in registry order (built-ins, then registered ones).
pub fn available_tasks() -> Vec<String> {
    registry::available()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}

/// A control task: a deterministic simulator whose randomness (resets) comes from the caller.
pub trait Task: Send {
    /// The task's name (its [`TaskSpec`]'s).
    fn name(&self) -> &'static str;
    /// Length of the observation vector.
    fn obs_dim(&self) -> usize;
    /// The action space.
    fn action_space(&self) -> ActionSpace;
    /// Gymnasium's TimeLimit for this task (the step at which `truncated` becomes true).
    fn max_episode_steps(&self) -> usize;
    /// Starts an episode: draws the initial state from `uniform` (each call returns an
    /// independent uniform sample in `[0, 1)`), resets the step counter.
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64);
    /// Writes the current observation into `obs` (length `obs_dim()`).
    fn observe(&self, obs: &mut [f64]);
    /// Advances one environment step. As Gymnasium's TimeLimit: `truncated` is true when
    /// the step counter reaches `max_episode_steps()`, whether or not the step terminated.
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError>;
    /// The full simulator state (as Gymnasium's `env.unwrapped.state`).
    fn state(&self) -> Vec<f64>;
    /// Sets the full simulator state and resets the step counter to 0.
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError>;
}

/// Builds a task by name (see [`registry`]).
pub fn make_task(name: &str) -> Result<Box<dyn Task>, TaskError> {
    registry::find(name)?.make()
}

/// Gymnasium's `TimeLimit` wrapper: counts steps since the last reset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TimeLimit {
    max_steps: usize,
    elapsed: usize,
}

impl TimeLimit {
    pub(crate) fn new(max_steps: usize) -> Self {
        TimeLimit {
            max_steps,
            elapsed: 0,
        }
    }

    pub(crate) fn max_steps(&self) -> usize {
        self.max_steps
    }

    pub(crate) fn restart(&mut self) {
        self.elapsed = 0;
    }

    /// Counts one step; true when the limit is reached (Gymnasium uses `>=`).
    pub(crate) fn tick(&mut self) -> bool {
        self.elapsed += 1;
        self.elapsed >= self.max_steps
    }
}

/// Checks a discrete action against `n` choices.
pub(crate) fn discrete_action(
    task: &'static str,
    n: usize,
    action: Action<'_>,
) -> Result<usize, TaskError> {
    match action {
        Action::Discrete(a) if a < n => Ok(a),
        Action::Discrete(a) => Err(TaskError::InvalidAction {
            task,
            reason: format!("index {a} out of range 0..{n}"),
        }),
        Action::Continuous(_) => Err(TaskError::InvalidAction {
            task,
            reason: "expected a discrete action, got a continuous one".to_string(),
        }),
    }
}

/// Checks a continuous action's length and that every value is finite. Values
/// outside the box are allowed: Gymnasium clips (or charges) them itself.
pub(crate) fn continuous_action<'a>(
    task: &'static str,
    dim: usize,
    action: Action<'a>,
) -> Result<&'a [f64], TaskError> {
    match action {
        Action::Continuous(a) if a.len() != dim => Err(TaskError::InvalidAction {
            task,
            reason: format!("expected {dim} values, got {}", a.len()),
        }),
        Action::Continuous(a) => match a.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(TaskError::InvalidAction {
                task,
                reason: format!("value {i} is not finite ({})", a[i]),
            }),
            None => Ok(a),
        },
        Action::Discrete(_) => Err(TaskError::InvalidAction {
            task,
            reason: "expected a continuous action, got a discrete one".to_string(),
        }),
    }
}

/// Checks the length of a state passed to `set_state`.
pub(crate) fn check_state_len(
    task: &'static str,
    expected: usize,
    state: &[f64],
) -> Result<(), TaskError> {
    if state.len() == expected {
        Ok(())
    } else {
        Err(TaskError::StateLength {
            task,
            expected,
            got: state.len(),
        })
    }
}

/// Python's `min(max(x, lo), hi)`: unlike `f64::clamp` it never panics and, like
/// NumPy's `clip`, lets NaN through.
pub(crate) fn clip(x: f64, lo: f64, hi: f64) -> f64 {
    let y = if lo > x { lo } else { x };
    if hi < y {
        hi
    } else {
        y
    }
}

/// NumPy's `uniform(low, high)` given a uniform sample `u` in `[0, 1)`.
pub(crate) fn uniform_in(low: f64, high: f64, u: f64) -> f64 {
    low + (high - low) * u
}
