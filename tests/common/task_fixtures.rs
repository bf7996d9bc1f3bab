//! One fixture per built-in task (`satr::tasks::TASK_NAMES`, in that order): everything
//! the task tests need to know about a task, in one place. `tests/engine/tasks/`
//! checks the f64 tasks against Gymnasium with it, `tests/gpu/gpu_tasks/` the WGSL
//! ports against the f64 tasks; both loop over [`TASKS`].
//!
//! Adding a built-in task: one entry in [`TASKS`], its Gymnasium reference data in
//! `tests/data/tasks/` (`scripts/gen_task_refs.py`), and its line in the
//! `matches_gymnasium!` list of `tests/engine/tasks/` (a test there fails until the
//! fixtures, `TASK_NAMES` and that list agree).

use std::f64::consts::PI;

use satr::tasks::cartpole::CartPole;
use satr::tasks::{make_task, ActionSpace, Task};

/// The CPU task at a state, with the task flags restored (see `with_flags`).
pub type TaskAtFn = fn(&[f64], u32) -> Box<dyn Task>;

/// A step tolerance: `tol(value, scale)`.
pub type TolFn = fn(f64, f64) -> f64;

/// A threshold margin (see `threshold_margin`).
pub type MarginFn = fn(&[f64], &[f32], TolFn) -> f64;

/// A task's action space, written as a constant.
pub enum Act {
    Discrete(usize),
    Continuous {
        low: &'static [f64],
        high: &'static [f64],
    },
}

/// What the tests know about one built-in task.
pub struct TaskFixture {
    /// The registry name.
    pub name: &'static str,
    /// Observation size.
    pub obs_dim: usize,
    /// Length of `Task::state()`.
    pub state_len: usize,
    /// The action space.
    pub action: Act,
    /// Gymnasium's time limit.
    pub max_episode_steps: usize,
    /// The Gymnasium reference data, under `tests/data/tasks/`.
    pub reference: &'static str,
    /// Steps of a reference trajectory whose observations and rewards a replay must
    /// match (beyond them a chaotic task may amplify last-bit differences between
    /// libm's and NumPy's sin/cos).
    pub obs_horizon: usize,
    /// Steps of a reference trajectory whose termination flags a replay must match.
    pub flag_horizon: usize,
    /// Gymnasium's reset ranges `[low, high)` per state variable, in state order (one
    /// uniform drawn per variable with `low != high`, in that order).
    pub reset_ranges: &'static [(f64, f64)],
    /// The task stores its reset state as float32 (Acrobot).
    pub reset_f32: bool,
    /// Natural magnitude of each state component (for the GPU tolerance's absolute
    /// floor): its bound (threshold, speed limit, angle range) or, for unbounded
    /// velocities, a typical size.
    pub state_scales: &'static [f64],
    /// Natural magnitude of each observation component.
    pub obs_scales: &'static [f64],
    /// Natural magnitude of a step's reward.
    pub reward_scale: f64,
    /// The leading state components that are angles, compared modulo a turn (the f32
    /// and f64 wraps may differ by one).
    pub angles: usize,
    /// Tasks whose state carries bit 0 of the task flags (CartPole: a terminal step
    /// already happened): the CPU task at state `s` with those flags restored.
    pub with_flags: Option<TaskAtFn>,
    /// A random state over the task's region for the GPU step test; with `edge`, an
    /// edge case (thresholds, walls, speed limits, angle wraps).
    pub random_state: fn(&mut SplitMix, bool) -> Vec<f32>,
    /// How far the CPU's post-step state `post` is from flipping `terminated` (or a
    /// wall rule), given the GPU's post-step state and the step tolerance
    /// `tol(value, scale)`, in units of that tolerance; below 1 is too close to call in
    /// f32.
    pub threshold_margin: MarginFn,
    /// A fixed linear policy for the GPU mean-return test: per output, the observation
    /// weights then a bias.
    pub policy: &'static [f32],
}

impl TaskFixture {
    /// The action space as the task reports it.
    pub fn action_space(&self) -> ActionSpace {
        match self.action {
            Act::Discrete(n) => ActionSpace::Discrete(n),
            Act::Continuous { low, high } => ActionSpace::Continuous {
                low: low.to_vec(),
                high: high.to_vec(),
            },
        }
    }

    /// Largest magnitude of each reset state component (`max(|low|, |high|)`).
    pub fn reset_bounds(&self) -> Vec<f64> {
        self.reset_ranges
            .iter()
            .map(|&(lo, hi)| lo.abs().max(hi.abs()))
            .collect()
    }

    /// A CPU task at state `s`, with the task flags restored where the task has them.
    pub fn cpu_task_at(&self, s: &[f64], flags: u32) -> Box<dyn Task> {
        match self.with_flags {
            Some(at) => at(s, flags),
            None => {
                let mut t = make_task(self.name).unwrap();
                t.set_state(s).unwrap();
                t
            }
        }
    }
}

