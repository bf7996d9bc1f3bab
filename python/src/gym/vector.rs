//! A Python vector env driven as a [`VectorTask`].

use super::timing;
use super::*;

/// A Python vector env driven as a [`VectorTask`].
pub(super) struct PyVectorEnv {
    pub(super) env: Py<PyAny>,
    pub(super) task: String,
    pub(super) slots: usize,
    pub(super) spaces: Spaces,
    pub(super) max_steps: usize,
    /// Whether the env leaves finished sub-environments finished (autoreset
    /// disabled, or a mode it does not declare): satr resets them before a step.
    pub(super) reset_finished: bool,
    /// Whether the env resets all its sub-environments at once from one seed (its
    /// `reset` refused a list of seeds, as native vector envs such as Gymnasium's
    /// `CartPoleVectorEnv` do): satr then resets it whole, seeded from the first key.
    pub(super) whole: bool,
    /// The sub-environments of a plain `SyncVectorEnv`, driven one by one (see
    /// `direct.rs`).
    pub(super) subs: Option<Vec<Py<PyAny>>>,
    /// Sub-environments that finished and have not been reset since.
    pub(super) finished: Vec<bool>,
    /// Threads that step the sub-environments of `subs` (`gym.step_threads`).
    pub(super) step_threads: usize,

    /// Steps since each slot's last reset (for error messages).
    pub(super) steps: Vec<u64>,
    /// The member whose episode each slot runs (for error messages), from the keys
    /// it was last reset with.
    pub(super) members: Vec<Option<u32>>,
    /// `numpy.ascontiguousarray`.
    pub(super) contiguous: Py<PyAny>,
}

impl PyVectorEnv {
    /// Builds the environment of `slots` sub-environments for the registered task
    /// `task` and resets every sub-environment once (unseeded), so that slots satr
    /// never resets can still be stepped.
    pub(super) fn open(task: &str, slots: usize) -> Result<Self, TaskError> {
        let (source, max_steps, step_threads) = source_of(task)?;
        Python::attach(|py| {
            let env = open_env(py, task, &source, slots)?;
            let mut env = Self::wrap(py, task, env, slots, max_steps)?;
            env.step_threads = step_threads;
            if step_threads > 1 && env.subs.is_none() {
                // Not an error: the run is the same, only not threaded.
                let text = format!(
                    "satr: gym.step_threads = {step_threads} has no effect on task `{task}`: \
                     only a plain gymnasium.vector.SyncVectorEnv is stepped on several threads"
                );
                let warned = std::ffi::CString::new(text).map_err(|e| bad(task, e.to_string()))?;
                let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
                PyErr::warn(py, &category, &warned, 1)
                    .map_err(|e| py_fail(py, task, "warnings.warn", e))?;
            }
            Ok(env)
        })
    }

    pub(super) fn wrap(
        py: Python<'_>,
        task: &str,
        env: Bound<'_, PyAny>,
        slots: usize,
        max_steps: usize,
    ) -> Result<Self, TaskError> {
        let spaces = read_spaces(py, task, &env, slots)?;
        let fail = |what: &str, e: PyErr| py_fail(py, task, what, e);
        let reset_finished = (|| -> PyResult<bool> {
            let modes = py.import("gymnasium.vector")?.getattr("AutoresetMode")?;
            let mode = env
                .getattr("metadata")?
                .call_method1("get", ("autoreset_mode",))?;
            let selfreset =
                mode.eq(modes.getattr("NEXT_STEP")?)? || mode.eq(modes.getattr("SAME_STEP")?)?;
            // An env that declares finished sub-environments steppable (satr's Brax
            // adapter, whose finished states step on harmlessly) needs no resets.
            let steppable = env
                .getattr("metadata")?
                .call_method1("get", ("satr_finished_steppable", false))?
                .is_truthy()?;
            Ok(!selfreset && !steppable)
        })()
        .map_err(|e| fail("reading metadata[\"autoreset_mode\"]", e))?;
        // One reset of every sub-environment, which also finds out whether the env
        // resets sub-environments one by one, each from its own seed.
        let per_slot = (|| -> PyResult<()> {
            let options = PyDict::new(py);
            options.set_item("reset_mask", PyArray1::from_vec(py, vec![true; slots]))?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("seed", PyList::new(py, vec![None::<u64>; slots])?)?;
            kwargs.set_item("options", options)?;
            env.call_method("reset", (), Some(&kwargs)).map(drop)
        })();
        let whole = per_slot.is_err();
        if whole {
            env.call_method0("reset").map_err(|e| fail("reset()", e))?;
        }
        let contiguous = py
            .import("numpy")
            .and_then(|np| np.getattr("ascontiguousarray"))
            .map_err(|e| fail("numpy.ascontiguousarray", e))?
            .unbind();
        let subs = (|| -> PyResult<Option<Vec<Py<PyAny>>>> {
            let sync = py.import("gymnasium.vector")?.getattr("SyncVectorEnv")?;
            if !env.get_type().is(&sync) {
                return Ok(None);
            }
            let envs: Vec<Py<PyAny>> = env.getattr("envs")?.extract()?;
            Ok((envs.len() == slots).then_some(envs))
        })()
        .map_err(|e| fail("reading a SyncVectorEnv's envs", e))?;
        Ok(PyVectorEnv {
            env: env.unbind(),
            subs,
            task: task.to_string(),
            slots,
            spaces,
            max_steps,
            reset_finished,
            whole,
            finished: vec![false; slots],
            step_threads: 1,
            steps: vec![0; slots],
            members: vec![None; slots],
            contiguous,
        })
    }

