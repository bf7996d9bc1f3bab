//! `satr._satr`, the extension module of the Python package `satr` (python/pysrc/satr
//! holds the Python side, which is the public API): training, resuming, evaluating and
//! exporting runs through satr's application layer (`satr::app`), ask/tell
//! ([`strategy`]: `satr.Strategy`), Gymnasium vector
//! environments and Python callables as tasks ([`gym`]), and the `satr` command line
//! (`satr::cli::main`) for the package's console script.
//!
//! Every entry point turns satr's errors into the package's exceptions and a panic into
//! `satr.InternalError` ([`errors`]). Training runs on its own thread with the GIL
//! released; the calling thread waits, checking Python's signals every 50 ms: the first
//! `KeyboardInterrupt` asks the run to stop after its generation (checkpoint written)
//! and is raised once it has; a second one is raised at once.

mod cli;
mod convert;
mod errors;
mod gym;
mod strategy;
mod training;

use crate::cli::cli_main;
use crate::training::run_training;

use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use satr::app::train::TrainArgs;
use satr::app::{Engines, RunDir, TrainError, World};
use satr::{Backend, Config, ConfigError};

use crate::errors::{guarded, panic_message};
use crate::gym::Source;
use satr::config::{BraxBackend, GymVectorization};

/// Logs of satr on stderr: warnings, or what `RUST_LOG` asks. Set up by the first call
/// that runs anything (the console script's command line sets up its own instead).
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The TOML text of `v` as an override value.
fn toml_text(v: &str) -> String {
    toml::Value::String(v.to_string()).to_string()
}

/// Registers the Python task a run names, before its config is validated: a
/// `gym:<id>` name, or `callable` under `name`. Built-in (and other registered) tasks
/// need nothing.
fn register_task(
    py: Python<'_>,
    name: &str,
    callable: Option<&Bound<'_, PyAny>>,
    options: TaskOptions,
) -> PyResult<()> {
    let source = match (callable, name.strip_prefix("gym:")) {
        (Some(f), _) => Source::Callable(f.clone().unbind()),
        (None, Some(id)) => Source::Gym(id.to_string(), options.vectorization),
        (None, None) if name.starts_with("brax:") => {
            gym::brax_source(py, name, options.brax_backend.as_str())
                .map_err(|e| errors::task_error(py, &e))?
        }
        (None, None) => {
            if name.starts_with("py:") && satr::tasks::registry::lookup(name).is_err() {
                return Err(errors::new_error(
                    py,
                    "TaskError",
                    format!(
                        "task `{name}` is a Python callable of an earlier session: pass it \
                         again (task=...)"
                    ),
                ));
            }
            return Ok(());
        }
    };
    gym::ensure(py, name, source, options.steps, options.step_threads)
        .map_err(|e| errors::task_error(py, &e))
}

/// What registering a Python task reads from its run's config, before the config is
/// validated (a bad value is then reported by the validation, naming its key).
pub(crate) struct TaskOptions {
    /// `evaluation.max_episode_steps`, for an env whose spec has no step limit.
    steps: Option<usize>,
    /// `gym.vectorization`, how a `gym:<id>` vector env is built.
    vectorization: GymVectorization,
    /// `brax.backend`, the physics of a `brax:<env>` task.
    brax_backend: BraxBackend,
    /// `gym.step_threads`, the threads that step a `SyncVectorEnv`'s sub-environments
    /// (at least 1 here; the validation reports a value out of range).
    step_threads: usize,
}

impl TaskOptions {
    /// The options from `get`, a config lookup by dotted key; an option of the wrong
    /// kind is a config error naming its key (before any environment is built).
    pub(crate) fn read(get: impl Fn(&str) -> Option<toml::Value>) -> Result<Self, ConfigError> {
        fn typed<T: serde::de::DeserializeOwned + Default>(
            get: &impl Fn(&str) -> Option<toml::Value>,
            key: &str,
        ) -> Result<T, ConfigError> {
            match get(key) {
                None => Ok(T::default()),
                Some(v) => v
                    .try_into()
                    .map_err(|e| ConfigError::Invalid(format!("{key}: {e}"))),
            }
        }
        Ok(TaskOptions {
            steps: get("evaluation.max_episode_steps")
                .and_then(|v| v.as_integer())
                .and_then(|n| usize::try_from(n).ok()),
            vectorization: typed(&get, "gym.vectorization")?,
            brax_backend: typed(&get, "brax.backend")?,
            step_threads: typed::<Option<usize>>(&get, "gym.step_threads")?
                .unwrap_or(1)
                .max(1),
        })
    }
}

/// A folder name for a run of `task` (whose name may hold `:` or `/`): the run
/// directory's default name with those characters replaced, unique in `out_dir`.
fn run_name(task: &str, seed: u64, out_dir: &Path) -> String {
    let clean: String = task
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = format!("{clean}-s{seed}-{secs}");
    (1..)
        .map(|k| match k {
            1 => base.clone(),
            k => format!("{base}-{k}"),
        })
        .find(|n| !out_dir.join(n).exists())
        .expect("some name is free")
}

