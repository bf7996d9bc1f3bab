//! MuJoCo locomotion tasks, defined as Gymnasium 1.x defines its v5 environments
//! (`Hopper-v5`, `Walker2d-v5`, `HalfCheetah-v5`, `Ant-v5`, `Humanoid-v5`) with their
//! default arguments: the same model files, frame skip, observation layout, reward terms
//! and weights, healthy ranges, termination and reset noise.
//!
//! The simulator is MuJoCo 3.17.0 itself (through `mujoco-rs`), so the physics agrees
//! with Gymnasium's to the last bit; the reward arithmetic follows NumPy's evaluation
//! order, including its pairwise summation. Every task owns its `mjData`; the compiled
//! model is loaded once per process and shared, so members step in parallel on the
//! evaluator's threads.

mod model;
mod numpy;

use std::sync::Arc;

use mujoco_rs::prelude::{MjData, MjModel};

use self::model::load_model;
pub use self::model::models_dir;
use self::numpy::{numpy_sum, standard_normal, sum_of_squares};

use super::{
    check_state_len, clip, continuous_action, uniform_in, Action, ActionSpace, Step, Task,
    TaskError, TimeLimit,
};

/// Which of the five environments a [`Locomotion`] task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Hopper,
    Walker2d,
    HalfCheetah,
    Ant,
    Humanoid,
}

/// The v5 constructor defaults that differ between the environments.
struct Params {
    name: &'static str,
    xml: &'static str,
    frame_skip: usize,
    forward_reward_weight: f64,
    ctrl_cost_weight: f64,
    healthy_reward: f64,
    reset_noise_scale: f64,
    /// HalfCheetah and Ant draw the velocity noise from a normal distribution.
    normal_velocity_noise: bool,
    /// Leading qpos entries left out of the observation (the x, or x and y, position).
    skipped_qpos: usize,
}

impl Kind {
    /// The task for a registered name, if it is one of these.
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "hopper" => Kind::Hopper,
            "walker2d" => Kind::Walker2d,
            "halfcheetah" => Kind::HalfCheetah,
            "ant" => Kind::Ant,
            "humanoid" => Kind::Humanoid,
            _ => return None,
        })
    }

    fn params(self) -> &'static Params {
        const HOPPER: Params = Params {
            name: "hopper",
            xml: "hopper.xml",
            frame_skip: 4,
            forward_reward_weight: 1.0,
            ctrl_cost_weight: 1e-3,
            healthy_reward: 1.0,
            reset_noise_scale: 5e-3,
            normal_velocity_noise: false,
            skipped_qpos: 1,
        };
        const WALKER2D: Params = Params {
            name: "walker2d",
            xml: "walker2d_v5.xml",
            ..HOPPER
        };
        const HALFCHEETAH: Params = Params {
            name: "halfcheetah",
            xml: "half_cheetah.xml",
            frame_skip: 5,
            forward_reward_weight: 1.0,
            ctrl_cost_weight: 0.1,
            healthy_reward: 0.0,
            reset_noise_scale: 0.1,
            normal_velocity_noise: true,
            skipped_qpos: 1,
        };
        const ANT: Params = Params {
            name: "ant",
            xml: "ant.xml",
            frame_skip: 5,
            forward_reward_weight: 1.0,
            ctrl_cost_weight: 0.5,
            healthy_reward: 1.0,
            reset_noise_scale: 0.1,
            normal_velocity_noise: true,
            skipped_qpos: 2,
        };
        const HUMANOID: Params = Params {
            name: "humanoid",
            xml: "humanoid.xml",
            frame_skip: 5,
            forward_reward_weight: 1.25,
            ctrl_cost_weight: 0.1,
            healthy_reward: 5.0,
            reset_noise_scale: 1e-2,
            normal_velocity_noise: false,
            skipped_qpos: 2,
        };
        match self {
            Kind::Hopper => &HOPPER,
            Kind::Walker2d => &WALKER2D,
            Kind::HalfCheetah => &HALFCHEETAH,
            Kind::Ant => &ANT,
            Kind::Humanoid => &HUMANOID,
        }
    }
}

/// Ant's `contact_cost_weight` and `contact_force_range`.
const ANT_CONTACT_COST_WEIGHT: f64 = 5e-4;
const ANT_CONTACT_FORCE: f64 = 1.0;
/// Humanoid's `contact_cost_weight` and the upper end of `contact_cost_range`.
const HUMANOID_CONTACT_COST_WEIGHT: f64 = 5e-7;
const HUMANOID_CONTACT_COST_MAX: f64 = 10.0;
/// Hopper and Walker2d clip the velocities they observe to this magnitude.
const VELOCITY_CLIP: f64 = 10.0;
/// Gymnasium registers all five with `max_episode_steps=1000`.
const MAX_EPISODE_STEPS: usize = 1000;

