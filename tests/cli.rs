//! End-to-end tests of the `satr` binary: runs, resume, signals, checkpoint integrity,
//! config errors, replay and bench output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::cli::{
    assert_same_fitness, checkpoint_p, gpu_adapter_or_skip, metrics_without_timing, ok,
    replay_lines, satr, train, BIN, SMALL,
};

#[test]
fn resume_continues_bit_identically() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&train(tmp.path(), "full", 6, &[]));
    ok(&train(tmp.path(), "split", 3, &[]));
    let split = tmp.path().join("split");
    let o = satr(&[
        "train",
        "--quiet",
        "--resume",
        split.to_str().unwrap(),
        "--set",
        "generations=6",
    ]);
    ok(&o);
    let full = tmp.path().join("full");
    assert_eq!(checkpoint_p(&full), checkpoint_p(&split));
    let (a, b) = (
        metrics_without_timing(&full),
        metrics_without_timing(&split),
    );
    assert_eq!(a.len(), 6);
    assert_eq!(a, b);
    // The run actually moved p (otherwise equality would prove little).
    assert!(checkpoint_p(&full)
        .iter()
        .any(|&b| f64::from_bits(b) != 0.5));
    // Every SPEC 7 field is present.
    for key in [
        "generation",
        "eval_return",
        "train_return_mean",
        "train_return_max",
        "total_energy",
        "signal_energy",
        "snr",
        "kl_budget",
        "kl",
        "eta",
        "entropy",
        "clip_fraction",
        "env_steps",
        "wall_s",
        "env_steps_per_s",
    ] {
        let line: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(full.join("metrics.jsonl"))
                .unwrap()
                .lines()
                .next()
                .unwrap(),
        )
        .unwrap();
        assert!(line.get(key).is_some(), "metrics lack {key}");
    }
    assert!(full.join("config.toml").exists());
}