    /// `x` as a contiguous numpy array of `dtype`.
    pub(super) fn array<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        dtype: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("dtype", dtype)?;
        self.contiguous.bind(py).call((x,), Some(&kwargs))
    }

    /// `x` as a contiguous numpy array of `dtype` (numpy's name for `T`), handed to
    /// `f` as its shape and values; a failed conversion is an error naming `what()`
    /// (built only then: the direct path calls this for every member's every step).
    pub(super) fn with_values<T: numpy::Element, R>(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        dtype: &str,
        what: &dyn Fn() -> String,
        f: impl FnOnce(&[usize], &[T]) -> Result<R, TaskError>,
    ) -> Result<R, TaskError> {
        // An array of the right dtype and layout already is read in place, without
        // a call into numpy.
        if let Ok(a) = x.cast::<PyArrayDyn<T>>() {
            if let Ok(ro) = a.try_readonly() {
                if let Ok(values) = ro.as_slice() {
                    return f(ro.shape(), values);
                }
            }
        }
        let fail = |e: PyErr| py_fail(py, &self.task, &what(), e);
        let a = self.array(py, x, dtype).map_err(fail)?;
        let a: PyReadonlyArrayDyn<'_, T> = a.extract().map_err(|e: PyErr| fail(e))?;
        let values = a.as_slice().map_err(|e| bad(&self.task, e.to_string()))?;
        f(a.shape(), values)
    }

    /// One value per sub-environment (`name`: rewards, terminations, ...) from `x`.
    fn per_slot<T: numpy::Element + Copy>(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        dtype: &str,
        what: &str,
        name: &str,
    ) -> Result<Vec<T>, TaskError> {
        self.with_values(py, x, dtype, &|| what.to_string(), |_, v: &[T]| {
            self.check_len(what, name, v.len())?;
            Ok(v.to_vec())
        })
    }

    /// Copies the observations `x` into the rows of `obs` whose `rows[i]` is set.
    pub(super) fn copy_obs(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        rows: &[bool],
        obs: &mut [f64],
        what: &str,
    ) -> Result<(), TaskError> {
        let d = self.spaces.obs_dim;
        self.with_values(
            py,
            x,
            "float64",
            &|| what.to_string(),
            |shape, values: &[f64]| {
                if shape.first() != Some(&self.slots) || values.len() != self.slots * d {
                    return Err(bad(
                        &self.task,
                        format!(
                            "{what} returned observations of shape {shape:?}; expected ({}, ...) \
                         with {d} values per sub-environment",
                            self.slots
                        ),
                    ));
                }
                for (i, _) in rows.iter().enumerate().filter(|(_, &on)| on) {
                    obs[i * d..(i + 1) * d].copy_from_slice(&values[i * d..(i + 1) * d]);
                }
                Ok(())
            },
        )
    }

    /// `reset(seed=seeds, options={"reset_mask": mask})`, the returned observation of
    /// every masked slot copied into `obs` (when given).
    pub(super) fn reset_masked(
        &mut self,
        py: Python<'_>,
        mask: &[bool],
        seeds: Vec<Option<u64>>,
        obs: Option<&mut [f64]>,
    ) -> Result<(), TaskError> {
        if let Some(subs) = self.subs.take() {
            let r = self.reset_direct(py, &subs, mask, &seeds, obs);
            self.subs = Some(subs);
            r?;
            self.started(mask);
            return Ok(());
        }
        if self.whole {
            return self.reset_whole(py, mask, &seeds, obs);
        }
        let what = "reset(seed=[...], options={\"reset_mask\": ...})";
        let result = (|| -> PyResult<Bound<'_, PyAny>> {
            let mask_array = PyArray1::from_slice(py, mask);
            let options = PyDict::new(py);
            options.set_item("reset_mask", mask_array)?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("seed", PyList::new(py, seeds)?)?;
            kwargs.set_item("options", options)?;
            let out = timing::env(|| self.env.bind(py).call_method("reset", (), Some(&kwargs)))?;
            out.get_item(0)
        })()
        .map_err(|e| {
            let mut err = py_fail(py, &self.task, what, e);
            if let TaskError::External { reason, .. } = &mut err {
                reason.push_str(
                    " (satr resets sub-environments one by one, each with its own seed: the \
                     VectorEnv must take a list of seeds and options[\"reset_mask\"], as \
                     Gymnasium's SyncVectorEnv and AsyncVectorEnv do)",
                );
            }
            err
        })?;
        if let Some(obs) = obs {
            self.copy_obs(py, &result, mask, obs, what)?;
        }
        self.started(mask);
        Ok(())
    }

    fn started(&mut self, mask: &[bool]) {
        for (i, _) in mask.iter().enumerate().filter(|(_, &on)| on) {
            self.finished[i] = false;
            self.steps[i] = 0;
        }
    }

    /// `reset(seed=s)` of every sub-environment, `s` the first masked slot's seed.
    /// Slots outside `mask` are reset too, which the lockstep driver allows: it resets
    /// every slot it uses at once, at the start of each episode round.
    fn reset_whole(
        &mut self,
        py: Python<'_>,
        mask: &[bool],
        seeds: &[Option<u64>],
        obs: Option<&mut [f64]>,
    ) -> Result<(), TaskError> {
        let seed = mask
            .iter()
            .zip(seeds)
            .find(|(&on, _)| on)
            .and_then(|(_, s)| *s);
        let what = format!("reset(seed={seed:?})");
        let kwargs = PyDict::new(py);
        let result = kwargs
            .set_item("seed", seed)
            .and_then(|_| timing::env(|| self.env.bind(py).call_method("reset", (), Some(&kwargs))))
            .and_then(|out| out.get_item(0))
            .map_err(|e| py_fail(py, &self.task, &what, e))?;
        if let Some(obs) = obs {
            self.copy_obs(py, &result, mask, obs, &what)?;
        }
        self.started(mask);
        Ok(())
    }

    pub(super) fn step_py(
        &mut self,
        py: Python<'_>,
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError> {
        if let Some(subs) = self.subs.take() {
            let r = self.step_direct(py, &subs, active, actions, out, obs);
            self.subs = Some(subs);
            return r;
        }
        if self.reset_finished && !self.whole {
            let stale: Vec<bool> = (0..self.slots)
                .map(|i| self.finished[i] && !active[i])
                .collect();
            if stale.iter().any(|&s| s) {
                self.reset_masked(py, &stale, vec![None; self.slots], None)?;
            }
        }
        let batch = self.actions(py, active, actions)?;
        let step_no = (0..self.slots)
            .filter(|&i| active[i])
            .map(|i| self.steps[i] + 1)
            .max()
            .unwrap_or(0);
        let what = format!("step() (episode step {step_no})");
        let fail = |e: PyErr| py_fail(py, &self.task, &what, e);
        let result =
            timing::env(|| self.env.bind(py).call_method1("step", (batch,))).map_err(fail)?;
        let item = |i: usize| result.get_item(i).map_err(fail);
        let (next, rewards, terms, truncs) = (item(0)?, item(1)?, item(2)?, item(3)?);
        self.copy_obs(py, &next, active, obs, &what)?;
        let rewards: Vec<f64> = self.per_slot(py, &rewards, "float64", &what, "rewards")?;
        let terms: Vec<bool> = self.per_slot(py, &terms, "bool", &what, "terminations")?;
        let truncs: Vec<bool> = self.per_slot(py, &truncs, "bool", &what, "truncations")?;
        for i in 0..self.slots {
            self.finished[i] = terms[i] || truncs[i];
            self.steps[i] += 1;
            if active[i] {
                out[i] = Step {
                    reward: rewards[i],
                    terminated: terms[i],
                    truncated: truncs[i],
                };
            }
        }
        Ok(())
    }

    /// Slot `i` as an error message names it: its member, when known.
    pub(super) fn slot_name(&self, i: usize) -> String {
        match self.members[i] {
            Some(m) => format!("member {m} (sub-environment {i})"),
            None => format!("sub-environment {i}"),
        }
    }

    pub(super) fn check_len(&self, what: &str, name: &str, len: usize) -> Result<(), TaskError> {
        if len != self.slots {
            return Err(bad(
                &self.task,
                format!(
                    "{what} returned {len} {name} for {} sub-environments",
                    self.slots
                ),
            ));
        }
        Ok(())
    }

    /// The actions of every slot as the env takes them: an int64 array (Discrete, plus
    /// `start`), or a float array of shape `(slots, *box_shape)` in the Box's dtype.
    /// Inactive slots get the first action, or the middle of the box.
    pub(super) fn actions<'py>(
        &self,
        py: Python<'py>,
        active: &[bool],
        actions: ActionBatch<'_>,
    ) -> Result<Bound<'py, PyAny>, TaskError> {
        let fail = |e: PyErr| py_fail(py, &self.task, "building the actions", e);
        match (&self.spaces.space, actions) {
            (ActionSpace::Discrete(_), ActionBatch::Discrete(a)) => {
                let v: Vec<i64> = (0..self.slots)
                    .map(|i| self.spaces.start + if active[i] { a[i] as i64 } else { 0 })
                    .collect();
                Ok(PyArray1::from_vec(py, v).into_any())
            }
            (ActionSpace::Continuous { low, high }, ActionBatch::Continuous { values, dim }) => {
                let mut v = Vec::with_capacity(self.slots * dim);
                for i in 0..self.slots {
                    if active[i] {
                        v.extend_from_slice(&values[i * dim..(i + 1) * dim]);
                    } else {
                        v.extend(low.iter().zip(high).map(|(l, h)| 0.5 * (l + h)));
                    }
                }
                self.spaces.box_array(py, v, &[self.slots]).map_err(fail)
            }
            _ => Err(bad(
                &self.task,
                "satr passed actions of the wrong kind for the action space".into(),
            )),
        }
    }
}

