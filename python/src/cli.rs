//! The `satr` command line from the package's console script.

use super::*;

/// The `gym:<id>` tasks a command line names (`--set task=...`, the task of its
/// `--config` file, of the run it resumes, evaluates or exports), with the step limit
/// its overrides set.
fn cli_gym_tasks(argv: &[String]) -> (Vec<String>, Option<usize>) {
    let mut names = Vec::new();
    let mut steps = None;
    let value = |i: usize, flag: &str| -> Option<String> {
        let a = &argv[i];
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&format!("{flag}=")).map(str::to_string)
        }
    };
    let task_of_file = |p: &Path| -> Option<String> {
        let t: toml::Table = toml::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
        Some(t.get("task")?.as_str()?.to_string())
    };
    for i in 0..argv.len() {
        if let Some(s) = value(i, "--set") {
            if let Some((k, v)) = s.split_once('=') {
                let v = convert::lookup(None, &[format!("v={v}")], "v")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_else(|| v.trim().to_string());
                match k.trim() {
                    "task" => names.push(v),
                    "evaluation.max_episode_steps" => steps = v.parse().ok(),
                    _ => {}
                }
            }
        }
        if let Some(p) = value(i, "--config") {
            names.extend(task_of_file(Path::new(&p)));
        }
        for flag in ["--resume", "--checkpoint"] {
            if let Some(p) = value(i, flag) {
                let ck = satr::checkpoint::resolve(Path::new(&p));
                if let Ok(dir) = RunDir::of_checkpoint(&ck) {
                    names.extend(task_of_file(&dir.config_path()));
                }
            }
        }
    }
    names.retain(|n| n.starts_with("gym:"));
    (names, steps)
}

/// Runs the `satr` command line on `argv` (program name first) and returns its exit
/// status; `gym:<id>` tasks it names are registered first.
#[pyfunction]
pub(crate) fn cli_main(py: Python<'_>, argv: Vec<String>) -> PyResult<i32> {
    guarded(py, |py| {
        let (names, steps) = cli_gym_tasks(&argv);
        for name in names {
            let id = name.trim_start_matches("gym:").to_string();
            if let Err(e) = gym::ensure(py, &name, Source::Gym(id), steps) {
                eprintln!("error: {e}");
                return Ok(1);
            }
        }
        // A panic has been reported on stderr by the panic hook (a closed stdout, say):
        // the binary's status for it, without a Python traceback on top.
        Ok(py.detach(|| catch_unwind(AssertUnwindSafe(|| satr::cli::main(argv))).unwrap_or(101)))
    })
}
