//! What satr knows of a task before it builds one: [`TaskSpec`] (name, spaces, step
//! limit, constructor, optional WGSL port). Built-in tasks and a user's tasks are both
//! specs in the runtime [`registry`](super::registry); a run resolves its task once and
//! passes the spec to every consumer (evaluator, cost probe, policy, memory estimate).

use std::fmt;
use std::sync::Arc;

use super::vector::{TaskBatch, VectorTask};
use super::{Task, TaskError};

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

/// Builds one instance of a task (one per member being run, so members run in parallel).
pub type TaskConstructor = Arc<dyn Fn() -> Result<Box<dyn Task>, TaskError> + Send + Sync>;

/// Builds task instances that cannot fail (the spec's constructor, checked once by
/// [`TaskSpec::factory`]): what evaluators call on their worker threads.
pub type TaskFactory = Arc<dyn Fn() -> Box<dyn Task> + Send + Sync>;

/// Builds a batched instance holding this many members.
pub type VectorConstructor =
    Arc<dyn Fn(usize) -> Result<Box<dyn VectorTask>, TaskError> + Send + Sync>;

/// A task as the registry holds it. Construct with [`TaskSpec::new`], add the optional
/// parts with the `with_*` methods, and register it with [`crate::register_task`].
#[derive(Clone)]
pub struct TaskSpec {
    name: String,
    description: String,
    obs_dim: usize,
    action: ActionKind,
    max_episode_steps: usize,
    wgsl: Option<&'static str>,
    mujoco: bool,
    /// `None` for a task that only steps members in batches.
    make: Option<TaskConstructor>,
    vector: Option<VectorConstructor>,
}

impl fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("obs_dim", &self.obs_dim)
            .field("action", &self.action)
            .field("max_episode_steps", &self.max_episode_steps)
            .field("wgsl", &self.wgsl.is_some())
            .finish_non_exhaustive()
    }
}

impl TaskSpec {
    /// A task named `name` (the name configs use: `task = "<name>"`) whose instances
    /// `make` builds; every instance must report these sizes (checked when a run builds
    /// its evaluator).
    pub fn new(
        name: impl Into<String>,
        obs_dim: usize,
        action: ActionKind,
        max_episode_steps: usize,
        make: impl Fn() -> Result<Box<dyn Task>, TaskError> + Send + Sync + 'static,
    ) -> Self {
        TaskSpec {
            make: Some(Arc::new(make)),
            ..Self::bare(name.into(), obs_dim, action, max_episode_steps)
        }
    }

    /// A task that only steps members in batches (a vector env, a JAX env): `make`
    /// builds an instance holding the given number of members. Evaluators run it in
    /// lockstep; the per-member tools (the cost figures of a training run, `satr eval
    /// --transcript`) are not available for it.
    pub fn batched(
        name: impl Into<String>,
        obs_dim: usize,
        action: ActionKind,
        max_episode_steps: usize,
        make: impl Fn(usize) -> Result<Box<dyn VectorTask>, TaskError> + Send + Sync + 'static,
    ) -> Self {
        TaskSpec {
            vector: Some(Arc::new(make)),
            ..Self::bare(name.into(), obs_dim, action, max_episode_steps)
        }
    }

    /// The sizes alone, with no constructor yet (each public constructor adds one).
    fn bare(name: String, obs_dim: usize, action: ActionKind, max_episode_steps: usize) -> Self {
        TaskSpec {
            description: name.clone(),
            name,
            obs_dim,
            action,
            max_episode_steps,
            wgsl: None,
            mujoco: false,
            make: None,
            vector: None,
        }
    }

    /// A batched constructor beside the per-member one: evaluators that step members
    /// in lockstep use it instead of one instance per member.
    pub fn with_vector(
        mut self,
        make: impl Fn(usize) -> Result<Box<dyn VectorTask>, TaskError> + Send + Sync + 'static,
    ) -> Self {
        self.vector = Some(Arc::new(make));
        self
    }

    /// A one-line description (`satr info`; the built-ins name their Gymnasium id).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// An f32 WGSL port implementing `shaders/task_interface.wgsl`: with it the GPU
    /// backend runs whole episodes on the device (`[gpu] mode = "generation"`). It is
    /// validated with naga when the task is registered.
    pub fn with_wgsl(mut self, source: &'static str) -> Self {
        self.wgsl = Some(source);
        self
    }

    /// Marks a built-in task that runs on MuJoCo (available with the `mujoco` feature).
    pub(crate) fn on_mujoco(mut self) -> Self {
        self.mujoco = true;
        self
    }

    /// The name configs and the command line use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The one-line description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Observation length.
    pub fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// Action space shape.
    pub fn action(&self) -> ActionKind {
        self.action
    }

    /// The step at which an episode is truncated.
    pub fn max_episode_steps(&self) -> usize {
        self.max_episode_steps
    }

