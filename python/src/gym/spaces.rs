//! Opening a Python vector env and reading its spaces and step limit.

use super::*;

/// What the step limit of an environment is: its spec's `max_episode_steps`, else
/// `configured` (the config's `evaluation.max_episode_steps`, when not 0).
pub(super) fn step_limit(
    py: Python<'_>,
    task: &str,
    env: &Bound<'_, PyAny>,
    source: &Source,
    configured: Option<usize>,
) -> Result<usize, TaskError> {
    let from_spec = |spec: Bound<'_, PyAny>| -> Option<usize> {
        if spec.is_none() {
            return None;
        }
        spec.getattr("max_episode_steps")
            .ok()?
            .extract::<usize>()
            .ok()
    };
    let mut found = match source {
        Source::Gym(id, _) => py
            .import("gymnasium")
            .and_then(|g| g.call_method1("spec", (id,)))
            .ok()
            .and_then(from_spec),
        Source::Callable(_) => env.getattr("spec").ok().and_then(from_spec),
    };
    if found.is_none() {
        // A sync/async vector env of wrapped environments: the first one's spec.
        found = env
            .call_method1("get_attr", ("spec",))
            .ok()
            .and_then(|specs| specs.get_item(0).ok())
            .and_then(from_spec);
    }
    match found.filter(|&n| n > 0).or(configured.filter(|&n| n > 0)) {
        Some(n) => Ok(n),
        None => Err(bad(
            task,
            "the environment's spec has no max_episode_steps: set the config key \
             evaluation.max_episode_steps"
                .into(),
        )),
    }
}

/// Builds a vector env of `slots` sub-environments from `source`.
pub(super) fn open_env<'py>(
    py: Python<'py>,
    task: &str,
    source: &Source,
    slots: usize,
) -> Result<Bound<'py, PyAny>, TaskError> {
    match source {
        Source::Gym(id, mode) => {
            let made = (|| -> PyResult<Bound<'py, PyAny>> {
                let gym = py.import("gymnasium")?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("num_envs", slots)?;
                kwargs.set_item("vectorization_mode", mode.as_str())?;
                if *mode != GymVectorization::VectorEntryPoint {
                    let disabled = gym
                        .getattr("vector")?
                        .getattr("AutoresetMode")?
                        .getattr("DISABLED")?;
                    let vector_kwargs = PyDict::new(py);
                    vector_kwargs.set_item("autoreset_mode", disabled)?;
                    kwargs.set_item("vector_kwargs", vector_kwargs)?;
                }
                gym.call_method("make_vec", (id,), Some(&kwargs))
            })();
            made.map_err(|e| {
                let call = format!(
                    "gymnasium.make_vec({id:?}, vectorization_mode={:?})",
                    mode.as_str()
                );
                py_fail(py, task, &call, e)
            })
        }
        Source::Callable(f) => {
            let f = f.bind(py);
            f.call1((slots,))
                .map_err(|e| py_fail(py, task, &format!("{f}({slots})"), e))
        }
    }
}

/// A vector environment's spaces as satr reads them.
pub(super) struct Spaces {
    pub(super) obs_dim: usize,
    pub(super) space: ActionSpace,
    /// The Box's shape (empty for Discrete).
    pub(super) action_shape: Vec<usize>,
    /// Discrete's `start`.
    pub(super) start: i64,
    /// The Box's dtype, to cast actions to (None: float64, no cast needed).
    pub(super) action_dtype: Option<Py<PyAny>>,
}

impl Spaces {
    /// `values` as the Box's array: of shape `lead` followed by the Box's shape, in
    /// the Box's dtype.
    pub(super) fn box_array<'py>(
        &self,
        py: Python<'py>,
        values: Vec<f64>,
        lead: &[usize],
    ) -> PyResult<Bound<'py, PyAny>> {
        let shape: Vec<usize> = lead.iter().chain(&self.action_shape).copied().collect();
        let a = PyArray1::from_vec(py, values).reshape(shape)?.into_any();
        match &self.action_dtype {
            Some(dtype) => a.call_method1("astype", (dtype.bind(py),)),
            None => Ok(a),
        }
    }
}