#[test]
fn sigterm_checkpoints_and_resume_matches() {
    // Pendulum episodes never terminate early, so each generation takes long enough
    // (about 0.1 s) for the signal to land mid-run.
    let tmp = tempfile::tempdir().unwrap();
    let pendulum = [
        "--set",
        "task=\"pendulum\"",
        "--set",
        "evaluation.max_episode_steps=200",
    ];
    ok(&train(tmp.path(), "reference", 12, &pendulum));
    let mut args: Vec<String> = vec!["train".into(), "--quiet".into()];
    args.extend(SMALL.iter().map(|s| s.to_string()));
    for s in [
        format!("run.out_dir=\"{}\"", tmp.path().display()),
        "run.name=\"stopped\"".to_string(),
        "generations=12".to_string(),
    ] {
        args.push("--set".into());
        args.push(s);
    }
    args.extend(pendulum.iter().map(|s| s.to_string()));
    let child = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stopped = tmp.path().join("stopped");
    let t0 = Instant::now();
    // Wait for the first generation, then signal.
    while !stopped.join("metrics.jsonl").exists()
        || std::fs::read_to_string(stopped.join("metrics.jsonl"))
            .unwrap()
            .is_empty()
    {
        assert!(t0.elapsed() < Duration::from_secs(60), "run never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Twice, as GNU `timeout` delivers it (to the child, then to its group): one event,
    // so the run must still checkpoint rather than exit at once. The pause keeps the
    // kernel from merging the two into one pending signal; the run may have finished
    // before the second arrives, so its status is not checked.
    let term = || {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(term().success());
    std::thread::sleep(Duration::from_millis(30));
    term();
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ck = satr::checkpoint::Checkpoint::load(&stopped.join("checkpoints/latest.ckpt")).unwrap();
    if ck.generation < 8 {
        assert!(
            stdout.contains("satr train --resume"),
            "no resume hint: {stdout}"
        );
    }
    ok(&satr(&[
        "train",
        "--quiet",
        "--resume",
        stopped.to_str().unwrap(),
    ]));
    assert_eq!(
        checkpoint_p(&tmp.path().join("reference")),
        checkpoint_p(&stopped)
    );
    assert_eq!(
        metrics_without_timing(&tmp.path().join("reference")),
        metrics_without_timing(&stopped)
    );
}

#[test]
fn corrupt_checkpoints_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&train(tmp.path(), "run", 1, &[]));
    let path: PathBuf = tmp.path().join("run/checkpoints/latest.ckpt");
    let good = std::fs::read(&path).unwrap();
    let eval3 = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--checkpoint",
            path.to_str().unwrap(),
            "--episodes",
            "3",
        ];
        args.extend_from_slice(extra);
        satr(&args)
    };
    // Evaluating the intact checkpoint works.
    let o = eval3(&[]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["episodes"], 3);
    assert!(v["mean_return"].as_f64().unwrap() > 0.0);
    // --backend overrides the run's backend: the CPU path gives the same returns (the
    // run was on the CPU), an unknown backend is refused naming the key.
    let o = eval3(&["--backend", "cpu"]);
    ok(&o);
    let w: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v, w);
    let o = eval3(&["--backend", "tpu"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("backend"));

    std::fs::write(&path, &good[..good.len() / 2]).unwrap();
    let o = satr(&["eval", "--checkpoint", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt or truncated"));

    let mut flipped = good.clone();
    let i = good.len() - 10;
    flipped[i] = if flipped[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(&path, &flipped).unwrap();
    let o = satr(&[
        "train",
        "--resume",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("checksum"));

    std::fs::write(&path, b"hello").unwrap();
    let o = satr(&["eval", "--checkpoint", path.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt"));
}

#[test]
fn config_errors_name_the_key() {
    let o = satr(&["train", "--set", "optimizer.epsilon=-1"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("optimizer.epsilon"), "{err}");
    let o = satr(&["train", "--set", "network.nuerons=8"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nuerons"));
    let o = satr(&["train", "--backend", "tpu"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("backend"));
    let o = satr(&["train", "--config", "/nonexistent/cfg.toml"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/cfg.toml"));
    if !cfg!(feature = "mujoco") {
        let o = satr(&["train", "--set", "task=\"hopper\""]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("task") && err.contains("--features mujoco"),
            "{err}"
        );
    }
}

#[test]
fn presets_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            let mujoco = p
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| satr::tasks::MUJOCO_TASK_NAMES.contains(&s));
            match satr::config::Config::load(Some(&p), &[]) {
                Ok(_) => assert!(!mujoco || cfg!(feature = "mujoco")),
                // Without the feature a MuJoCo preset is refused, saying how to get it.
                Err(e) if mujoco && !cfg!(feature = "mujoco") => {
                    assert!(e.to_string().contains("--features mujoco"), "{e}")
                }
                Err(e) => panic!("{}: {e}", p.display()),
            }
            n += 1;
        }
    }
    assert!(n >= 10, "expected a preset per task");
    // The built-in default is the CartPole preset.
    let cartpole = satr::config::Config::load(
        Some(&Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/cartpole.toml")),
        &[],
    )
    .unwrap();
    assert_eq!(cartpole, satr::config::Config::default());
}

#[test]
fn replay_prints_one_json_line_per_step() {
    let tmp = tempfile::tempdir().unwrap();
    let actions = tmp.path().join("actions.txt");
    std::fs::write(&actions, "0\n1\n1\n0\n").unwrap();
    let lines = replay_lines("cartpole", "0.01,-0.02,0.03,0.04", &actions);
    assert_eq!(lines.len(), 4);
    // Same as stepping the library task directly.
    let mut t = satr::tasks::make_task("cartpole").unwrap();
    t.set_state(&[0.01, -0.02, 0.03, 0.04]).unwrap();
    for (line, a) in lines.iter().zip([0, 1, 1, 0]) {
        let s = t.step(satr::tasks::Action::Discrete(a)).unwrap();
        let mut obs = vec![0.0; 4];
        t.observe(&mut obs);
        let got: Vec<f64> = line["obs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got, obs);
        assert_eq!(line["reward"].as_f64().unwrap(), s.reward);
        assert_eq!(line["terminated"].as_bool().unwrap(), s.terminated);
    }
    let o = satr(&[
        "replay",
        "--task",
        "cartpole",
        "--state",
        "0,0",
        "--actions",
        actions.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
}

#[test]
fn bench_json_has_spec_fields() {
    let o = satr(&[
        "bench",
        "--backend",
        "cpu",
        "--json",
        "--population",
        "5",
        "--neurons",
        "40",
        "--steps",
        "3",
        "--repeat",
        "1",
    ]);
    ok(&o);
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    // Network then generation mode, each with the three ways of propagating spikes.
    assert_eq!(v.len(), 6);
    for (r, (mode, path)) in v.iter().zip(
        ["network", "generation"]
            .iter()
            .flat_map(|m| ["dense", "event", "auto"].map(|p| (*m, p))),
    ) {
        assert_eq!(
            (r["mode"].as_str(), r["propagation"].as_str()),
            (Some(mode), Some(path))
        );
    }
    for r in &v {
        for key in [
            "backend",
            "device",
            "mode",
            "population",
            "neurons",
            "obs_dim",
            "act_dim",
            "env_steps",
            "substeps",
            "seconds",
            "env_steps_per_s",
            "synapse_substeps_per_s",
        ] {
            assert!(r.get(key).is_some(), "bench record lacks {key}");
        }
        let eps = r["env_steps_per_s"].as_f64().unwrap();
        let sss = r["synapse_substeps_per_s"].as_f64().unwrap();
        assert!(eps > 0.0);
        assert!((sss / eps - 33.0 * 40.0 * 40.0).abs() < 1e-6 * sss / eps);
    }
    assert_eq!(v[0]["mode"], "network");
    assert_eq!(v[0]["env_steps"], 15);
}

#[test]
fn bench_on_a_checkpoint_times_its_distribution_and_reports_firing_rates() {
    let out = tempfile::tempdir().unwrap();
    ok(&train(out.path(), "b", 3, &["--set", "network.k_h=2.0"]));
    let run = out.path().join("b");
    let o = satr(&[
        "bench",
        "--backend",
        "cpu",
        "--json",
        "--checkpoint",
        run.to_str().unwrap(),
        "--population",
        "6",
        "--repeat",
        "1",
    ]);
    ok(&o);
    let v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v.len(),
        3,
        "generation mode only, three propagations: {v:?}"
    );
    for r in &v {
        assert_eq!(r["mode"], "generation");
        assert_eq!(r["neurons"], 24, "the checkpoint's network");
        assert_eq!(r["population"], 6);
        let rate = r["firing_rate"].as_f64().expect("firing_rate");
        assert!(rate > 0.0 && rate < 1.0, "{r}");
        assert!(r["mode_firing_rate"].as_f64().is_some(), "{r}");
    }
    let e = satr(&[
        "bench",
        "--checkpoint",
        out.path().join("none").to_str().unwrap(),
    ]);
    assert!(!e.status.success());
}

#[test]
fn gpu_training_follows_the_cpu_trajectory() {
    // In host-task mode the GPU computes the network exactly, so every member's fitness
    // equals the CPU's; only the GPU's reductions A, B round differently (fixed point,
    // within 1e-5 relative by design), which moves p by a few ulps.
    if !gpu_adapter_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    ok(&train(tmp.path(), "cpu", 3, &[]));
    ok(&train(
        tmp.path(),
        "gpu",
        3,
        &["--backend", "gpu", "--set", "gpu.mode=\"host\""],
    ));
    let (cpu, gpu) = (
        metrics_without_timing(&tmp.path().join("cpu")),
        metrics_without_timing(&tmp.path().join("gpu")),
    );
    assert_eq!(cpu.len(), 3);
    assert_same_fitness(&cpu, &gpu);
    for (c, g) in cpu.iter().zip(&gpu) {
        for key in ["total_energy", "kl", "entropy"] {
            let (a, b) = (c[key].as_f64().unwrap(), g[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= 1e-6 * a.abs().max(1e-9),
                "{key}: cpu {a} gpu {b}"
            );
        }
    }
    let (pc, pg) = (
        checkpoint_p(&tmp.path().join("cpu")),
        checkpoint_p(&tmp.path().join("gpu")),
    );
    for (a, b) in pc.iter().zip(&pg) {
        let (a, b) = (f64::from_bits(*a), f64::from_bits(*b));
        assert!((a - b).abs() <= 1e-9, "p differs: {a} vs {b}");
    }
}

#[test]
fn gpu_generation_mode_solves_cartpole() {
    // The default config with the whole generation on the GPU (tasks in WGSL) reaches
    // the same solved criterion as the CPU path (eval return >= 475).
    if !gpu_adapter_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = format!("run.out_dir=\"{}\"", tmp.path().display());
    let o = satr(&[
        "train",
        "--quiet",
        "--backend",
        "gpu",
        "--set",
        "gpu.mode=\"generation\"",
        "--set",
        "generations=40",
        "--set",
        "run.target_return=475.0",
        "--set",
        "run.name=\"gpu\"",
        "--set",
        &out,
    ]);
    ok(&o);
    let metrics = std::fs::read_to_string(tmp.path().join("gpu/metrics.jsonl")).unwrap();
    let best = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["eval_return"]
                .as_f64()
                .unwrap()
        })
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(
        best >= 475.0,
        "GPU run did not solve CartPole: best eval {best}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("target reached"));
}

/// A run stopped by GNU `timeout` exits with a checkpoint. Under a job-control shell
/// `timeout` was seen to deliver SIGTERM twice within microseconds, which the run used to
/// take for a second request (exit without checkpoint); from this harness the delivery
/// comes once, so this guards the outcome, not that race (README, "Running").
#[test]
fn timeout_stops_with_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["3".into(), BIN.into(), "train".into(), "--quiet".into()];
    args.extend(SMALL.iter().map(|s| s.to_string()));
    for s in [
        "task=\"pendulum\"".to_string(),
        "generations=1000000".to_string(),
        // Generations long enough (about 0.1 s) that the second delivery lands mid-run.
        "population=256".to_string(),
        "network.neurons=64".to_string(),
        "evaluation.max_episode_steps=0".to_string(),
        format!("run.out_dir=\"{}\"", tmp.path().display()),
        "run.name=\"t\"".to_string(),
    ] {
        args.push("--set".into());
        args.push(s);
    }
    let out = Command::new("timeout").args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // 124: timeout's own status when it had to signal.
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(!err.contains("second signal"), "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("checkpoint written"), "{stdout}\n{err}");
    let ck =
        satr::checkpoint::Checkpoint::load(&tmp.path().join("t/checkpoints/latest.ckpt")).unwrap();
    assert!(ck.generation >= 1);
}

#[test]
fn a_missing_checkpoint_names_the_os_error_once() {
    let o = satr(&["eval", "--checkpoint", "/nonexistent/satr/run"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/satr/run"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
