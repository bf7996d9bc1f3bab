//! The built-in tasks against Gymnasium reference data (`scripts/gen_task_refs.py`),
//! plus resets, time limits, errors and action files. What each task's checks need
//! (reference file, horizons, reset ranges, metadata) is its fixture
//! (`tests/common/task_fixtures.rs`).

use satr::tasks::replay::{parse_actions, replay, ReplayStep};
use satr::tasks::{make_task, Action, ActionSpace, Step, Task, TaskError, TASK_NAMES};
use serde_json::Value;

use crate::common::task_fixtures::{fixture, TaskFixture, TASKS};

/// Relative `rel` plus absolute `abs` tolerance around the reference `want`.
fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= abs + rel * want.abs()
}

/// Gymnasium returns observations as float32: allow its rounding (2^-24 relative)
/// with margin, and an absolute floor for values near zero.
fn obs_close(got: f64, want: f64) -> bool {
    close(got, want, 1e-6, 1e-6)
}

fn step_with(task: &mut dyn Task, action: &[f64]) -> Result<Step, TaskError> {
    match task.action_space() {
        ActionSpace::Discrete(_) => task.step(Action::Discrete(action[0] as usize)),
        ActionSpace::Continuous { .. } => task.step(Action::Continuous(action)),
    }
}

fn observation(task: &dyn Task) -> Vec<f64> {
    let mut obs = vec![f64::NAN; task.obs_dim()];
    task.observe(&mut obs);
    obs
}

mod action_files;
mod behaviour;
mod gymnasium;
