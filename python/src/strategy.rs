//! Ask/tell from Python: `_satr.Strategy` and `_satr.Population` over
//! `satr::app::strategy` (the Python class `satr.Strategy` wraps them and reads
//! Gymnasium spaces), and `_satr.BuiltinTask`, one instance of a built-in task reset
//! from satr's keyed reset streams (what an ask/tell loop needs to reproduce
//! `satr.train` exactly).
//!
//! Arrays come in as contiguous float64 (the Python layer converts) and actions go
//! out as float64 (the Python layer casts them); the GIL is released while networks
//! step.

use std::path::PathBuf;

use std::sync::Mutex;

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use satr::app::strategy::{Population, Strategy, StrategyError};
use satr::tasks::{Action, ActionSpace, EpisodeKey, Task};
use satr::Config;

use crate::convert;
use crate::errors::{self, guarded};

/// A strategy error as the package's exception: sizes and stale populations as
/// `satr.UsageError` (a `ValueError`).
fn strategy_error(py: Python<'_>, e: &StrategyError) -> PyErr {
    match e {
        StrategyError::Config(c) => errors::config_error(py, c),
        StrategyError::Train(t) => errors::train_error(py, t),
        StrategyError::Checkpoint(_) => errors::new_error(py, "CheckpointError", e.to_string()),
        StrategyError::NonFinite { .. } => errors::new_error(py, "TaskError", e.to_string()),
        _ => errors::new_error(py, "UsageError", e.to_string()),
    }
}

fn space_of(
    py: Python<'_>,
    discrete: Option<usize>,
    low: Option<Vec<f64>>,
    high: Option<Vec<f64>>,
) -> PyResult<Option<ActionSpace>> {
    match (discrete, low, high) {
        (Some(n), None, None) => Ok(Some(ActionSpace::Discrete(n))),
        (None, Some(low), Some(high)) => Ok(Some(ActionSpace::Continuous { low, high })),
        (None, None, None) => Ok(None),
        _ => Err(errors::new_error(
            py,
            "UsageError",
            "an action space is either discrete=n or low= and high=",
        )),
    }
}

/// The state of an ask/tell run (`satr.Strategy` documents it).
#[pyclass(module = "satr._satr", name = "Strategy")]
pub(crate) struct PyStrategy {
    inner: Strategy,
}

