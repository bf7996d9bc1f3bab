//! Gymnasium vector environments as satr tasks: a [`VectorTask`] over a Python
//! `gymnasium.vector.VectorEnv` (and a single-member [`Task`] over a one-slot one, for
//! what replays one member: the cost figures, `evaluate`, transcripts), registered by
//! name before a config naming them is validated.
//!
//! Resets are keyed: slot `i` reset for episode key `k` is reset with
//! `seed=k.seed_u63()` and `options={"reset_mask": mask}`, so an episode depends only
//! on its key and a run of a deterministic environment is reproducible. Finished slots
//! are never stepped by satr; a `VectorEnv` steps every sub-environment though, so a
//! finished slot that satr is not resetting is reset first (unseeded) when the
//! environment does not autoreset it itself (`AutoresetMode.DISABLED`).
//!
//! satr calls these tasks from its training thread with the GIL released; each call
//! attaches to the interpreter for the Python calls and copies the arrays it needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use numpy::{PyArray1, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use satr::config::GymVectorization;
use satr::tasks::{
    registry, Action, ActionBatch, ActionKind, ActionSpace, EpisodeKey, Step, Task, TaskError,
    TaskSpec, VectorStep, VectorTask,
};

use crate::errors::remember_env_error;

mod direct;
mod single;
mod spaces;
pub(crate) mod timing;
mod vector;

use self::single::PySingleEnv;
use self::spaces::{open_env, read_spaces, step_limit, Spaces};
use self::vector::PyVectorEnv;

/// Where a Python task's environments come from.
pub(crate) enum Source {
    /// `gymnasium.make_vec(id, num_envs=n, vectorization_mode=mode)`, with
    /// `vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED}` for `sync` and
    /// `async` (a vector entry point takes no vector kwargs).
    Gym(String, GymVectorization),
    /// A callable `num_envs -> gymnasium.vector.VectorEnv`.
    Callable(Py<PyAny>),
}

/// A registered Python task: where its environments come from and the step limit it
/// was registered with.
struct Entry {
    source: Arc<Source>,
    max_steps: usize,
    /// `gym.step_threads` of the run that registered it last.
    step_threads: usize,
}

/// The Python tasks of this process by name. The registered specs' constructors look
/// their source up here when called, so registering a callable again under the same
/// name (a new `satr.train(make_env)`) replaces the callable.
fn entries() -> &'static Mutex<HashMap<String, Entry>> {
    static ENTRIES: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    ENTRIES.get_or_init(Default::default)
}

/// A registered task's source, step limit and step threads.
fn source_of(name: &str) -> Result<(Arc<Source>, usize, usize), TaskError> {
    let table = entries().lock().unwrap_or_else(|e| e.into_inner());
    table
        .get(name)
        .map(|e| (e.source.clone(), e.max_steps, e.step_threads))
        .ok_or_else(|| TaskError::External {
            task: name.to_string(),
            reason: "no Python environment is registered under this name".into(),
        })
}

/// The task name of a callable: `py:<module>.<qualname>`.
pub(crate) fn callable_name(f: &Bound<'_, PyAny>) -> PyResult<String> {
    let attr = |n: &str| -> Option<String> { f.getattr(n).ok()?.extract::<String>().ok() };
    let qual = attr("__qualname__")
        .or_else(|| attr("__name__"))
        .unwrap_or_else(|| "env".to_string());
    Ok(match attr("__module__") {
        Some(m) if m != "__main__" => format!("py:{m}.{qual}"),
        _ => format!("py:{qual}"),
    })
}

/// The source of a `brax:<env>` task: `satr.brax.vector_env_factory(env, backend)`,
/// which checks the name and the backend.
pub(crate) fn brax_source(py: Python<'_>, name: &str, backend: &str) -> Result<Source, TaskError> {
    let env = name.trim_start_matches("brax:");
    py.import("satr.brax")
        .and_then(|m| m.getattr("vector_env_factory"))
        .and_then(|f| f.call1((env, backend)))
        .map(|make| Source::Callable(make.unbind()))
        .map_err(|e| {
            let call = format!("satr.brax.vector_env_factory({env:?}, backend={backend:?})");
            py_fail(py, name, &call, e)
        })
}

