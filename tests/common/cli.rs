//! Running the `satr` binary from the end-to-end tests.

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_satr");

/// Runs the binary with warnings-only logging.
pub fn satr(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run satr")
}

/// Asserts success, printing the output otherwise.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "satr failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Metrics lines without the fields that measure time.
pub fn metrics_without_timing(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("wall_s");
            o.remove("env_steps_per_s");
            v
        })
        .collect()
}

/// The latest checkpoint's p, as bits.
pub fn checkpoint_p(dir: &Path) -> Vec<u64> {
    let ck = satr::checkpoint::Checkpoint::load(&dir.join("checkpoints/latest.ckpt")).unwrap();
    ck.p.iter().map(|x| x.to_bits()).collect()
}

/// Asserts that two runs' metrics agree exactly on every fitness field (what a GPU
/// run in host-task mode must reproduce of a CPU run).
pub fn assert_same_fitness(a: &[serde_json::Value], b: &[serde_json::Value]) {
    assert_eq!(a.len(), b.len(), "generations");
    for (x, y) in a.iter().zip(b) {
        for key in [
            "eval_return",
            "train_return_mean",
            "train_return_max",
            "train_return_min",
            "env_steps",
        ] {
            assert_eq!(x[key], y[key], "generation {}: {key}", x["generation"]);
        }
    }
}

/// A tiny run (CartPole unless a --config says otherwise) that still exercises every
/// part of a generation.
pub const SMALL: &[&str] = &[
    "--set",
    "network.neurons=24",
    "--set",
    "population=12",
    "--set",
    "evaluation.eval_members=2",
    "--set",
    "evaluation.max_episode_steps=40",
    "--set",
    "run.checkpoint_every=1",
    "--set",
    "backend=\"cpu\"",
];

/// `satr train --quiet` with [`SMALL`], run `name` in `out` and `generations`, not yet
/// run (add arguments or environment first); warnings-only logging.
pub fn train_command(out: &Path, name: &str, generations: usize) -> Command {
    let mut c = Command::new(BIN);
    c.args(["train", "--quiet"])
        .args(SMALL)
        .env("RUST_LOG", "warn");
    for s in [
        format!("run.out_dir=\"{}\"", out.display()),
        format!("run.name=\"{name}\""),
        format!("generations={generations}"),
    ] {
        c.arg("--set").arg(s);
    }
    c
}

/// [`train_command`] with `extra` arguments, run.
pub fn train(out: &Path, name: &str, generations: usize, extra: &[&str]) -> Output {
    train_command(out, name, generations)
        .args(extra)
        .output()
        .expect("run satr")
}

/// [`train`] of `task` (set with `--set task=...`) and `extra`.
pub fn train_task(out: &Path, task: &str, generations: usize, extra: &[&str]) -> Output {
    let task_key = format!("task=\"{task}\"");
    let mut args = vec!["--set", task_key.as_str()];
    args.extend_from_slice(extra);
    train(out, task, generations, &args)
}

/// `satr export` of the run (or checkpoint) `run` in `format` to `file`, asserting
/// success.
pub fn export(run: &Path, format: &str, file: &Path) {
    ok(&satr(&[
        "export",
        "--checkpoint",
        run.to_str().unwrap(),
        "--format",
        format,
        "-o",
        file.to_str().unwrap(),
    ]));
}

/// The `p digest: ...` line a run with `--print-digest` printed.
pub fn digest(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout)
        .lines()
        .find(|l| l.starts_with("p digest"))
        .unwrap_or_else(|| panic!("no digest in {}", String::from_utf8_lossy(stdout)))
        .to_string()
}

/// `satr replay` of `task` from `state` (comma-separated) through the `actions` file:
/// asserts success and returns the JSON lines.
pub fn replay_lines(task: &str, state: &str, actions: &Path) -> Vec<serde_json::Value> {
    let o = satr(&[
        "replay",
        "--task",
        task,
        "--state",
        state,
        "--actions",
        actions.to_str().unwrap(),
    ]);
    ok(&o);
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// True when wgpu lists an adapter for the binary to use; otherwise skips with a notice,
/// or fails when `SATR_REQUIRE_GPU` is set.
#[cfg(feature = "gpu")]
pub fn gpu_adapter_or_skip() -> bool {
    if !satr::gpu::list_adapters().is_empty() {
        return true;
    }
    assert!(
        std::env::var("SATR_REQUIRE_GPU").is_err(),
        "SATR_REQUIRE_GPU=1 but no adapter"
    );
    eprintln!("no GPU adapter: skipping");
    false
}
