//! The batched task seam: a [`VectorTask`] resets a masked set of members and steps
//! every active member in one call, the shape of a Gymnasium vector env, a JAX/Brax
//! env or any batched simulator. [`TaskBatch`] adapts single-member [`Task`]s to it,
//! stepping its slots in parallel, so the lockstep evaluators drive one seam whatever
//! the task.

use rayon::prelude::*;

use super::{Action, ActionSpace, Step, Task, TaskError};
use crate::rng::{self, StreamReader, STREAM_RESET};

/// One episode of one member: its reset draws come from the reset stream of this key
/// (SPEC 3), so an episode is the same whichever path or process runs it. A training
/// run's train members are `0..P`, its eval members `P..P+E`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct EpisodeKey {
    pub seed: u64,
    pub generation: u32,
    pub member: u32,
    pub episode: u32,
}

impl EpisodeKey {
    /// The uniform draws in `[0, 1)` a task's reset takes, in order.
    pub fn reset_stream(&self) -> StreamReader {
        StreamReader::new(
            self.seed,
            self.generation,
            self.member,
            rng::stream_word(STREAM_RESET, self.episode),
        )
    }

    /// A 63-bit integer seed for simulators that take one (Gymnasium's `reset(seed=)`):
    /// the first two draws of the reset stream, so distinct keys give distinct seeds
    /// with overwhelming probability and equal keys equal seeds.
    pub fn seed_u63(&self) -> u64 {
        let mut r = self.reset_stream();
        let hi = (r.next_f64() * 4_294_967_296.0) as u64;
        let lo = (r.next_f64() * 4_294_967_296.0) as u64;
        ((hi << 32) | lo) >> 1
    }
}

/// The actions of every slot for one [`VectorTask::step`], in the task's own units;
/// rows of inactive slots hold anything and must be ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ActionBatch<'a> {
    /// One index per slot.
    Discrete(&'a [usize]),
    /// `dim` values per slot, slot-major.
    Continuous { values: &'a [f64], dim: usize },
}

impl<'a> ActionBatch<'a> {
    /// Slot `i`'s action.
    pub fn get(&self, i: usize) -> Action<'a> {
        match *self {
            ActionBatch::Discrete(a) => Action::Discrete(a[i]),
            ActionBatch::Continuous { values, dim } => {
                Action::Continuous(&values[i * dim..(i + 1) * dim])
            }
        }
    }
}

/// What a [`VectorTask::step`] wrote for one active slot (inactive slots' entries are
/// left as they were).
pub type VectorStep = Step;

/// A task that steps many members at once. Slots `0..slots()` each hold one member's
/// episode; the caller resets a slot before stepping it and stops stepping it once its
/// step reports `terminated` or `truncated` (no autoreset: a finished slot waits,
/// masked, until the caller resets it).
pub trait VectorTask: Send {
    /// Members this instance holds.
    fn slots(&self) -> usize;
    /// Length of one observation.
    fn obs_dim(&self) -> usize;
    /// The action space.
    fn action_space(&self) -> ActionSpace;
    /// The step at which an episode is truncated.
    fn max_episode_steps(&self) -> usize;
    /// Resets every slot `i` with `keys[i]` set, from that key, and writes its first
    /// observation into row `i` of `obs` (`slots() * obs_dim()` values).
    fn reset(&mut self, keys: &[Option<EpisodeKey>], obs: &mut [f64]) -> Result<(), TaskError>;
    /// Steps every slot `i` with `active[i]` by `actions.get(i)`, writes its result
    /// into `out[i]` and its next observation into row `i` of `obs`. An error (in slot
    /// order, the first) fails the whole call.
    fn step(
        &mut self,
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError>;
}

/// Single-member tasks as a [`VectorTask`]: one instance per slot, stepped in parallel
/// on rayon's pool (nothing a slot computes depends on the thread).
pub struct TaskBatch {
    tasks: Vec<Box<dyn Task>>,
    obs_dim: usize,
    space: ActionSpace,
    max_steps: usize,
}

impl TaskBatch {
    /// `slots` instances from `make` (at least one slot).
    pub fn new(
        slots: usize,
        make: &dyn Fn() -> Result<Box<dyn Task>, TaskError>,
    ) -> Result<Self, TaskError> {
        let tasks = (0..slots.max(1))
            .map(|_| make())
            .collect::<Result<Vec<_>, _>>()?;
        let t = &tasks[0];
        Ok(TaskBatch {
            obs_dim: t.obs_dim(),
            space: t.action_space(),
            max_steps: t.max_episode_steps(),
            tasks,
        })
    }
}

impl VectorTask for TaskBatch {
    fn slots(&self) -> usize {
        self.tasks.len()
    }

    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    fn action_space(&self) -> ActionSpace {
        self.space.clone()
    }

    fn max_episode_steps(&self) -> usize {
        self.max_steps
    }

    fn reset(&mut self, keys: &[Option<EpisodeKey>], obs: &mut [f64]) -> Result<(), TaskError> {
        let d = self.obs_dim;
        self.tasks
            .par_iter_mut()
            .zip(obs.par_chunks_mut(d.max(1)))
            .zip(keys.par_iter())
            .for_each(|((task, row), key)| {
                if let Some(key) = key {
                    let mut draws = key.reset_stream();
                    task.reset(&mut || draws.next_f64());
                    task.observe(&mut row[..d]);
                }
            });
        Ok(())
    }

    fn step(
        &mut self,
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError> {
        let d = self.obs_dim;
        let errors: Vec<Option<TaskError>> = self
            .tasks
            .par_iter_mut()
            .zip(obs.par_chunks_mut(d.max(1)))
            .zip(out.par_iter_mut())
            .enumerate()
            .map(|(i, ((task, row), step))| {
                if !active[i] {
                    return None;
                }
                match task.step(actions.get(i)) {
                    Ok(s) => {
                        *step = s;
                        task.observe(&mut row[..d]);
                        None
                    }
                    Err(e) => Some(e),
                }
            })
            .collect();
        match errors.into_iter().flatten().next() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