impl Drop for PyVectorEnv {
    fn drop(&mut self) {
        // Closes the sub-environments (windows, simulators); nothing to do once the
        // interpreter is shutting down.
        let _ = Python::try_attach(|py| {
            let _ = self.env.bind(py).call_method0("close");
        });
    }
}

impl VectorTask for PyVectorEnv {
    fn slots(&self) -> usize {
        self.slots
    }

    fn obs_dim(&self) -> usize {
        self.spaces.obs_dim
    }

    fn action_space(&self) -> ActionSpace {
        self.spaces.space.clone()
    }

    fn max_episode_steps(&self) -> usize {
        self.max_steps
    }

    fn reset(&mut self, keys: &[Option<EpisodeKey>], obs: &mut [f64]) -> Result<(), TaskError> {
        let mask: Vec<bool> = keys.iter().map(Option::is_some).collect();
        if !mask.iter().any(|&m| m) {
            return Ok(());
        }
        let seeds = keys.iter().map(|k| k.map(|k| k.seed_u63())).collect();
        for (m, k) in self.members.iter_mut().zip(keys) {
            if let Some(k) = k {
                *m = Some(k.member);
            }
        }
        timing::call(|| Python::attach(|py| self.reset_masked(py, &mask, seeds, Some(obs))))
    }

    fn step(
        &mut self,
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError> {
        timing::call(|| Python::attach(|py| self.step_py(py, active, actions, out, obs)))
    }
}
