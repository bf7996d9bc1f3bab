//! Built-in control tasks, defined exactly as Gymnasium 1.x defines them (in f64).

use thiserror::Error;

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
    Discrete(usize),
    Continuous(&'a [f64]),
}

/// What one step returns besides the new observation (read with [`Task::observe`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub reward: f64,
    pub terminated: bool,
    pub truncated: bool,
}

/// Errors from building or driving a task.
#[derive(Debug, Error, PartialEq)]
pub enum TaskError {
    #[error("unknown task `{0}`; known tasks: {known}", known = TASK_NAMES.join(", "))]
    Unknown(String),
    #[error("task `{task}` has a state of {expected} values, got {got}")]
    StateLength {
        task: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("task `{task}`: invalid action: {reason}")]
    InvalidAction { task: &'static str, reason: String },
}

/// Names accepted by [`make_task`].
pub const TASK_NAMES: &[&str] = &[
    "cartpole",
    "cartpole-pos",
    "acrobot",
    "pendulum",
    "mountaincar-continuous",
];

/// A control task: a deterministic simulator whose randomness (resets) comes from the caller.
pub trait Task: Send {
    /// The registered name (one of [`TASK_NAMES`]).
    fn name(&self) -> &'static str;
    /// Length of the observation vector.
    fn obs_dim(&self) -> usize;
    /// The action space.
    fn action_space(&self) -> ActionSpace;
    /// Gymnasium's TimeLimit for this task (the step at which `truncated` becomes true).
    fn max_episode_steps(&self) -> usize;
    /// Starts an episode: draws the initial state from `uniform` (each call returns an
    /// independent uniform sample in [0, 1)), resets the step counter.
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

/// Builds a task by name.
pub fn make_task(name: &str) -> Result<Box<dyn Task>, TaskError> {
    Err(TaskError::Unknown(name.to_string()))
}
