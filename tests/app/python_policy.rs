//! The Python side of `satr export`: `python/satr_policy.py` (numpy, f32) loaded from
//! the safetensors file and from the NIR graph takes satr's actions, bit for bit, on
//! every step of full `satr eval` episodes, for a discrete and a continuous task; the
//! published `nir` package reads the graph; the Gymnasium example runs.
//!
//! Needs the virtual environment of `scripts/setup_python.sh` (`SATR_PYTHON` names its
//! python). Without it the tests skip with a notice, unless `SATR_REQUIRE_PYTHON=1`
//! (CI) turns that into a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{export, ok, satr, train, train_task};

fn python() -> Option<PathBuf> {
    let found = std::env::var_os("SATR_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
            local.exists().then_some(local)
        });
    let usable = found.filter(|py| {
        Command::new(py)
            .args(["-c", "import numpy, safetensors, nir"])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable.is_none() {
        assert!(
            std::env::var("SATR_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SATR_REQUIRE_PYTHON=1 but no python with numpy, safetensors and nir \
             (run: eval \"$(scripts/setup_python.sh)\")"
        );
        eprintln!("skipped: no python with numpy, safetensors and nir (scripts/setup_python.sh)");
    }
    usable
}

fn module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/satr_policy.py")
}

/// Runs `py` on `args`, asserting success, and returns stdout.
fn run_py(py: &Path, args: &[&str]) -> String {
    let o = Command::new(py).args(args).output().expect("run python");
    assert!(
        o.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Trains `task` briefly (N 70: rows that are not whole words; k_h 2 so it spikes),
/// exports both formats, writes a transcript of `episodes` full episodes, and checks
/// that the Python policy from either file reproduces every step.
fn matches_satr(py: &Path, task: &str, episodes: usize) {
    let out = tempfile::tempdir().unwrap();
    ok(&train_task(
        out.path(),
        task,
        3,
        &[
            "--set",
            "network.neurons=70",
            "--set",
            "network.k_h=2.0",
            "--set",
            "evaluation.max_episode_steps=0",
            "--set",
            "population=8",
        ],
    ));
    let run = out.path().join(task);
    let transcript = out.path().join("t.jsonl");
    ok(&satr(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--episodes",
        &episodes.to_string(),
        "--transcript",
        transcript.to_str().unwrap(),
    ]));
    for format in ["safetensors", "nir"] {
        let file = out.path().join(format!("policy.{format}"));
        export(&run, format, &file);
        let report = run_py(
            py,
            &[
                module().to_str().unwrap(),
                file.to_str().unwrap(),
                transcript.to_str().unwrap(),
            ],
        );
        let r: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
        assert_eq!(r["mismatches"], 0, "{task} {format}: {r}");
        assert!(r["steps"].as_u64().unwrap() >= episodes as u64 * 10, "{r}");
        assert!(
            r["spikes"].as_u64().unwrap() > 0,
            "{task}: the policy never spiked: {r}"
        );
    }
    // The published nir package reads the graph with its type checks on.
    let check = "import nir, sys\ng = nir.read(sys.argv[1])\n\
        assert isinstance(g.nodes['lif'], nir.LIF)\nassert ('syn', 'lif') in g.edges\n\
        print(len(g.nodes))";
    let nodes = run_py(
        py,
        &["-c", check, out.path().join("policy.nir").to_str().unwrap()],
    );
    assert_eq!(nodes.trim(), "9");
}

#[test]
fn discrete_policy_matches_satr_step_for_step() {
    if let Some(py) = python() {
        matches_satr(&py, "cartpole", 3);
    }
}

#[test]
fn continuous_policy_matches_satr_step_for_step() {
    if let Some(py) = python() {
        matches_satr(&py, "pendulum", 2);
    }
}

#[test]
fn gymnasium_example_runs_an_exported_policy() {
    let Some(py) = python() else { return };
    let gym = Command::new(&py)
        .args(["-c", "import gymnasium"])
        .status()
        .is_ok_and(|s| s.success());
    if !gym {
        eprintln!("skipped: no gymnasium in {}", py.display());
        return;
    }
    let out = tempfile::tempdir().unwrap();
    ok(&train(out.path(), "gym", 2, &[]));
    let file = out.path().join("gym/policy.safetensors");
    ok(&satr(&[
        "export",
        "--checkpoint",
        out.path().join("gym").to_str().unwrap(),
    ]));
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/example_gymnasium.py");
    let report = run_py(
        &py,
        &[
            example.to_str().unwrap(),
            file.to_str().unwrap(),
            "--episodes",
            "2",
        ],
    );
    assert!(report.contains("CartPole-v1"), "{report}");
}