#[pymethods]
impl PyStrategy {
    #[new]
    #[pyo3(signature = (obs_dim, *, discrete=None, low=None, high=None, config_path=None, config=None, overrides=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        obs_dim: usize,
        discrete: Option<usize>,
        low: Option<Vec<f64>>,
        high: Option<Vec<f64>>,
        config_path: Option<PathBuf>,
        config: Option<Bound<'_, PyDict>>,
        overrides: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        guarded(py, |py| {
            let space = space_of(py, discrete, low, high)?
                .ok_or_else(|| errors::new_error(py, "UsageError", "an action space is needed"))?;
            let text = match (&config, &config_path) {
                (Some(d), _) => toml::to_string(&convert::to_table(d, "")?)
                    .map_err(|e| errors::new_error(py, "ConfigError", e.to_string()))?,
                (None, Some(p)) => std::fs::read_to_string(p).map_err(|e| {
                    errors::new_error(
                        py,
                        "ConfigError",
                        format!("cannot read config {}: {e}", p.display()),
                    )
                })?,
                (None, None) => String::new(),
            };
            let set = match &overrides {
                Some(d) => convert::overrides(d)?,
                None => Vec::new(),
            };
            let cfg = Config::parse_with_overrides(&text, &set)
                .map_err(|e| errors::config_error(py, &e))?;
            let inner = Strategy::new(cfg, obs_dim, space).map_err(|e| strategy_error(py, &e))?;
            Ok(PyStrategy { inner })
        })
    }

    /// Continues from a checkpoint; the action space as in the constructor, or none
    /// for the config's task from the registry.
    #[staticmethod]
    #[pyo3(signature = (path, *, discrete=None, low=None, high=None))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        discrete: Option<usize>,
        low: Option<Vec<f64>>,
        high: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        guarded(py, |py| {
            let space = space_of(py, discrete, low, high)?;
            let inner = Strategy::load(&satr::checkpoint::resolve(&path), space)
                .map_err(|e| strategy_error(py, &e))?;
            Ok(PyStrategy { inner })
        })
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        guarded(py, |py| {
            self.inner.save(&path).map_err(|e| strategy_error(py, &e))
        })
    }

    fn ask(&self, py: Python<'_>) -> PyResult<PyPopulation> {
        guarded(py, |py| {
            let s = &self.inner;
            Ok(PyPopulation {
                inner: py.detach(|| s.ask()),
            })
        })
    }

    /// Updates `p`; returns the generation's record as JSON text.
    #[pyo3(signature = (population, fitness, eval_fitness=None))]
    fn tell(
        &mut self,
        py: Python<'_>,
        population: PyRef<'_, PyPopulation>,
        fitness: PyReadonlyArray1<'_, f64>,
        eval_fitness: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<String> {
        guarded(py, |py| {
            let fitness = fitness.as_slice()?;
            let eval = eval_fitness.as_ref().map(|a| a.as_slice()).transpose()?;
            let m = self
                .inner
                .tell(&population.inner, fitness, eval)
                .map_err(|e| strategy_error(py, &e))?;
            serde_json::to_string(&m).map_err(|e| errors::new_error(py, "SatrError", e.to_string()))
        })
    }

    #[getter]
    fn generation(&self) -> u32 {
        self.inner.generation
    }

    #[getter]
    fn env_steps(&self) -> u64 {
        self.inner.env_steps
    }

    #[getter]
    fn finished(&self) -> bool {
        self.inner.finished()
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.inner.shape().obs_dim
    }

    #[getter]
    fn p<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_slice(py, &self.inner.p)
    }

    /// The resolved config as TOML text.
    #[getter]
    fn config_toml(&self) -> String {
        self.inner.config.to_toml()
    }

    /// `("discrete", n, None, None)` or `("box", dim, low, high)`.
    #[getter]
    fn action_space(&self) -> (String, usize, Option<Vec<f64>>, Option<Vec<f64>>) {
        match self.inner.action_space() {
            ActionSpace::Discrete(n) => ("discrete".into(), *n, None, None),
            ActionSpace::Continuous { low, high } => (
                "box".into(),
                low.len(),
                Some(low.clone()),
                Some(high.clone()),
            ),
        }
    }
}

/// One generation's members (`satr.Population` documents it).
#[pyclass(module = "satr._satr", name = "Population")]
pub(crate) struct PyPopulation {
    inner: Population,
}

