//! Replaying a fixed action sequence from a given state, for `satr replay` and for
//! comparing the tasks against Gymnasium.

use super::{Action, ActionSpace, Task, TaskError};

/// Parses an action file: one action per non-empty line. A discrete action is an
/// index in range; a continuous one is `dim` finite numbers separated by commas or
/// whitespace. Discrete actions come back as one-element vectors.
pub fn parse_actions(space: &ActionSpace, text: &str) -> Result<Vec<Vec<f64>>, TaskError> {
    let mut actions = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fail = |reason: String| TaskError::ActionFile {
            line: i + 1,
            reason,
        };
        match space {
            ActionSpace::Discrete(n) => {
                let a: usize = line
                    .parse()
                    .map_err(|_| fail(format!("`{line}` is not a discrete action index")))?;
                if a >= *n {
                    return Err(fail(format!("action {a} out of range 0..{n}")));
                }
                actions.push(vec![a as f64]);
            }
            ActionSpace::Continuous { low, .. } => {
                // Commas, if present, are the separators, so `1,,2` is an error rather
                // than a silently shorter action.
                let fields: Vec<&str> = if line.contains(',') {
                    line.split(',').map(str::trim).collect()
                } else {
                    line.split_whitespace().collect()
                };
                let mut action = Vec::with_capacity(fields.len());
                for field in fields {
                    let v: f64 = field
                        .parse()
                        .map_err(|_| fail(format!("`{field}` is not a number")))?;
                    if !v.is_finite() {
                        return Err(fail(format!("`{field}` is not finite")));
                    }
                    action.push(v);
                }
                if action.len() != low.len() {
                    return Err(fail(format!(
                        "expected {} values, got {}",
                        low.len(),
                        action.len()
                    )));
                }
                actions.push(action);
            }
        }
    }
    Ok(actions)
}

/// One step of a replay, as `satr replay` prints it (one JSON line per step).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReplayStep {
    /// Observation after the step.
    pub obs: Vec<f64>,
    /// Reward of the step.
    pub reward: f64,
    /// The step reached a terminal state.
    pub terminated: bool,
    /// The step hit the time limit.
    pub truncated: bool,
}

/// Sets `state` (restarting the step counter), then steps through `actions`, stopping
/// after the first step that terminates or truncates. Discrete actions are
/// one-element vectors holding a non-negative integer.
pub fn replay(
    task: &mut dyn Task,
    state: &[f64],
    actions: &[Vec<f64>],
) -> Result<Vec<ReplayStep>, TaskError> {
    task.set_state(state)?;
    let discrete = matches!(task.action_space(), ActionSpace::Discrete(_));
    let mut obs = vec![0.0; task.obs_dim()];
    let mut steps = Vec::with_capacity(actions.len());
    for action in actions {
        let step = if discrete {
            let index = discrete_index(action).ok_or_else(|| TaskError::InvalidAction {
                task: task.name(),
                reason: format!("{action:?} is not a single non-negative integer"),
            })?;
            task.step(Action::Discrete(index))?
        } else {
            task.step(Action::Continuous(action))?
        };
        task.observe(&mut obs);
        steps.push(ReplayStep {
            obs: obs.clone(),
            reward: step.reward,
            terminated: step.terminated,
            truncated: step.truncated,
        });
        if step.terminated || step.truncated {
            break;
        }
    }
    Ok(steps)
}

/// The index held by a one-element discrete action, if it is a non-negative integer.
fn discrete_index(action: &[f64]) -> Option<usize> {
    match action {
        [v] if *v >= 0.0 && v.fract() == 0.0 && *v <= usize::MAX as f64 => Some(*v as usize),
        _ => None,
    }
}