/// One of the five MuJoCo locomotion environments.
pub struct Locomotion {
    kind: Kind,
    params: &'static Params,
    data: MjData<Arc<MjModel>>,
    nq: usize,
    nv: usize,
    nu: usize,
    init_qpos: Vec<f64>,
    init_qvel: Vec<f64>,
    low: Vec<f64>,
    high: Vec<f64>,
    /// `model.opt.timestep * frame_skip`, as Gymnasium's `dt`.
    dt: f64,
    obs_dim: usize,
    limit: TimeLimit,
    scratch: Vec<f64>,
}

impl Locomotion {
    /// Builds the task, loading its model on first use in this process.
    pub fn new(kind: Kind) -> Result<Self, TaskError> {
        let model = load_model(kind)?;
        let params = kind.params();
        let ffi = model.ffi();
        let (nq, nv, nu, nbody) = (
            ffi.nq as usize,
            ffi.nv as usize,
            ffi.nu as usize,
            ffi.nbody as usize,
        );
        let dt = ffi.opt.timestep * params.frame_skip as f64;
        // Gymnasium's action space is a float32 Box over the actuators' ctrlrange.
        let (low, high): (Vec<f64>, Vec<f64>) = model
            .actuator_ctrlrange()
            .iter()
            .map(|r| (r[0] as f32 as f64, r[1] as f32 as f64))
            .unzip();
        let body_obs = nbody - 1;
        let obs_dim = match kind {
            Kind::Hopper | Kind::Walker2d | Kind::HalfCheetah => nq + nv - params.skipped_qpos,
            Kind::Ant => nq + nv - params.skipped_qpos + 6 * body_obs,
            Kind::Humanoid => {
                nq + nv - params.skipped_qpos + 10 * body_obs + 6 * body_obs + nv - 6 + 6 * body_obs
            }
        };
        let data = MjData::new(model);
        Ok(Locomotion {
            kind,
            params,
            init_qpos: data.qpos().to_vec(),
            init_qvel: data.qvel().to_vec(),
            data,
            nq,
            nv,
            nu,
            low,
            high,
            dt,
            obs_dim,
            limit: TimeLimit::new(MAX_EPISODE_STEPS),
            scratch: Vec::new(),
        })
    }

    /// Gymnasium's `set_state` after `mj_resetData`, as its `reset` does: the state is
    /// then a function of qpos and qvel alone (no solver warm start carried over).
    fn restart_from(&mut self, qpos: &[f64], qvel: &[f64]) {
        self.data.reset();
        self.data.qpos_mut().copy_from_slice(qpos);
        self.data.qvel_mut().copy_from_slice(qvel);
        self.data.forward();
        self.limit.restart();
    }

    /// The horizontal position whose change is the forward velocity: qpos x for the planar
    /// walkers, the torso frame for Ant, the mass centre for Humanoid. Ant and Humanoid read
    /// body positions as MuJoCo left them after the last step (computed before its last
    /// integration), as Gymnasium does.
    fn position(&self) -> [f64; 2] {
        match self.kind {
            Kind::Hopper | Kind::Walker2d | Kind::HalfCheetah => [self.data.qpos()[0], 0.0],
            Kind::Ant => {
                let p = self.data.xpos()[1];
                [p[0], p[1]]
            }
            Kind::Humanoid => {
                let mass = self.data.model().body_mass();
                let xipos = self.data.xipos();
                let mut num = [0.0f64; 2];
                for (m, p) in mass.iter().zip(xipos) {
                    num[0] += m * p[0];
                    num[1] += m * p[1];
                }
                let denom = numpy_sum(mass);
                [num[0] / denom, num[1] / denom]
            }
        }
    }

    fn is_healthy(&self) -> bool {
        let qpos = self.data.qpos();
        let qvel = self.data.qvel();
        match self.kind {
            Kind::Hopper => {
                let (z, angle) = (qpos[1], qpos[2]);
                let state_ok = qpos[2..]
                    .iter()
                    .chain(qvel)
                    .all(|&s| -100.0 < s && s < 100.0);
                state_ok && 0.7 < z && z < f64::INFINITY && -0.2 < angle && angle < 0.2
            }
            Kind::Walker2d => {
                let (z, angle) = (qpos[1], qpos[2]);
                0.8 < z && z < 2.0 && -1.0 < angle && angle < 1.0
            }
            Kind::HalfCheetah => true,
            Kind::Ant => {
                qpos.iter().chain(qvel).all(|s| s.is_finite()) && 0.2 <= qpos[2] && qpos[2] <= 1.0
            }
            Kind::Humanoid => 1.0 < qpos[2] && qpos[2] < 2.0,
        }
    }
}

