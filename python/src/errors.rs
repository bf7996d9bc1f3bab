//! satr's errors as the package's Python exceptions (defined in `satr/_errors.py`, so
//! that they can derive from `ValueError` or `OSError` as well), and panics caught at
//! the boundary so that no `PanicException` reaches the user.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use satr::app::TrainError;
use satr::evaluation::EngineError;
use satr::policy::export::ExportError;
use satr::policy::PolicyError;
use satr::tasks::TaskError;
use satr::ConfigError;

/// The Python exception raised by an environment for the latest task error of this
/// process, so that a `satr.TaskError` can name it as its `__cause__`.
static LAST_ENV_ERROR: Mutex<Option<PyErr>> = Mutex::new(None);

/// Remembers the exception an environment raised (see [`LAST_ENV_ERROR`]).
pub(crate) fn remember_env_error(err: PyErr) {
    *LAST_ENV_ERROR.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
}

/// Forgets any remembered exception (at the start of each call into satr).
pub(crate) fn forget_env_error() {
    LAST_ENV_ERROR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
}

fn take_env_error() -> Option<PyErr> {
    LAST_ENV_ERROR
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
}

/// An instance of the exception class `class` of `satr._errors` carrying `msg` (a
/// `RuntimeError` if that module cannot be imported, which only a broken install does).
pub(crate) fn new_error(py: Python<'_>, class: &str, msg: impl Into<String>) -> PyErr {
    let msg = msg.into();
    let made = py
        .import("satr._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call1((msg.clone(),)));
    match made {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => PyRuntimeError::new_err(msg),
    }
}

fn policy_class(e: &PolicyError) -> &'static str {
    match e {
        PolicyError::Task(_) => "TaskError",
        PolicyError::Format { .. } => "ExportError",
        _ => "CheckpointError",
    }
}

/// The exception class of `satr._errors` an error of a run maps to.
fn class_of(e: &TrainError) -> &'static str {
    match e {
        TrainError::Config(_) => "ConfigError",
        TrainError::Task(_) | TrainError::Engine(EngineError::Task(_)) => "TaskError",
        TrainError::Engine(EngineError::Config(_)) => "ConfigError",
        TrainError::Engine(_) => "EngineError",
        TrainError::NonFinite { .. } => "TaskError",
        TrainError::Checkpoint(_)
        | TrainError::Resume(_)
        | TrainError::CheckpointMismatch { .. }
        | TrainError::CheckpointOutOfRange { .. } => "CheckpointError",
        TrainError::Export(ExportError::Policy(p)) | TrainError::Policy(p) => policy_class(p),
        TrainError::Export(_) => "ExportError",
        TrainError::Locked { .. } => "RunLockedError",
        TrainError::Usage(_) => "UsageError",
        TrainError::Io { .. } => "RunIOError",
        _ => "SatrError",
    }
}

/// Python reads "override" where the command line reads `--set`.
fn python_wording(msg: String) -> String {
    msg.replace("--set `", "override `")
}

/// A run's error as a `satr` exception; a task error an environment raised names
/// that exception as its cause.
pub(crate) fn train_error(py: Python<'_>, e: &TrainError) -> PyErr {
    let class = class_of(e);
    let err = new_error(py, class, python_wording(e.to_string()));
    if class == "TaskError" {
        if let Some(cause) = take_env_error() {
            err.set_cause(py, Some(cause));
        }
    }
    err
}

/// A config error as `satr.ConfigError`.
pub(crate) fn config_error(py: Python<'_>, e: &ConfigError) -> PyErr {
    new_error(py, "ConfigError", python_wording(e.to_string()))
}

/// A task error as `satr.TaskError` (with the environment's exception as its cause).
pub(crate) fn task_error(py: Python<'_>, e: &TaskError) -> PyErr {
    let err = new_error(py, "TaskError", e.to_string());
    if let Some(cause) = take_env_error() {
        err.set_cause(py, Some(cause));
    }
    err
}

/// The text of a panic's payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// A panic as `satr.InternalError`.
pub(crate) fn internal_error(py: Python<'_>, message: &str) -> PyErr {
    new_error(
        py,
        "InternalError",
        format!("internal error in satr (please report it): {message}"),
    )
}

/// Runs `f`, turning a panic into `satr.InternalError` instead of PyO3's
/// `PanicException`.
pub(crate) fn guarded<'py, T>(
    py: Python<'py>,
    f: impl FnOnce(Python<'py>) -> PyResult<T>,
) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(|| f(py))) {
        Ok(r) => r,
        Err(payload) => Err(internal_error(py, &panic_message(payload.as_ref()))),
    }
}
