//! CartPole-v1 (Barto, Sutton & Anderson), as Gymnasium 1.x defines it, plus the
//! position-only variant `cartpole-pos` that hides the velocities.

use super::{
    check_state_len, discrete_action, uniform_in, Action, ActionSpace, Step, Task, TaskError,
    TimeLimit,
};

/// Gravity (m/s^2).
pub const GRAVITY: f64 = 9.8;
/// Cart mass (kg).
pub const MASS_CART: f64 = 1.0;
/// Pole mass (kg).
pub const MASS_POLE: f64 = 0.1;
/// Cart plus pole mass.
pub const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
/// Half the pole's length, in m (Gymnasium's `length`).
pub const HALF_LENGTH: f64 = 0.5;
/// Pole mass times half length.
pub const POLEMASS_LENGTH: f64 = MASS_POLE * HALF_LENGTH;
/// Magnitude of the push (N).
pub const FORCE_MAG: f64 = 10.0;
/// Seconds per step.
pub const TAU: f64 = 0.02;
/// |theta| beyond this terminates (12 degrees, written as Gymnasium computes it).
pub const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
/// |x| beyond this terminates.
pub const X_THRESHOLD: f64 = 2.4;
/// Reset draws every state variable uniformly from `[-RESET_BOUND, RESET_BOUND)`.
pub const RESET_BOUND: f64 = 0.05;
/// TimeLimit of CartPole-v1.
pub const MAX_EPISODE_STEPS: usize = 500;

/// The simulator state, in Gymnasium's order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CartPoleState {
    /// Cart position (m).
    pub x: f64,
    /// Cart velocity (m/s).
    pub x_dot: f64,
    /// Pole angle from upright (rad).
    pub theta: f64,
    /// Pole angular velocity (rad/s).
    pub theta_dot: f64,
}

/// One explicit-Euler step (Gymnasium's default `kinematics_integrator = "euler"`),
/// pushing right when `push_right`, left otherwise.
pub fn cartpole_dynamics(s: CartPoleState, push_right: bool) -> CartPoleState {
    let force = if push_right { FORCE_MAG } else { -FORCE_MAG };
    let costheta = s.theta.cos();
    let sintheta = s.theta.sin();
    let temp = (force + POLEMASS_LENGTH * (s.theta_dot * s.theta_dot) * sintheta) / TOTAL_MASS;
    let thetaacc = (GRAVITY * sintheta - costheta * temp)
        / (HALF_LENGTH * (4.0 / 3.0 - MASS_POLE * (costheta * costheta) / TOTAL_MASS));
    let xacc = temp - POLEMASS_LENGTH * thetaacc * costheta / TOTAL_MASS;
    // Euler: positions advance with the old velocities.
    CartPoleState {
        x: s.x + TAU * s.x_dot,
        x_dot: s.x_dot + TAU * xacc,
        theta: s.theta + TAU * s.theta_dot,
        theta_dot: s.theta_dot + TAU * thetaacc,
    }
}

/// Whether the cart left the track or the pole fell past the threshold.
pub fn cartpole_terminated(s: CartPoleState) -> bool {
    s.x < -X_THRESHOLD
        || s.x > X_THRESHOLD
        || s.theta < -THETA_THRESHOLD
        || s.theta > THETA_THRESHOLD
}

/// CartPole-v1, or with `position_only` the memory variant that observes `[x, theta]`.
#[derive(Debug, Clone)]
pub struct CartPole {
    /// Observe only `[x, theta]` (`cartpole-pos`).
    pub position_only: bool,
    /// Current simulator state.
    pub state: CartPoleState,
    /// Gymnasium's `steps_beyond_terminated is not None`: after the first terminal
    /// step, further steps earn 0 instead of 1.
    pub terminated_before: bool,
    limit: TimeLimit,
}

impl CartPole {
    /// A task at the all-zero state; call `reset` or `set_state` before use.
    pub fn new(position_only: bool) -> Self {
        CartPole {
            position_only,
            state: CartPoleState::default(),
            terminated_before: false,
            limit: TimeLimit::new(MAX_EPISODE_STEPS),
        }
    }
}

impl Task for CartPole {
    fn name(&self) -> &'static str {
        if self.position_only {
            "cartpole-pos"
        } else {
            "cartpole"
        }
    }

    fn obs_dim(&self) -> usize {
        if self.position_only {
            2
        } else {
            4
        }
    }

    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }

    fn max_episode_steps(&self) -> usize {
        self.limit.max_steps()
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        // One call per variable, in state order, as NumPy's uniform(size=4).
        self.state = CartPoleState {
            x: uniform_in(-RESET_BOUND, RESET_BOUND, uniform()),
            x_dot: uniform_in(-RESET_BOUND, RESET_BOUND, uniform()),
            theta: uniform_in(-RESET_BOUND, RESET_BOUND, uniform()),
            theta_dot: uniform_in(-RESET_BOUND, RESET_BOUND, uniform()),
        };
        self.terminated_before = false;
        self.limit.restart();
    }

    fn observe(&self, obs: &mut [f64]) {
        let s = self.state;
        if self.position_only {
            obs[..2].copy_from_slice(&[s.x, s.theta]);
        } else {
            obs[..4].copy_from_slice(&[s.x, s.x_dot, s.theta, s.theta_dot]);
        }
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let a = discrete_action(self.name(), 2, action)?;
        self.state = cartpole_dynamics(self.state, a == 1);
        let terminated = cartpole_terminated(self.state);
        let reward = if !terminated || !self.terminated_before {
            1.0
        } else {
            0.0
        };
        self.terminated_before |= terminated;
        let truncated = self.limit.tick();
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn state(&self) -> Vec<f64> {
        let s = self.state;
        vec![s.x, s.x_dot, s.theta, s.theta_dot]
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        check_state_len(self.name(), 4, state)?;
        self.state = CartPoleState {
            x: state[0],
            x_dot: state[1],
            theta: state[2],
            theta_dot: state[3],
        };
        self.terminated_before = false;
        self.limit.restart();
        Ok(())
    }
}