#[pymethods]
impl PyPopulation {
    /// Steps every (active) member once; returns the actions as float64, members x
    /// action width, flat.
    #[pyo3(signature = (obs, active=None))]
    fn act<'py>(
        &mut self,
        py: Python<'py>,
        obs: PyReadonlyArray2<'py, f64>,
        active: Option<PyReadonlyArray1<'py, bool>>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        guarded(py, |py| {
            let shape = obs.shape();
            let (n, d) = (self.inner.size(), self.inner.obs_dim());
            if shape != [n, d] {
                return Err(errors::new_error(
                    py,
                    "UsageError",
                    format!(
                        "observations: expected shape ({n}, {d}) (members, obs_dim), got {:?}",
                        shape
                    ),
                ));
            }
            let obs = obs.as_slice()?;
            let active = active.as_ref().map(|a| a.as_slice()).transpose()?;
            let mut out = vec![0.0; n * self.inner.action_width()];
            let pop = &mut self.inner;
            py.detach(|| pop.act(obs, active, &mut out))
                .map_err(|e| strategy_error(py, &e))?;
            Ok(PyArray1::from_vec(py, out))
        })
    }

    #[pyo3(signature = (mask=None))]
    fn reset(&mut self, py: Python<'_>, mask: Option<PyReadonlyArray1<'_, bool>>) -> PyResult<()> {
        guarded(py, |py| {
            let mask = mask.as_ref().map(|a| a.as_slice()).transpose()?;
            self.inner.reset(mask).map_err(|e| strategy_error(py, &e))
        })
    }

    /// `(seed, generation, member, episode)` of member `member`'s current episode.
    fn episode_key(&self, py: Python<'_>, member: usize) -> PyResult<(u64, u32, u32, u32)> {
        if member >= self.inner.size() {
            return Err(errors::new_error(
                py,
                "UsageError",
                format!("member {member} of {}", self.inner.size()),
            ));
        }
        let k = self.inner.episode_key(member);
        Ok((k.seed, k.generation, k.member, k.episode))
    }

    /// A 63-bit reset seed for member `member`'s current episode (Gymnasium's
    /// `reset(seed=...)`), from its episode key.
    fn reset_seed(&self, py: Python<'_>, member: usize) -> PyResult<u64> {
        let (seed, generation, member, episode) = self.episode_key(py, member)?;
        Ok(EpisodeKey {
            seed,
            generation,
            member,
            episode,
        }
        .seed_u63())
    }

    #[getter]
    fn size(&self) -> usize {
        self.inner.size()
    }

    #[getter]
    fn train_members(&self) -> usize {
        self.inner.train_members()
    }

    #[getter]
    fn eval_members(&self) -> usize {
        self.inner.eval_members()
    }

    #[getter]
    fn generation(&self) -> u32 {
        self.inner.generation()
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.inner.obs_dim()
    }

    #[getter]
    fn action_width(&self) -> usize {
        self.inner.action_width()
    }
}

/// One instance of a built-in task, reset from satr's keyed reset stream.
#[pyclass(module = "satr._satr", name = "BuiltinTask")]
pub(crate) struct PyBuiltinTask {
    task: Mutex<Box<dyn Task>>,
    space: ActionSpace,
}

impl PyBuiltinTask {
    fn task(&self) -> std::sync::MutexGuard<'_, Box<dyn Task>> {
        self.task.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyBuiltinTask {
    #[new]
    fn new(py: Python<'_>, name: &str) -> PyResult<Self> {
        let task = satr::tasks::make_task(name).map_err(|e| errors::task_error(py, &e))?;
        let space = task.action_space();
        Ok(PyBuiltinTask {
            task: Mutex::new(task),
            space,
        })
    }

    /// Resets the task as the evaluator resets it for `(seed, generation, member,
    /// episode)`; returns the observation.
    fn reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: u64,
        generation: u32,
        member: u32,
        episode: u32,
    ) -> Bound<'py, PyArray1<f64>> {
        let key = EpisodeKey {
            seed,
            generation,
            member,
            episode,
        };
        let mut r = key.reset_stream();
        self.task().reset(&mut || r.next_f64());
        self.observe(py)
    }

    fn observe<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        let task = self.task();
        let mut obs = vec![0.0; task.obs_dim()];
        task.observe(&mut obs);
        PyArray1::from_vec(py, obs)
    }

    /// One step with `action` (a list: one index, or one value per dimension);
    /// returns `(reward, terminated, truncated)`.
    fn step(&mut self, py: Python<'_>, action: Vec<f64>) -> PyResult<(f64, bool, bool)> {
        let mut task = self.task();
        let step = match self.space {
            ActionSpace::Discrete(_) => task.step(Action::Discrete(
                action.first().copied().unwrap_or(0.0) as usize,
            )),
            ActionSpace::Continuous { .. } => task.step(Action::Continuous(&action)),
        }
        .map_err(|e| errors::task_error(py, &e))?;
        Ok((step.reward, step.terminated, step.truncated))
    }

    #[getter]
    fn obs_dim(&self) -> usize {
        self.task().obs_dim()
    }

    #[getter]
    fn max_episode_steps(&self) -> usize {
        self.task().max_episode_steps()
    }
}
