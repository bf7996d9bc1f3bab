//! MountainCarContinuous-v0, as Gymnasium 1.x defines it (goal velocity 0).

use super::{
    check_state_len, clip, continuous_action, uniform_in, Action, ActionSpace, Step, Task,
    TaskError, TimeLimit,
};

/// Lower bound of the force (actions are clipped to it).
pub const MIN_ACTION: f64 = -1.0;
/// Upper bound of the force.
pub const MAX_ACTION: f64 = 1.0;
/// Left wall.
pub const MIN_POSITION: f64 = -1.2;
/// Right wall.
pub const MAX_POSITION: f64 = 0.6;
/// Speed limit.
pub const MAX_SPEED: f64 = 0.07;
/// Reaching this position (at non-negative velocity) terminates.
pub const GOAL_POSITION: f64 = 0.45;
/// Minimum velocity at the goal.
pub const GOAL_VELOCITY: f64 = 0.0;
/// Acceleration per unit of force.
pub const POWER: f64 = 0.0015;
/// Gravity term's coefficient (Gymnasium's literal).
pub const GRAVITY_COEF: f64 = 0.0025;
/// Reward for reaching the goal.
pub const GOAL_REWARD: f64 = 100.0;
/// Action cost coefficient.
pub const ACTION_COST: f64 = 0.1;
/// Reset draws the position from `[RESET_LOW, RESET_HIGH)` (velocity starts at 0).
pub const RESET_LOW: f64 = -0.6;
/// See [`RESET_LOW`].
pub const RESET_HIGH: f64 = -0.4;
/// TimeLimit of MountainCarContinuous-v0.
pub const MAX_EPISODE_STEPS: usize = 999;

/// The simulator state, in Gymnasium's order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MountainCarState {
    /// Position along the track.
    pub position: f64,
    /// Velocity.
    pub velocity: f64,
}

/// One step under the raw action `action`; returns the new state, as computed before
/// Gymnasium's float32 storage (see [`store_f32`]), and whether it is at the goal.
pub fn mountain_car_dynamics(s: MountainCarState, action: f64) -> (MountainCarState, bool) {
    let force = clip(action, MIN_ACTION, MAX_ACTION);
    let velocity = s.velocity + (force * POWER - GRAVITY_COEF * (3.0 * s.position).cos());
    let mut velocity = clip(velocity, -MAX_SPEED, MAX_SPEED);
    let position = clip(s.position + velocity, MIN_POSITION, MAX_POSITION);
    // An inelastic left wall.
    if position == MIN_POSITION && velocity < 0.0 {
        velocity = 0.0;
    }
    let terminated = position >= GOAL_POSITION && velocity >= GOAL_VELOCITY;
    (MountainCarState { position, velocity }, terminated)
}

/// Reward for a step: the goal bonus minus the cost of the raw action. Gymnasium
/// charges the action before clipping, so out-of-box actions cost more than they do.
pub fn mountain_car_reward(action: f64, terminated: bool) -> f64 {
    let bonus = if terminated { GOAL_REWARD } else { 0.0 };
    bonus - action * action * ACTION_COST
}

/// Gymnasium stores this task's state as float32 after every step (the termination
/// test and reward use the unrounded values); this reproduces that rounding.
pub fn store_f32(s: MountainCarState) -> MountainCarState {
    MountainCarState {
        position: s.position as f32 as f64,
        velocity: s.velocity as f32 as f64,
    }
}

/// MountainCarContinuous-v0.
#[derive(Debug, Clone)]
pub struct MountainCarContinuous {
    /// Current simulator state.
    pub state: MountainCarState,
    limit: TimeLimit,
}

impl MountainCarContinuous {
    /// A task at the all-zero state; call `reset` or `set_state` before use.
    pub fn new() -> Self {
        MountainCarContinuous {
            state: MountainCarState::default(),
            limit: TimeLimit::new(MAX_EPISODE_STEPS),
        }
    }
}

impl Default for MountainCarContinuous {
    fn default() -> Self {
        Self::new()
    }
}

impl Task for MountainCarContinuous {
    fn name(&self) -> &'static str {
        "mountaincar-continuous"
    }

    fn obs_dim(&self) -> usize {
        2
    }

    fn action_space(&self) -> ActionSpace {
        ActionSpace::Continuous {
            low: vec![MIN_ACTION],
            high: vec![MAX_ACTION],
        }
    }

    fn max_episode_steps(&self) -> usize {
        self.limit.max_steps()
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        // Gymnasium keeps the reset state in float64 (only steps store float32).
        self.state = MountainCarState {
            position: uniform_in(RESET_LOW, RESET_HIGH, uniform()),
            velocity: 0.0,
        };
        self.limit.restart();
    }

    fn observe(&self, obs: &mut [f64]) {
        obs[..2].copy_from_slice(&[self.state.position, self.state.velocity]);
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let a = continuous_action(self.name(), 1, action)?[0];
        let (next, terminated) = mountain_car_dynamics(self.state, a);
        self.state = store_f32(next);
        let reward = mountain_car_reward(a, terminated);
        let truncated = self.limit.tick();
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn state(&self) -> Vec<f64> {
        vec![self.state.position, self.state.velocity]
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        check_state_len(self.name(), 2, state)?;
        self.state = MountainCarState {
            position: state[0],
            velocity: state[1],
        };
        self.limit.restart();
        Ok(())
    }
}