impl Task for Locomotion {
    fn name(&self) -> &'static str {
        self.params.name
    }

    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    fn action_space(&self) -> ActionSpace {
        ActionSpace::Continuous {
            low: self.low.clone(),
            high: self.high.clone(),
        }
    }

    fn max_episode_steps(&self) -> usize {
        self.limit.max_steps()
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        let s = self.params.reset_noise_scale;
        let qpos: Vec<f64> = self
            .init_qpos
            .iter()
            .map(|&q| q + uniform_in(-s, s, uniform()))
            .collect();
        let qvel: Vec<f64> = if self.params.normal_velocity_noise {
            self.init_qvel
                .iter()
                .map(|&v| v + s * standard_normal(uniform))
                .collect()
        } else {
            self.init_qvel
                .iter()
                .map(|&v| v + uniform_in(-s, s, uniform()))
                .collect()
        };
        self.restart_from(&qpos, &qvel);
    }

    fn observe(&self, obs: &mut [f64]) {
        let d = &self.data;
        let mut out = obs.iter_mut();
        let mut put = |v: f64| *out.next().expect("observation buffer too short") = v;
        d.qpos()[self.params.skipped_qpos..]
            .iter()
            .for_each(|&v| put(v));
        match self.kind {
            Kind::Hopper | Kind::Walker2d => d
                .qvel()
                .iter()
                .for_each(|&v| put(clip(v, -VELOCITY_CLIP, VELOCITY_CLIP))),
            Kind::HalfCheetah => d.qvel().iter().for_each(|&v| put(v)),
            Kind::Ant => {
                d.qvel().iter().for_each(|&v| put(v));
                d.cfrc_ext()[1..]
                    .iter()
                    .flatten()
                    .for_each(|&v| put(clip(v, -ANT_CONTACT_FORCE, ANT_CONTACT_FORCE)));
            }
            Kind::Humanoid => {
                d.qvel().iter().for_each(|&v| put(v));
                d.cinert()[1..].iter().flatten().for_each(|&v| put(v));
                d.cvel()[1..].iter().flatten().for_each(|&v| put(v));
                d.qfrc_actuator()[6..].iter().for_each(|&v| put(v));
                d.cfrc_ext()[1..].iter().flatten().for_each(|&v| put(v));
            }
        }
        assert!(out.next().is_none(), "observation buffer too long");
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let action = continuous_action(self.params.name, self.nu, action)?;
        let before = self.position();
        self.data.ctrl_mut().copy_from_slice(action);
        for _ in 0..self.params.frame_skip {
            self.data.step();
        }
        self.data.rne_post_constraint();
        let after = self.position();
        let x_velocity = (after[0] - before[0]) / self.dt;
        let healthy = self.is_healthy();
        let p = self.params;
        let forward_reward = p.forward_reward_weight * x_velocity;
        let healthy_reward = if healthy { p.healthy_reward } else { 0.0 };
        let mut scratch = std::mem::take(&mut self.scratch);
        let reward = match self.kind {
            Kind::Hopper | Kind::Walker2d => {
                let ctrl_cost =
                    p.ctrl_cost_weight * sum_of_squares(action.iter().copied(), &mut scratch);
                (forward_reward + healthy_reward) - ctrl_cost
            }
            Kind::HalfCheetah => {
                let ctrl_cost =
                    p.ctrl_cost_weight * sum_of_squares(action.iter().copied(), &mut scratch);
                forward_reward - ctrl_cost
            }
            Kind::Ant => {
                let ctrl_cost =
                    p.ctrl_cost_weight * sum_of_squares(action.iter().copied(), &mut scratch);
                let forces = self.data.cfrc_ext().iter().flatten();
                let contact_cost = ANT_CONTACT_COST_WEIGHT
                    * sum_of_squares(
                        forces.map(|&f| clip(f, -ANT_CONTACT_FORCE, ANT_CONTACT_FORCE)),
                        &mut scratch,
                    );
                (forward_reward + healthy_reward) - (ctrl_cost + contact_cost)
            }
            Kind::Humanoid => {
                // Humanoid charges the control MuJoCo holds, not the action argument.
                let ctrl_cost = p.ctrl_cost_weight
                    * sum_of_squares(self.data.ctrl().iter().copied(), &mut scratch);
                let forces = self.data.cfrc_ext().iter().flatten().copied();
                let contact_cost = clip(
                    HUMANOID_CONTACT_COST_WEIGHT * sum_of_squares(forces, &mut scratch),
                    f64::NEG_INFINITY,
                    HUMANOID_CONTACT_COST_MAX,
                );
                (forward_reward + healthy_reward) - (ctrl_cost + contact_cost)
            }
        };
        self.scratch = scratch;
        Ok(Step {
            reward,
            terminated: !healthy,
            truncated: self.limit.tick(),
        })
    }

    /// qpos followed by qvel, as Gymnasium's `set_state(qpos, qvel)` takes them.
    fn state(&self) -> Vec<f64> {
        let mut s = self.data.qpos().to_vec();
        s.extend_from_slice(self.data.qvel());
        s
    }

    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        check_state_len(self.params.name, self.nq + self.nv, state)?;
        let (qpos, qvel) = state.split_at(self.nq);
        self.restart_from(qpos, qvel);
        Ok(())
    }
}