/// The fixture of the built-in task `name`.
pub fn fixture(name: &str) -> &'static TaskFixture {
    TASKS
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture for task {name}"))
}

/// SplitMix64: test inputs only.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f32 {
        (lo + (hi - lo) * self.unit()) as f32
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// CartPole's pole angle threshold (12 degrees).
const CARTPOLE_THETA: f64 = 12.0 * 2.0 * PI / 360.0;

/// The built-in tasks, in `TASK_NAMES` order.
pub const TASKS: &[TaskFixture] = &[
    TaskFixture {
        name: "cartpole",
        obs_dim: 4,
        state_len: 4,
        action: Act::Discrete(2),
        max_episode_steps: 500,
        reference: "cartpole.json",
        obs_horizon: 60,
        flag_horizon: 60,
        reset_ranges: &[(-0.05, 0.05); 4],
        reset_f32: false,
        state_scales: &[2.4, 2.0, 0.21, 2.0],
        obs_scales: &[2.4, 2.0, 0.21, 2.0],
        reward_scale: 1.0,
        angles: 0,
        with_flags: Some(cartpole_at),
        random_state: cartpole_state,
        threshold_margin: cartpole_margin,
        // Push right when -0.1 x + theta + 0.3 theta_dot > 0 (fails now and then).
        policy: &[0.0, 0.0, 0.0, 0.0, 0.0, -0.1, 0.0, 1.0, 0.3, 0.0],
    },
    TaskFixture {
        name: "cartpole-pos",
        obs_dim: 2,
        state_len: 4,
        action: Act::Discrete(2),
        max_episode_steps: 500,
        reference: "cartpole-pos.json",
        obs_horizon: 60,
        flag_horizon: 60,
        reset_ranges: &[(-0.05, 0.05); 4],
        reset_f32: false,
        state_scales: &[2.4, 2.0, 0.21, 2.0],
        obs_scales: &[2.4, 0.21],
        reward_scale: 1.0,
        angles: 0,
        with_flags: Some(cartpole_pos_at),
        random_state: cartpole_state,
        threshold_margin: cartpole_margin,
        // Push right when the pole leans right (from [x, theta] only).
        policy: &[0.0, 0.0, 0.0, 0.05, 1.0, 0.0],
    },
    TaskFixture {
        name: "acrobot",
        obs_dim: 6,
        state_len: 4,
        action: Act::Discrete(3),
        max_episode_steps: 500,
        reference: "acrobot.json",
        obs_horizon: 30,
        flag_horizon: 60,
        reset_ranges: &[(-0.1, 0.1); 4],
        reset_f32: true,
        state_scales: &[PI, PI, 4.0 * PI, 9.0 * PI],
        obs_scales: &[1.0, 1.0, 1.0, 1.0, 4.0 * PI, 9.0 * PI],
        reward_scale: 1.0,
        angles: 2,
        with_flags: None,
        random_state: acrobot_state,
        threshold_margin: acrobot_margin,
        // Torque against dtheta1: outputs dtheta1, 0, -dtheta1.
        policy: &[
            0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, //
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, //
            0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0,
        ],
    },
    TaskFixture {
        name: "pendulum",
        obs_dim: 3,
        state_len: 2,
        action: Act::Continuous {
            low: &[-2.0],
            high: &[2.0],
        },
        max_episode_steps: 200,
        reference: "pendulum.json",
        obs_horizon: 60,
        flag_horizon: 200,
        reset_ranges: &[(-PI, PI), (-1.0, 1.0)],
        reset_f32: false,
        state_scales: &[PI, 8.0],
        obs_scales: &[1.0, 1.0, 8.0],
        reward_scale: 16.3,
        angles: 0,
        with_flags: None,
        random_state: pendulum_state,
        // Pendulum never terminates.
        threshold_margin: |_, _, _| f64::INFINITY,
        // A damping, weakly righting torque.
        policy: &[0.0, -1.0, -0.3, 0.0],
    },
    TaskFixture {
        name: "mountaincar-continuous",
        obs_dim: 2,
        state_len: 2,
        action: Act::Continuous {
            low: &[-1.0],
            high: &[1.0],
        },
        max_episode_steps: 999,
        reference: "mountaincar-continuous.json",
        obs_horizon: 60,
        flag_horizon: 60,
        reset_ranges: &[(-0.6, -0.4), (0.0, 0.0)],
        reset_f32: false,
        state_scales: &[1.2, 0.07],
        obs_scales: &[1.2, 0.07],
        reward_scale: 1.0,
        angles: 0,
        with_flags: None,
        random_state: mountaincar_state,
        threshold_margin: mountaincar_margin,
        // Push along the velocity.
        policy: &[0.0, 100.0, 0.0],
    },
];

