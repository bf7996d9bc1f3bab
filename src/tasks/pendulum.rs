//! Pendulum-v1 (swing up and hold a frictionless pendulum), as Gymnasium 1.x defines
//! it with its default `g = 10.0`.

use super::{
    check_state_len, clip, continuous_action, uniform_in, Action, ActionSpace, Step, Task,
    TaskError, TimeLimit,
};
use std::f64::consts::PI;

/// Gravity (m/s^2) (Gymnasium's default `g`).
pub const GRAVITY: f64 = 10.0;
/// Pendulum mass (kg).
pub const MASS: f64 = 1.0;
/// Pendulum length (m).
pub const LENGTH: f64 = 1.0;
/// Seconds per step.
pub const DT: f64 = 0.05;
/// Actions are clipped to `[-MAX_TORQUE, MAX_TORQUE]`.
pub const MAX_TORQUE: f64 = 2.0;
/// Angular velocity is clipped to `[-MAX_SPEED, MAX_SPEED]`.
pub const MAX_SPEED: f64 = 8.0;
/// Reset draws theta from `[-RESET_THETA, RESET_THETA)`.
pub const RESET_THETA: f64 = PI;
/// Reset draws thetadot from `[-RESET_THETADOT, RESET_THETADOT)`.
pub const RESET_THETADOT: f64 = 1.0;
/// TimeLimit of Pendulum-v1.
pub const MAX_EPISODE_STEPS: usize = 200;

/// The simulator state, in Gymnasium's order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PendulumState {
    /// Angle from upright (rad); not wrapped (only the cost normalises it).
    pub theta: f64,
    /// Angular velocity (rad/s).
    pub thetadot: f64,
}

/// Gymnasium's `angle_normalize`: `((x + pi) mod 2 pi) - pi` with a floored modulo,
/// which `rem_euclid` matches for a positive divisor.
pub fn angle_normalize(x: f64) -> f64 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

/// Cost of being in `s` while applying the (already clipped) torque `u`.
pub fn pendulum_cost(s: PendulumState, u: f64) -> f64 {
    let th = angle_normalize(s.theta);
    th * th + 0.1 * (s.thetadot * s.thetadot) + 0.001 * (u * u)
}

/// Semi-implicit Euler step under the (already clipped) torque `u`.
pub fn pendulum_dynamics(s: PendulumState, u: f64) -> PendulumState {
    let (g, m, l, dt) = (GRAVITY, MASS, LENGTH, DT);
    let newthdot =
        s.thetadot + (3.0 * g / (2.0 * l) * s.theta.sin() + 3.0 / (m * (l * l)) * u) * dt;
    let newthdot = clip(newthdot, -MAX_SPEED, MAX_SPEED);
    PendulumState {
        theta: s.theta + newthdot * dt,
        thetadot: newthdot,
    }
}

/// Pendulum-v1.
#[derive(Debug, Clone)]
pub struct Pendulum {
    /// Current simulator state.
    pub state: PendulumState,
    limit: TimeLimit,
}

impl Pendulum {
    /// A task at the all-zero state; call `reset` or `set_state` before use.
    pub fn new() -> Self {
        Pendulum {
            state: PendulumState::default(),
            limit: TimeLimit::new(MAX_EPISODE_STEPS),
        }
    }
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Task for Pendulum {
    fn name(&self) -> &'static str {
        "pendulum"
    }

    fn obs_dim(&self) -> usize {
        3
    }

    fn action_space(&self) -> ActionSpace {
        ActionSpace::Continuous {
            low: vec![-MAX_TORQUE],
            high: vec![MAX_TORQUE],
        }
    }

    fn max_episode_steps(&self) -> usize {
        self.limit.max_steps()
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        self.state = PendulumState {
            theta: uniform_in(-RESET_THETA, RESET_THETA, uniform()),
            thetadot: uniform_in(-RESET_THETADOT, RESET_THETADOT, uniform()),
        };
        self.limit.restart();
    }

    fn observe(&self, obs: &mut [f64]) {
        let s = self.state;
        obs[..3].copy_from_slice(&[s.theta.cos(), s.theta.sin(), s.thetadot]);
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let a = continuous_action(self.name(), 1, action)?;
        // Clipped before both the cost and the dynamics; the cost uses the pre-step state.
        let u = clip(a[0], -MAX_TORQUE, MAX_TORQUE);
        let cost = pendulum_cost(self.state, u);
        self.state = pendulum_dynamics(self.state, u);
        let truncated = self.limit.tick();
        Ok(Step {
            reward: -cost,
            terminated: false,
            truncated,
        })
    }

    fn state(&self) -> Vec<f64> {
        vec![self.state.theta, self.state.thetadot]
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        check_state_len(self.name(), 2, state)?;
        self.state = PendulumState {
            theta: state[0],
            thetadot: state[1],
        };
        self.limit.restart();
        Ok(())
    }
}