/// The run directory of `path` (a run directory or a checkpoint file) and its
/// `config.toml` as a table.
fn run_config(py: Python<'_>, path: &Path) -> PyResult<toml::Table> {
    let dir = RunDir::of_checkpoint(&satr::checkpoint::resolve(path))
        .map_err(|e| errors::train_error(py, &e))?;
    let cfg_path = dir.config_path();
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        errors::new_error(
            py,
            "CheckpointError",
            format!(
                "{} is not a run directory: {}: {e}",
                path.display(),
                cfg_path.display()
            ),
        )
    })?;
    toml::from_str(&text).map_err(|e| {
        errors::new_error(
            py,
            "CheckpointError",
            format!("{}: {e}", cfg_path.display()),
        )
    })
}

/// Registers the Python task of the run at `path`, if it has one.
fn register_run_task(
    py: Python<'_>,
    path: &Path,
    callable: Option<&Bound<'_, PyAny>>,
    set: &[String],
) -> PyResult<()> {
    let table = run_config(py, path)?;
    let name = table
        .get("task")
        .and_then(|t| t.as_str())
        .unwrap_or_default()
        .to_string();
    let options = TaskOptions::read(|key| convert::lookup(Some(&table), set, key))
        .map_err(|e| errors::config_error(py, &e))?;
    register_task(py, &name, callable, options)
}

fn parse_backend(py: Python<'_>, backend: Option<&str>) -> PyResult<Option<Backend>> {
    backend
        .map(|b| b.parse::<Backend>())
        .transpose()
        .map_err(|e| errors::config_error(py, &e))
}

fn check_callable(task: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    match task {
        Some(t) if !t.is_callable() => Err(PyTypeError::new_err(format!(
            "task must be a callable num_envs -> gymnasium.vector.VectorEnv here, got {t}"
        ))),
        _ => Ok(()),
    }
}

/// Trains a new run and returns its directory (`satr.train` documents the arguments).
#[pyfunction]
#[pyo3(signature = (task=None, *, config_path=None, config=None, overrides=None, backend=None, progress=true))]
fn train(
    py: Python<'_>,
    task: Option<Bound<'_, PyAny>>,
    config_path: Option<PathBuf>,
    config: Option<Bound<'_, PyDict>>,
    overrides: Option<Bound<'_, PyDict>>,
    backend: Option<String>,
    progress: bool,
) -> PyResult<String> {
    guarded(py, |py| {
        errors::forget_env_error();
        init_logging();
        let backend = parse_backend(py, backend.as_deref())?;
        // The dict config as a TOML document (validated as one) and as overrides
        // (what the run is given, with no file to write).
        let (mut base_set, mut base_text, mut base_table) = (Vec::new(), None, None);
        if let Some(d) = &config {
            let t = convert::to_table(d, "")?;
            convert::flatten(&t, "", &mut base_set);
            base_text =
                Some(toml::to_string(&t).map_err(|e| PyValueError::new_err(e.to_string()))?);
            base_table = Some(t);
        } else if let Some(p) = &config_path {
            // Unreadable or invalid files are reported by validation below.
            base_table = std::fs::read_to_string(p)
                .ok()
                .and_then(|text| toml::from_str::<toml::Table>(&text).ok());
        }
        let mut set = match &overrides {
            Some(d) => convert::overrides(d)?,
            None => Vec::new(),
        };
        let mut callable = None;
        match &task {
            None => {}
            Some(t) if t.is_instance_of::<PyString>() => {
                set.push(format!("task={}", toml_text(&t.extract::<String>()?)));
            }
            Some(t) if t.is_callable() => {
                set.push(format!("task={}", toml_text(&gym::callable_name(t)?)));
                callable = Some(t);
            }
            Some(t) => {
                return Err(PyTypeError::new_err(format!(
                    "task must be a task name or a callable num_envs -> \
                     gymnasium.vector.VectorEnv, got {t}"
                )))
            }
        }
        let all: Vec<String> = base_set.iter().chain(&set).cloned().collect();
        let get = |key: &str| convert::lookup(base_table.as_ref(), &all, key);
        let task_name = get("task")
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| Config::default().task);
        let options = TaskOptions::read(get).map_err(|e| errors::config_error(py, &e))?;
        register_task(py, &task_name, callable, options)?;
        // A Python task's name may hold `:` or `/`: name the run directory here.
        let named = get("run.name").is_some_and(|v| v.as_str() != Some(""));
        if gym::is_registered(&task_name) && !named {
            let out_dir = get("run.out_dir")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| Config::default().run.out_dir);
            let seed = get("seed")
                .and_then(|v| v.as_integer())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0);
            let name = run_name(&task_name, seed, Path::new(&out_dir));
            set.push(format!("run.name={}", toml_text(&name)));
        }
        // Validated here, so that config errors are reported as of a config (not as of
        // the overrides a dict config is passed as).
        let validated = match &base_text {
            Some(text) => Config::from_toml_with_overrides(text, &set),
            None => Config::load(config_path.as_deref(), &set),
        };
        validated.map_err(|e| errors::config_error(py, &e))?;
        let args = TrainArgs {
            config: if base_text.is_some() {
                None
            } else {
                config_path
            },
            set: base_set.into_iter().chain(set).collect(),
            backend,
            resume: None,
            progress: progress && std::io::stderr().is_terminal(),
            stop: Arc::default(),
        };
        run_training(py, args)
    })
}

