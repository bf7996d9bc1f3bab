//! Acrobot-v1 (Sutton & Barto's "book" dynamics), as Gymnasium 1.x defines it, with
//! its default torque noise of 0.

use super::{
    check_state_len, clip, discrete_action, uniform_in, Action, ActionSpace, Step, Task, TaskError,
    TimeLimit,
};
use std::f64::consts::PI;

/// Integration time per step (s).
pub const DT: f64 = 0.2;
/// Length of link 1 (m).
pub const LINK_LENGTH_1: f64 = 1.0;
/// Mass of link 1 (kg).
pub const LINK_MASS_1: f64 = 1.0;
/// Mass of link 2 (kg).
pub const LINK_MASS_2: f64 = 1.0;
/// Centre of mass of link 1, from its pivot (m).
pub const LINK_COM_POS_1: f64 = 0.5;
/// Centre of mass of link 2, from its pivot (m).
pub const LINK_COM_POS_2: f64 = 0.5;
/// Moment of inertia of either link.
pub const LINK_MOI: f64 = 1.0;
/// Gravity (m/s^2).
pub const GRAVITY: f64 = 9.8;
/// Bound on |dtheta1| (rad/s).
pub const MAX_VEL_1: f64 = 4.0 * PI;
/// Bound on |dtheta2| (rad/s).
pub const MAX_VEL_2: f64 = 9.0 * PI;
/// Torque for actions 0, 1, 2.
pub const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
/// Reset draws every state variable uniformly from `[-RESET_BOUND, RESET_BOUND)`.
pub const RESET_BOUND: f64 = 0.1;
/// TimeLimit of Acrobot-v1.
pub const MAX_EPISODE_STEPS: usize = 500;

/// The simulator state, in Gymnasium's order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AcrobotState {
    /// Angle of link 1 from hanging down (rad), wrapped to `[-pi, pi]`.
    pub theta1: f64,
    /// Angle of link 2 relative to link 1 (rad), wrapped to `[-pi, pi]`.
    pub theta2: f64,
    /// Angular velocity of link 1 (rad/s).
    pub dtheta1: f64,
    /// Angular velocity of link 2 (rad/s).
    pub dtheta2: f64,
}

/// Time derivative of the state under `torque` at the second joint (book dynamics).
pub fn acrobot_derivs(s: AcrobotState, torque: f64) -> AcrobotState {
    let m1 = LINK_MASS_1;
    let m2 = LINK_MASS_2;
    let l1 = LINK_LENGTH_1;
    let lc1 = LINK_COM_POS_1;
    let lc2 = LINK_COM_POS_2;
    let i1 = LINK_MOI;
    let i2 = LINK_MOI;
    let g = GRAVITY;
    let a = torque;
    let (theta1, theta2, dtheta1, dtheta2) = (s.theta1, s.theta2, s.dtheta1, s.dtheta2);
    // Gymnasium's operand order, so rounding matches.
    let d1 =
        m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2.0 * l1 * lc2 * theta2.cos()) + i1 + i2;
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * theta2.cos()) + i2;
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - PI / 2.0).cos();
    let phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * theta2.sin()
        - 2.0 * m2 * l1 * lc2 * dtheta2 * dtheta1 * theta2.sin()
        + (m1 * lc1 + m2 * l1) * g * (theta1 - PI / 2.0).cos()
        + phi2;
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * theta2.sin() - phi2)
        / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    AcrobotState {
        theta1: dtheta1,
        theta2: dtheta2,
        dtheta1: ddtheta1,
        dtheta2: ddtheta2,
    }
}

/// `s + h * k`, componentwise.
fn axpy(s: AcrobotState, h: f64, k: AcrobotState) -> AcrobotState {
    AcrobotState {
        theta1: s.theta1 + h * k.theta1,
        theta2: s.theta2 + h * k.theta2,
        dtheta1: s.dtheta1 + h * k.dtheta1,
        dtheta2: s.dtheta2 + h * k.dtheta2,
    }
}

