//! The `satr` command line from the package's console script.

use super::*;

/// The `gym:<id>` and `brax:<env>` tasks a command line names (`--set task=...`, the task of its
/// `--config` file, of the run it resumes, evaluates or exports), each with the
/// options its config and overrides set.
fn cli_gym_tasks(argv: &[String]) -> Result<Vec<(String, TaskOptions)>, ConfigError> {
    let value = |i: usize, flag: &str| -> Option<String> {
        let a = &argv[i];
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&format!("{flag}=")).map(str::to_string)
        }
    };
    let read = |p: &Path| -> Option<toml::Table> {
        toml::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    let mut set = Vec::new();
    let mut tables = Vec::new();
    for i in 0..argv.len() {
        set.extend(value(i, "--set"));
        if let Some(p) = value(i, "--config") {
            tables.extend(read(Path::new(&p)));
        }
        for flag in ["--resume", "--checkpoint"] {
            if let Some(p) = value(i, flag) {
                let ck = satr::checkpoint::resolve(Path::new(&p));
                if let Ok(dir) = RunDir::of_checkpoint(&ck) {
                    tables.extend(read(&dir.config_path()));
                }
            }
        }
    }
    if tables.is_empty() {
        tables.push(toml::Table::new());
    }
    let mut tasks: Vec<(String, TaskOptions)> = Vec::new();
    for table in &tables {
        let get = |key: &str| convert::lookup(Some(table), &set, key);
        let Some(name) = get("task").and_then(|v| v.as_str().map(str::to_string)) else {
            continue;
        };
        let python_task = name.starts_with("gym:") || name.starts_with("brax:");
        if python_task && !tasks.iter().any(|(n, _)| *n == name) {
            tasks.push((name, TaskOptions::read(get)?));
        }
    }
    Ok(tasks)
}

/// Runs the `satr` command line on `argv` (program name first) and returns its exit
/// status; `gym:<id>` tasks it names are registered first.
#[pyfunction]
pub(crate) fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    guarded(py, |py| {
        let tasks = match cli_gym_tasks(&argv) {
            Ok(tasks) => tasks,
            Err(e) => {
                eprintln!("error: {e}");
                return Ok(2);
            }
        };
        for (name, options) in tasks {
            if let Err(e) = register_task(py, &name, None, options) {
                eprintln!("error: {}", e.value(py));
                return Ok(1);
            }
        }
        // A panic has been reported on stderr by the panic hook (a closed stdout, say):
        // the binary's status for it, without a Python traceback on top.
        Ok(py.detach(|| catch_unwind(AssertUnwindSafe(|| satr::cli::main(argv))).unwrap_or(101)))
    })
}