/// Continues the run at `path` (`satr.Run.resume` documents the arguments).
#[pyfunction]
#[pyo3(signature = (path, *, task=None, overrides=None, backend=None, progress=true))]
fn resume(
    py: Python<'_>,
    path: PathBuf,
    task: Option<Bound<'_, PyAny>>,
    overrides: Option<Bound<'_, PyDict>>,
    backend: Option<String>,
    progress: bool,
) -> PyResult<String> {
    guarded(py, |py| {
        errors::forget_env_error();
        init_logging();
        check_callable(task.as_ref())?;
        let backend = parse_backend(py, backend.as_deref())?;
        let set = match &overrides {
            Some(d) => convert::overrides(d)?,
            None => Vec::new(),
        };
        register_run_task(py, &path, task.as_ref(), &set)?;
        let args = TrainArgs {
            config: None,
            set,
            backend,
            resume: Some(path),
            progress: progress && std::io::stderr().is_terminal(),
            stop: Arc::default(),
        };
        run_training(py, args)
    })
}

/// Evaluates the mode genome of the run at `path`; returns `satr eval`'s report as
/// JSON text.
#[pyfunction]
#[pyo3(signature = (path, *, episodes=10, seed=None, backend=None, task=None))]
fn evaluate(
    py: Python<'_>,
    path: PathBuf,
    episodes: usize,
    seed: Option<u64>,
    backend: Option<String>,
    task: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guarded(py, |py| {
        errors::forget_env_error();
        init_logging();
        check_callable(task.as_ref())?;
        parse_backend(py, backend.as_deref())?;
        register_run_task(py, &path, task.as_ref(), &[])?;
        let report = py.detach(|| {
            let Ok(world) = World::init();
            let engines = Engines::new(&world);
            satr::app::eval::eval(&engines, &path, episodes, seed, backend.as_deref(), None)
        });
        let report = report.map_err(|e| errors::train_error(py, &e))?;
        serde_json::to_string(&report).map_err(|e| PyValueError::new_err(e.to_string()))
    })
}

/// Exports the mode genome of the run at `path`; returns `satr export`'s report as
/// JSON text.
#[pyfunction]
#[pyo3(signature = (path, *, format="safetensors", output=None, task=None))]
fn export(
    py: Python<'_>,
    path: PathBuf,
    format: &str,
    output: Option<PathBuf>,
    task: Option<Bound<'_, PyAny>>,
) -> PyResult<String> {
    guarded(py, |py| {
        errors::forget_env_error();
        check_callable(task.as_ref())?;
        register_run_task(py, &path, task.as_ref(), &[])?;
        let report = py.detach(|| satr::app::export::export(&path, format, output.as_deref()));
        let report = report.map_err(|e| errors::train_error(py, &e))?;
        serde_json::to_string(&report).map_err(|e| PyValueError::new_err(e.to_string()))
    })
}

/// The tasks this process can run (built-ins, then registered ones).
#[pyfunction]
fn tasks() -> Vec<String> {
    satr::tasks::available_tasks()
}

/// The integer seed satr passes to a Python environment's `reset(seed=...)` for the
/// episode `(seed, generation, member, episode)`: two draws of that episode's reset
/// stream (SPEC 3), so equal keys give equal seeds.
#[pyfunction]
fn episode_seed(seed: u64, generation: u32, member: u32, episode: u32) -> u64 {
    satr::tasks::EpisodeKey {
        seed,
        generation,
        member,
        episode,
    }
    .seed_u63()
}

/// Where Python vector envs' time went since the process started (or the last call
/// with `reset`): `(env_s, bridge_s, calls)`, the seconds inside the environments'
/// `reset`/`step`, the seconds of the bridge around them, and the calls.
#[pyfunction]
#[pyo3(signature = (reset=false))]
fn bridge_times(reset: bool) -> (f64, f64, u64) {
    gym::timing::take(reset)
}

/// A TOML document as a dict.
#[pyfunction]
fn toml_loads<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyDict>> {
    let t: toml::Table = toml::from_str(text).map_err(|e| PyValueError::new_err(e.to_string()))?;
    convert::table_to_dict(py, &t)
}

#[pymodule]
fn _satr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(resume, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(tasks, m)?)?;
    m.add_function(wrap_pyfunction!(episode_seed, m)?)?;
    m.add_function(wrap_pyfunction!(bridge_times, m)?)?;
    m.add_function(wrap_pyfunction!(toml_loads, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_class::<strategy::PyStrategy>()?;
    m.add_class::<strategy::PyPopulation>()?;
    m.add_class::<strategy::PyBuiltinTask>()?;
    Ok(())
}