/// A failed Python call as a task error naming the task and what was called; the
/// exception itself is kept to be the `__cause__` of the `satr.TaskError`.
fn py_fail(py: Python<'_>, task: &str, what: &str, err: PyErr) -> TaskError {
    let text = match err.value(py).str() {
        Ok(s) => format!(
            "{}: {s}",
            err.get_type(py)
                .name()
                .map_or("?".into(), |n| n.to_string())
        ),
        Err(_) => err.to_string(),
    };
    remember_env_error(err);
    TaskError::External {
        task: task.to_string(),
        reason: format!("{what} raised {text}"),
    }
}

fn bad(task: &str, reason: String) -> TaskError {
    TaskError::External {
        task: task.to_string(),
        reason,
    }
}

/// Registers `name` as a task whose environments come from `source` (or, if a Python
/// task of that name is registered, points it at `source`), reading its spaces from a
/// one-slot environment. `configured` is the config's `evaluation.max_episode_steps`
/// (used when the environment's spec has no step limit), `step_threads` its
/// `gym.step_threads`.
pub(crate) fn ensure(
    py: Python<'_>,
    name: &str,
    source: Source,
    configured: Option<usize>,
    step_threads: usize,
) -> Result<(), TaskError> {
    let env = open_env(py, name, &source, 1)?;
    let max_steps = step_limit(py, name, &env, &source, configured)?;
    let probe = PyVectorEnv::wrap(py, name, env, 1, max_steps)?;
    let action = match &probe.spaces.space {
        ActionSpace::Discrete(n) => ActionKind::Discrete(*n),
        ActionSpace::Continuous { low, .. } => ActionKind::Continuous(low.len()),
    };
    let obs_dim = probe.spaces.obs_dim;
    drop(probe);
    if let Ok(spec) = registry::lookup(name) {
        let ours = entries()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name);
        if !ours {
            return Err(TaskError::Duplicate(name.to_string()));
        }
        if spec.obs_dim() != obs_dim || spec.action() != action {
            return Err(bad(
                name,
                format!(
                    "this name is registered in this process with {} observations and {:?}; \
                     the new environment has {obs_dim} and {action:?} (give the callable \
                     another name, or restart Python)",
                    spec.obs_dim(),
                    spec.action()
                ),
            ));
        }
        let mut table = entries().lock().unwrap_or_else(|e| e.into_inner());
        let entry = table.get_mut(name).expect("checked above");
        entry.source = Arc::new(source);
        entry.step_threads = step_threads;
        return Ok(());
    }
    let label = match &source {
        Source::Gym(id, mode) => format!("Gymnasium {id} ({} vector env)", mode.as_str()),
        Source::Callable(f) => format!("Python callable {}", f.bind(py)),
    };
    entries().lock().unwrap_or_else(|e| e.into_inner()).insert(
        name.to_string(),
        Entry {
            source: Arc::new(source),
            max_steps,
            step_threads,
        },
    );
    let static_name: &'static str = Box::leak(name.to_string().into_boxed_str());
    let single = move || -> Result<Box<dyn Task>, TaskError> {
        let env = PyVectorEnv::open(static_name, 1)?;
        let obs = vec![0.0; env.spaces.obs_dim];
        Ok(Box::new(PySingleEnv {
            env,
            name: static_name,
            obs,
            pending: None,
        }))
    };
    let vector = move |slots: usize| -> Result<Box<dyn VectorTask>, TaskError> {
        Ok(Box::new(PyVectorEnv::open(static_name, slots)?))
    };
    let spec = TaskSpec::new(name, obs_dim, action, max_steps, single)
        .with_vector(vector)
        .with_description(label);
    if let Err(e) = satr::register_task(spec) {
        entries()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        return Err(e);
    }
    Ok(())
}

/// Whether `name` is a Python task registered in this process.
pub(crate) fn is_registered(name: &str) -> bool {
    entries()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains_key(name)
}