    /// The WGSL port, if any.
    pub fn wgsl(&self) -> Option<&'static str> {
        self.wgsl
    }

    /// Runs on MuJoCo.
    pub fn mujoco(&self) -> bool {
        self.mujoco
    }

    /// Whether this build can run it.
    pub fn available(&self) -> bool {
        !self.mujoco || cfg!(feature = "mujoco")
    }

    /// A fresh single-member instance.
    pub fn make(&self) -> Result<Box<dyn Task>, TaskError> {
        if !self.available() {
            return Err(TaskError::NeedsMuJoCo(self.name.clone()));
        }
        match &self.make {
            Some(make) => make(),
            None => Err(TaskError::BatchedOnly(self.name.clone())),
        }
    }

    /// Whether the task has a single-member constructor (else it is batched only).
    pub fn per_member(&self) -> bool {
        self.make.is_some()
    }

    /// Whether the task has its own batched constructor.
    pub fn native_vector(&self) -> bool {
        self.vector.is_some()
    }

    /// The single-member constructor, to build instances on other threads.
    pub fn constructor(&self) -> TaskConstructor {
        let spec = self.clone();
        Arc::new(move || spec.make())
    }

    /// A factory for worker threads: one instance is built and checked against the
    /// spec here, so a task that cannot be built (or disagrees with its spec) is an
    /// error before any evaluation, naming the task. A constructor that succeeds once
    /// and fails later panics, naming the task.
    pub fn factory(&self) -> Result<TaskFactory, TaskError> {
        self.checked_instance()?;
        let spec = self.clone();
        Ok(Arc::new(move || {
            spec.make()
                .unwrap_or_else(|e| panic!("task `{}` built once, then failed: {e}", spec.name))
        }))
    }

    /// A batched instance of `slots` members: the task's own, or single-member
    /// instances adapted by [`TaskBatch`]. Its sizes are checked against the spec.
    pub fn make_vector(&self, slots: usize) -> Result<Box<dyn VectorTask>, TaskError> {
        if !self.available() {
            return Err(TaskError::NeedsMuJoCo(self.name.clone()));
        }
        let v: Box<dyn VectorTask> = match &self.vector {
            Some(make) => make(slots)?,
            None => Box::new(TaskBatch::new(slots, &|| self.make())?),
        };
        if v.slots() < slots {
            return Err(self.mismatch("slots", slots.to_string(), v.slots().to_string()));
        }
        self.check_sizes(v.obs_dim(), &v.action_space(), v.max_episode_steps())?;
        Ok(v)
    }

    fn mismatch(&self, what: &str, spec: String, instance: String) -> TaskError {
        TaskError::SpecMismatch {
            task: self.name.clone(),
            what: what.to_string(),
            spec,
            instance,
        }
    }

    /// An instance's sizes equal the spec's.
    fn check_sizes(
        &self,
        obs_dim: usize,
        space: &super::ActionSpace,
        max_steps: usize,
    ) -> Result<(), TaskError> {
        let kind = match space {
            super::ActionSpace::Discrete(n) => ActionKind::Discrete(*n),
            super::ActionSpace::Continuous { low, .. } => ActionKind::Continuous(low.len()),
        };
        if obs_dim != self.obs_dim {
            return Err(self.mismatch("obs_dim", self.obs_dim.to_string(), obs_dim.to_string()));
        }
        if kind != self.action {
            return Err(self.mismatch(
                "action space",
                format!("{:?}", self.action),
                format!("{kind:?}"),
            ));
        }
        if max_steps != self.max_episode_steps {
            return Err(self.mismatch(
                "max_episode_steps",
                self.max_episode_steps.to_string(),
                max_steps.to_string(),
            ));
        }
        Ok(())
    }

    /// The action space with its bounds, read from an instance (single-member, else a
    /// one-slot batched one).
    pub fn action_space(&self) -> Result<super::ActionSpace, TaskError> {
        if self.per_member() {
            Ok(self.checked_instance()?.action_space())
        } else {
            Ok(self.make_vector(1)?.action_space())
        }
    }

    /// Builds what the task offers (a single-member instance, else a one-slot batched
    /// one) and checks its sizes against the spec.
    pub fn check(&self) -> Result<(), TaskError> {
        if self.per_member() {
            self.checked_instance().map(drop)
        } else {
            self.make_vector(1).map(drop)
        }
    }

    /// Builds one instance and checks that it reports the spec's sizes, so that a
    /// spec and its constructor that disagree fail here, naming the task, instead of
    /// deep inside an evaluator.
    pub fn checked_instance(&self) -> Result<Box<dyn Task>, TaskError> {
        let t = self.make()?;
        self.check_sizes(t.obs_dim(), &t.action_space(), t.max_episode_steps())?;
        Ok(t)
    }
}