fn cartpole_with_flags(position_only: bool, s: &[f64], flags: u32) -> Box<dyn Task> {
    let mut t = CartPole::new(position_only);
    t.set_state(s).unwrap();
    t.terminated_before = flags & 1 != 0;
    Box::new(t)
}

fn cartpole_at(s: &[f64], flags: u32) -> Box<dyn Task> {
    cartpole_with_flags(false, s, flags)
}

fn cartpole_pos_at(s: &[f64], flags: u32) -> Box<dyn Task> {
    cartpole_with_flags(true, s, flags)
}

fn cartpole_state(rng: &mut SplitMix, edge: bool) -> Vec<f32> {
    let x_dot = rng.range(-3.0, 3.0);
    let theta_dot = rng.range(-3.5, 3.5);
    let (mut x, mut theta) = (rng.range(-2.6, 2.6), rng.range(-0.25, 0.25));
    if edge {
        // Land (nearly) on a threshold after the step.
        let sign = if rng.below(2) == 0 { -1.0 } else { 1.0 };
        // Some exactly on it (to f32 rounding), the rest within 1e-4.
        let jitter = if rng.below(4) == 0 {
            0.0
        } else {
            rng.range(-1e-4, 1e-4) as f64
        };
        if rng.below(2) == 0 {
            x = (sign * 2.4 - 0.02 * x_dot as f64 + jitter) as f32;
        } else {
            theta = (sign * CARTPOLE_THETA - 0.02 * theta_dot as f64 + jitter * 0.1) as f32;
        }
    }
    vec![x, x_dot, theta, theta_dot]
}

fn cartpole_margin(post: &[f64], _gpu: &[f32], tol: TolFn) -> f64 {
    let dx = (post[0].abs() - 2.4).abs() / tol(2.4, 2.4);
    let dt = (post[2].abs() - CARTPOLE_THETA).abs() / tol(CARTPOLE_THETA, 0.21);
    dx.min(dt)
}

fn acrobot_state(rng: &mut SplitMix, edge: bool) -> Vec<f32> {
    let mut s = vec![
        rng.range(-PI, PI),
        rng.range(-PI, PI),
        rng.range(-4.0 * PI, 4.0 * PI),
        rng.range(-9.0 * PI, 9.0 * PI),
    ];
    if edge {
        match rng.below(3) {
            0 => s[0] = (PI as f32) * if rng.below(2) == 0 { -1.0 } else { 1.0 },
            1 => s[2] = (4.0 * PI) as f32 * if rng.below(2) == 0 { -1.0 } else { 1.0 },
            _ => s[3] = (9.0 * PI) as f32 * if rng.below(2) == 0 { -1.0 } else { 1.0 },
        }
    }
    s
}

fn acrobot_margin(post: &[f64], _gpu: &[f32], tol: TolFn) -> f64 {
    let h = -post[0].cos() - (post[1] + post[0]).cos();
    // The height comes from angles with errors up to the state tolerance.
    (h - 1.0).abs() / (10.0 * tol(PI, PI))
}

fn pendulum_state(rng: &mut SplitMix, edge: bool) -> Vec<f32> {
    let mut s = vec![rng.range(-20.0, 20.0), rng.range(-8.0, 8.0)];
    if edge {
        // Near a turn boundary of angle_normalize, or at the speed limit.
        if rng.below(2) == 0 {
            let k = rng.below(7) as f64 - 3.0;
            s[0] = (PI + 2.0 * PI * k + rng.range(-1e-5, 1e-5) as f64) as f32;
        } else {
            s[1] = if rng.below(2) == 0 { -8.0 } else { 8.0 };
        }
    }
    s
}

fn mountaincar_state(rng: &mut SplitMix, edge: bool) -> Vec<f32> {
    let mut s = vec![rng.range(-1.2, 0.6), rng.range(-0.07, 0.07)];
    if edge {
        match rng.below(3) {
            0 => s = vec![-1.2, rng.range(-0.07, 0.0)],
            1 => s[0] = rng.range(0.40, 0.46),
            2 if rng.below(2) == 0 => {
                // Lands on the goal position (to f32 rounding) after the step.
                s[1] = rng.range(0.0, 0.01);
                s[0] = 0.45 - s[1];
            }
            _ => s[0] = rng.range(-1.22, -1.1),
        }
    }
    s
}

fn mountaincar_margin(post: &[f64], gpu: &[f32], tol: TolFn) -> f64 {
    let dp = (post[0] - 0.45).abs() / tol(0.45, 1.2);
    let dv = post[1].abs() / tol(0.0, 0.07);
    // The wall zeroes the velocity when the position clips on either side.
    let wall = (post[0] + 1.2).abs().min((gpu[0] as f64 + 1.2).abs());
    let dw = wall / tol(1.2, 1.2);
    dp.min(dv).min(dw)
}
