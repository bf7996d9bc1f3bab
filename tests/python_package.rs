//! The Python package (`python/`, issue 19): its pytest suite (`python/tests`) run in
//! the virtual environment of `scripts/setup_python.sh`, into which `pip install
//! ./python` builds the package (CI does both before `cargo test`).
//!
//! Without a python that imports `satr` and `pytest` the test skips with a notice,
//! unless `SATR_REQUIRE_PYTHON=1` (CI) turns that into a failure. The package is what
//! was installed last: after changing its code, run `pip install ./python` again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python when it has the package and pytest.
fn python() -> Option<PathBuf> {
    let found = std::env::var_os("SATR_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let local = root().join(".venv/bin/python");
            local.exists().then_some(local)
        });
    let usable = found.filter(|py| {
        Command::new(py)
            .args(["-c", "import satr, satr._satr, pytest"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable.is_none() {
        assert!(
            std::env::var("SATR_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SATR_REQUIRE_PYTHON=1 but no python with the satr package and pytest \
             (run: eval \"$(scripts/setup_python.sh)\" && \"$SATR_PYTHON\" -m pip install ./python)"
        );
        eprintln!(
            "skipped: no python with the satr package and pytest \
             (scripts/setup_python.sh, then pip install ./python)"
        );
    }
    usable
}

/// A bound on the whole pytest run (about 5 s here), so that a hang (an interrupt
/// test whose signal never arrives, say) fails CI instead of stalling it.
const PYTEST_LIMIT: Duration = Duration::from_secs(600);

#[test]
fn python_package_tests_pass() {
    let Some(py) = python() else { return };
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = Command::new(&py)
        .args([
            "-m",
            "pytest",
            "python/tests",
            // The Brax tests run in their own environment (.venv-brax, .ci/run).
            "--ignore=python/tests/test_brax.py",
            "-q",
            "-p",
            "no:cacheprovider",
        ])
        .current_dir(root())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("run pytest");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > PYTEST_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let Some(status) = status else {
        panic!("pytest ran past {PYTEST_LIMIT:?} and was killed:\n{stdout}\n{stderr}");
    };
    assert!(status.success(), "pytest failed:\n{stdout}\n{stderr}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.contains(" passed") && !summary.contains("skipped"),
        "pytest ran no test or skipped some: {summary}"
    );
    eprintln!("python/tests: {summary}");
}