/// One classical RK4 step over `[0, DT]`, combined as Gymnasium's `rk4` does:
/// `y0 + dt / 6 * (k1 + 2 k2 + 2 k3 + k4)`.
pub fn acrobot_rk4(s: AcrobotState, torque: f64) -> AcrobotState {
    let dt = DT;
    let dt2 = dt / 2.0;
    let k1 = acrobot_derivs(s, torque);
    let k2 = acrobot_derivs(axpy(s, dt2, k1), torque);
    let k3 = acrobot_derivs(axpy(s, dt2, k2), torque);
    let k4 = acrobot_derivs(axpy(s, dt, k3), torque);
    let sum = |a: f64, b: f64, c: f64, d: f64| a + 2.0 * b + 2.0 * c + d;
    let k = AcrobotState {
        theta1: sum(k1.theta1, k2.theta1, k3.theta1, k4.theta1),
        theta2: sum(k1.theta2, k2.theta2, k3.theta2, k4.theta2),
        dtheta1: sum(k1.dtheta1, k2.dtheta1, k3.dtheta1, k4.dtheta1),
        dtheta2: sum(k1.dtheta2, k2.dtheta2, k3.dtheta2, k4.dtheta2),
    };
    axpy(s, dt / 6.0, k)
}

/// Gymnasium's `wrap(x, -pi, pi)`: repeated shifts by 2 pi (not a remainder, whose
/// rounding differs). Inputs so far out that the loop would take more than a few
/// dozen rounds (or never end) are first reduced with a remainder; NaN stays NaN.
pub fn wrap_angle(x: f64) -> f64 {
    let (m, big_m) = (-PI, PI);
    let diff = big_m - m;
    let mut x = x;
    if !x.is_finite() {
        return f64::NAN;
    }
    if x.abs() > 64.0 * diff {
        x = (x - m).rem_euclid(diff) + m;
    }
    while x > big_m {
        x -= diff;
    }
    while x < m {
        x += diff;
    }
    x
}

/// The full Gymnasium step on the state: integrate, wrap angles, bound velocities.
pub fn acrobot_dynamics(s: AcrobotState, torque: f64) -> AcrobotState {
    let ns = acrobot_rk4(s, torque);
    AcrobotState {
        theta1: wrap_angle(ns.theta1),
        theta2: wrap_angle(ns.theta2),
        dtheta1: clip(ns.dtheta1, -MAX_VEL_1, MAX_VEL_1),
        dtheta2: clip(ns.dtheta2, -MAX_VEL_2, MAX_VEL_2),
    }
}

/// Whether the tip is more than one link length above the pivot.
pub fn acrobot_terminated(s: AcrobotState) -> bool {
    -s.theta1.cos() - (s.theta2 + s.theta1).cos() > 1.0
}

/// Acrobot-v1.
#[derive(Debug, Clone)]
pub struct Acrobot {
    /// Current simulator state.
    pub state: AcrobotState,
    limit: TimeLimit,
}

impl Acrobot {
    /// A task at the all-zero state; call `reset` or `set_state` before use.
    pub fn new() -> Self {
        Acrobot {
            state: AcrobotState::default(),
            limit: TimeLimit::new(MAX_EPISODE_STEPS),
        }
    }
}

impl Default for Acrobot {
    fn default() -> Self {
        Self::new()
    }
}

/// Gymnasium draws the reset state in float64 and then stores it as float32.
fn reset_draw(u: f64) -> f64 {
    uniform_in(-RESET_BOUND, RESET_BOUND, u) as f32 as f64
}

impl Task for Acrobot {
    fn name(&self) -> &'static str {
        "acrobot"
    }

    fn obs_dim(&self) -> usize {
        6
    }

    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(3)
    }

    fn max_episode_steps(&self) -> usize {
        self.limit.max_steps()
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        self.state = AcrobotState {
            theta1: reset_draw(uniform()),
            theta2: reset_draw(uniform()),
            dtheta1: reset_draw(uniform()),
            dtheta2: reset_draw(uniform()),
        };
        self.limit.restart();
    }

    fn observe(&self, obs: &mut [f64]) {
        let s = self.state;
        obs[..6].copy_from_slice(&[
            s.theta1.cos(),
            s.theta1.sin(),
            s.theta2.cos(),
            s.theta2.sin(),
            s.dtheta1,
            s.dtheta2,
        ]);
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let a = discrete_action(self.name(), AVAIL_TORQUE.len(), action)?;
        self.state = acrobot_dynamics(self.state, AVAIL_TORQUE[a]);
        let terminated = acrobot_terminated(self.state);
        let reward = if terminated { 0.0 } else { -1.0 };
        let truncated = self.limit.tick();
        Ok(Step {
            reward,
            terminated,
            truncated,
        })
    }

    fn state(&self) -> Vec<f64> {
        let s = self.state;
        vec![s.theta1, s.theta2, s.dtheta1, s.dtheta2]
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        check_state_len(self.name(), 4, state)?;
        self.state = AcrobotState {
            theta1: state[0],
            theta2: state[1],
            dtheta1: state[2],
            dtheta2: state[3],
        };
        self.limit.restart();
        Ok(())
    }
}
