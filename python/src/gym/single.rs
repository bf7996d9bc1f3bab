//! One member's task over a one-slot vector env.

use super::*;

/// One member's task over a one-slot vector env. Its reset seed is the one
/// [`EpisodeKey::seed_u63`] derives from the same reset stream, so its episodes are the
/// vector path's.
pub(super) struct PySingleEnv {
    pub(super) env: PyVectorEnv,
    pub(super) name: &'static str,
    pub(super) obs: Vec<f64>,
    /// A failed reset, reported by the next step (`Task::reset` cannot fail).
    pub(super) pending: Option<TaskError>,
}

/// [`EpisodeKey::seed_u63`] from the reset stream's draws.
pub(super) fn seed_from_draws(uniform: &mut dyn FnMut() -> f64) -> u64 {
    let hi = (uniform() * 4_294_967_296.0) as u64;
    let lo = (uniform() * 4_294_967_296.0) as u64;
    ((hi << 32) | lo) >> 1
}

impl Task for PySingleEnv {
    fn name(&self) -> &'static str {
        self.name
    }

    fn obs_dim(&self) -> usize {
        self.env.spaces.obs_dim
    }

    fn action_space(&self) -> ActionSpace {
        self.env.spaces.space.clone()
    }

    fn max_episode_steps(&self) -> usize {
        self.env.max_steps
    }

    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        let seed = seed_from_draws(uniform);
        let (env, obs) = (&mut self.env, &mut self.obs);
        let r = super::timing::call(|| {
            Python::attach(|py| env.reset_masked(py, &[true], vec![Some(seed)], Some(obs)))
        });
        if let Err(e) = r {
            // `Task::reset` cannot fail: the observation is NaN (an invalid member, as
            // SPEC's non-finite rule has it) and the next step reports the error.
            self.obs.fill(f64::NAN);
            self.pending = Some(e);
        }
    }

    fn observe(&self, obs: &mut [f64]) {
        obs.copy_from_slice(&self.obs);
    }

    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let mut out = [Step {
            reward: 0.0,
            terminated: false,
            truncated: false,
        }];
        let (discrete, continuous);
        let batch = match action {
            Action::Discrete(a) => {
                discrete = [a];
                ActionBatch::Discrete(&discrete)
            }
            Action::Continuous(v) => {
                continuous = v.to_vec();
                ActionBatch::Continuous {
                    values: &continuous,
                    dim: v.len(),
                }
            }
        };
        self.env.step(&[true], batch, &mut out, &mut self.obs)?;
        Ok(out[0])
    }

    fn state(&self) -> Vec<f64> {
        Vec::new()
    }

    fn set_state(&mut self, _state: &[f64]) -> Result<(), TaskError> {
        Err(bad(
            self.name,
            "a Python environment's state cannot be set (satr replay needs a built-in task)".into(),
        ))
    }
}
