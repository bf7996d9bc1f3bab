//! A plain `SyncVectorEnv` driven through its sub-environments: satr resets and steps
//! only the sub-environments it asks for, where the vector env would step every one,
//! finished ones included (most of them, late in an episode round), and reset them
//! to keep them steppable. Each sub-environment sees exactly the calls it would see
//! through the vector env, so episodes are the same.

use super::timing;
use super::vector::PyVectorEnv;
use super::*;

impl PyVectorEnv {
    /// `reset(seed=seeds[i])` of every sub-environment `i` in `mask`, its observation
    /// copied into row `i` of `obs` (when given).
    pub(super) fn reset_direct(
        &mut self,
        py: Python<'_>,
        subs: &[Py<PyAny>],
        mask: &[bool],
        seeds: &[Option<u64>],
        mut obs: Option<&mut [f64]>,
    ) -> Result<(), TaskError> {
        let d = self.spaces.obs_dim;
        for i in (0..self.slots).filter(|&i| mask[i]) {
            let what = || format!("{}: reset(seed={:?})", self.slot_name(i), seeds[i]);
            let kwargs = PyDict::new(py);
            let first = kwargs
                .set_item("seed", seeds[i])
                .and_then(|_| {
                    timing::env(|| subs[i].bind(py).call_method("reset", (), Some(&kwargs)))
                })
                .and_then(|out| out.get_item(0))
                .map_err(|e| py_fail(py, &self.task, &what(), e))?;
            if let Some(obs) = obs.as_deref_mut() {
                self.copy_row(py, &first, &mut obs[i * d..(i + 1) * d], &what)?;
            }
        }
        Ok(())
    }

    /// Steps every active sub-environment by its action.
    pub(super) fn step_direct(
        &mut self,
        py: Python<'_>,
        subs: &[Py<PyAny>],
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError> {
        let d = self.spaces.obs_dim;
        for i in (0..self.slots).filter(|&i| active[i]) {
            let step = self.steps[i] + 1;
            let what = || format!("{}: step() (episode step {step})", self.slot_name(i));
            let fail = |e: PyErr| py_fail(py, &self.task, &what(), e);
            let action = self.action_of(py, actions.get(i)).map_err(fail)?;
            let result =
                timing::env(|| subs[i].bind(py).call_method1("step", (action,))).map_err(fail)?;
            let item = |k: usize| result.get_item(k).map_err(fail);
            self.copy_row(py, &item(0)?, &mut obs[i * d..(i + 1) * d], &what)?;
            let reward: f64 = item(1)?.extract().map_err(fail)?;
            let terminated: bool = item(2)?.is_truthy().map_err(fail)?;
            let truncated: bool = item(3)?.is_truthy().map_err(fail)?;
            out[i] = Step {
                reward,
                terminated,
                truncated,
            };
            self.steps[i] += 1;
            self.finished[i] = terminated || truncated;
        }
        Ok(())
    }

    /// One sub-environment's action as it takes it: an int (Discrete, plus `start`),
    /// or an array of the Box's shape and dtype.
    fn action_of<'py>(&self, py: Python<'py>, action: Action<'_>) -> PyResult<Bound<'py, PyAny>> {
        match action {
            Action::Discrete(k) => Ok((self.spaces.start + k as i64).into_pyobject(py)?.into_any()),
            Action::Continuous(v) => self.spaces.box_array(py, v.to_vec(), &[]),
        }
    }

    /// Copies one sub-environment's observation `x` into `row`.
    fn copy_row(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        row: &mut [f64],
        what: &dyn Fn() -> String,
    ) -> Result<(), TaskError> {
        self.with_values(py, x, "float64", what, |shape, values: &[f64]| {
            if values.len() != row.len() {
                return Err(bad(
                    &self.task,
                    format!(
                        "{} returned an observation of shape {shape:?}; expected {} values",
                        what(),
                        row.len()
                    ),
                ));
            }
            row.copy_from_slice(values);
            Ok(())
        })
    }
}