pub(super) fn read_spaces(
    py: Python<'_>,
    task: &str,
    env: &Bound<'_, PyAny>,
    slots: usize,
) -> Result<Spaces, TaskError> {
    let fail = |what: &str, e: PyErr| py_fail(py, task, what, e);
    let n: usize = env
        .getattr("num_envs")
        .and_then(|n| n.extract())
        .map_err(|e| fail("reading num_envs", e))?;
    if n != slots {
        return Err(bad(
            task,
            format!("asked for {slots} sub-environments, the vector env has {n} (num_envs)"),
        ));
    }
    let spaces = py
        .import("gymnasium.spaces")
        .map_err(|e| fail("import gymnasium.spaces", e))?;
    let class = |name: &str| {
        spaces
            .getattr(name)
            .map_err(|e| fail(&format!("gymnasium.spaces.{name}"), e))
    };
    let (box_class, discrete_class) = (class("Box")?, class("Discrete")?);
    let obs_space = env
        .getattr("single_observation_space")
        .map_err(|e| fail("reading single_observation_space", e))?;
    if !obs_space.is_instance(&box_class).unwrap_or(false) {
        return Err(bad(
            task,
            format!("observation space {obs_space} is not supported: satr observes a Box"),
        ));
    }
    let shape: Vec<usize> = obs_space
        .getattr("shape")
        .and_then(|s| s.extract())
        .map_err(|e| fail("reading the observation space's shape", e))?;
    let obs_dim = shape.iter().product::<usize>();
    if obs_dim == 0 {
        return Err(bad(task, format!("observation space {obs_space} is empty")));
    }
    let act = env
        .getattr("single_action_space")
        .map_err(|e| fail("reading single_action_space", e))?;
    if act.is_instance(&discrete_class).unwrap_or(false) {
        let n: usize = act
            .getattr("n")
            .and_then(|n| n.extract())
            .map_err(|e| fail("reading Discrete.n", e))?;
        let start: i64 = act
            .getattr("start")
            .and_then(|n| n.extract())
            .map_err(|e| fail("reading Discrete.start", e))?;
        if n < 2 {
            return Err(bad(
                task,
                format!("action space {act} has fewer than 2 actions"),
            ));
        }
        return Ok(Spaces {
            obs_dim,
            space: ActionSpace::Discrete(n),
            action_shape: Vec::new(),
            start,
            action_dtype: None,
        });
    }
    if act.is_instance(&box_class).unwrap_or(false) {
        let bounds = |which: &str| -> Result<Vec<f64>, TaskError> {
            let read = || -> PyResult<Vec<f64>> {
                let np = py.import("numpy")?;
                let kwargs = PyDict::new(py);
                kwargs.set_item("dtype", "float64")?;
                let a = np.call_method("asarray", (act.getattr(which)?,), Some(&kwargs))?;
                a.call_method0("ravel")?.call_method0("tolist")?.extract()
            };
            read().map_err(|e| fail(&format!("reading the action space's {which}"), e))
        };
        let (low, high) = (bounds("low")?, bounds("high")?);
        if low.is_empty() || low.iter().chain(&high).any(|x| !x.is_finite()) {
            return Err(bad(
                task,
                format!("action space {act} is not supported: satr needs a Box with finite bounds"),
            ));
        }
        let action_shape: Vec<usize> = act
            .getattr("shape")
            .and_then(|s| s.extract())
            .map_err(|e| fail("reading the action space's shape", e))?;
        let dtype = act
            .getattr("dtype")
            .map_err(|e| fail("reading the action space's dtype", e))?;
        let is_f64 = dtype
            .getattr("name")
            .and_then(|n| n.extract::<String>())
            .is_ok_and(|n| n == "float64");
        return Ok(Spaces {
            obs_dim,
            space: ActionSpace::Continuous { low, high },
            action_shape,
            start: 0,
            action_dtype: (!is_f64).then(|| dtype.unbind()),
        });
    }
    Err(bad(
        task,
        format!("action space {act} is not supported: satr acts in a Discrete or a bounded Box"),
    ))
}
