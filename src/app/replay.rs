//! `satr replay`: a task stepped from a given state through a file of actions.

use std::path::Path;

use super::error::{io_error, TrainError};
use crate::tasks::{self, make_task};

/// Steps `task` from `state` (comma-separated numbers) through the actions in the
/// file at `actions` (one per line); one record per step.
pub fn replay(
    task: &str,
    state: &str,
    actions: &Path,
) -> Result<Vec<tasks::replay::ReplayStep>, TrainError> {
    let mut t = make_task(task)?;
    let state: Vec<f64> = state
        .split(',')
        .map(|s| match s.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            Ok(_) => Err(TrainError::Usage(format!(
                "--state value `{}` is not finite",
                s.trim()
            ))),
            Err(_) => Err(TrainError::Usage(format!(
                "--state value `{}` is not a number",
                s.trim()
            ))),
        })
        .collect::<Result<_, _>>()?;
    let text = std::fs::read_to_string(actions).map_err(io_error(actions))?;
    let acts = tasks::replay::parse_actions(&t.action_space(), &text)?;
    Ok(tasks::replay::replay(t.as_mut(), &state, &acts)?)
}
