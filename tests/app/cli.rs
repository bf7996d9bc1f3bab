//! End-to-end tests of the `satr` binary: runs, resume, signals, checkpoint integrity,
//! config errors, replay and bench output.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;

use common::cli::{
    assert_same_fitness, checkpoint_p, gpu_adapter_or_skip, metrics_without_timing, ok,
    replay_lines, satr, train, train_command, BIN, SMALL,
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

/// A second stop signal more than a second after the first exits at once with status
/// 130, without a checkpoint. The fault hook holds generation 0 inside its metrics write
/// for 4 s, so the run is still finishing that generation when the second signal comes.
#[test]
fn a_second_signal_later_exits_130_without_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let child = train_command(tmp.path(), "twice", 1000)
        .env("SATR_FAULT_DELAY_MS", "4000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = tmp.path().join("twice/metrics.jsonl");
    let t0 = Instant::now();
    // Half of generation 0's line is written before the pause.
    while std::fs::read(&metrics).map_or(true, |m| m.is_empty()) {
        assert!(t0.elapsed() < Duration::from_secs(60), "run never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let term = || {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(term().success());
    std::thread::sleep(Duration::from_millis(1500));
    term();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("signal received: finishing"), "{err}");
    assert!(
        err.contains("second signal: exiting without a checkpoint"),
        "{err}"
    );
    assert!(!tmp.path().join("twice/checkpoints/latest.ckpt").exists());
}

/// `--backend` replaces the config's `backend` after every `--set`, in a new run and in
/// a resumed one (whose `config.toml` and checkpoints then record it).
#[test]
fn backend_flag_wins_over_set_in_new_and_resumed_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = |run: &str| {
        let ck = satr::checkpoint::Checkpoint::load(
            &tmp.path().join(run).join("checkpoints/latest.ckpt"),
        )
        .unwrap();
        let text = std::fs::read_to_string(tmp.path().join(run).join("config.toml")).unwrap();
        let written = satr::config::Config::from_toml_with_overrides(&text, &[]).unwrap();
        assert_eq!(written.backend, ck.config.backend, "{run}");
        ck.config.backend
    };
    let gpu = ["--set", "backend=\"gpu\"", "--backend", "cpu"];
    ok(&train(tmp.path(), "new", 2, &gpu));
    assert_eq!(backend("new"), satr::config::Backend::Cpu);
    ok(&train(tmp.path(), "resumed", 1, &[]));
    let dir = tmp.path().join("resumed");
    let resume = ["train", "--quiet", "--resume", dir.to_str().unwrap()];
    ok(&satr(
        &[&resume[..], &["--set", "generations=2"], &gpu].concat(),
    ));
    assert_eq!(backend("resumed"), satr::config::Backend::Cpu);
    ok(&satr(
        &[
            &resume[..],
            &["--set", "generations=3", "--backend", "auto"],
        ]
        .concat(),
    ));
    assert_eq!(backend("resumed"), satr::config::Backend::Auto);
    assert_eq!(metrics_without_timing(&dir).len(), 3);
}

/// [`train_command`]'s tiny run with info logging and no colour or format settings
/// inherited from the environment; stderr is a pipe.
fn logged_train(out: &Path, name: &str) -> Command {
    let mut c = train_command(out, name, 2);
    c.env("RUST_LOG", "info")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .env_remove("SATR_LOG_FORMAT");
    c
}

#[test]
fn logs_to_a_pipe_have_no_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let o = logged_train(tmp.path(), "plain").output().unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    // The info lines are there, as text.
    assert!(
        err.contains("training") && err.contains("generation done"),
        "{err}"
    );
    assert!(!err.starts_with('{'), "{err}");
    assert!(!o.stderr.contains(&0x1b), "ANSI escape in {err:?}");
}

/// The log lines of `stderr`, each parsed as a JSON object with a level and a message.
fn json_log_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    let err = String::from_utf8_lossy(stderr);
    assert!(!stderr.contains(&0x1b), "ANSI escape in {err:?}");
    err.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            let level = v["level"]
                .as_str()
                .unwrap_or_else(|| panic!("no level: {l}"));
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
                "{l}"
            );
            assert!(v["fields"]["message"].is_string(), "no message: {l}");
            assert!(v["timestamp"].is_string() && v["target"].is_string(), "{l}");
            v
        })
        .collect()
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let by_flag = logged_train(tmp.path(), "flag")
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    let by_env = logged_train(tmp.path(), "env")
        .env("SATR_LOG_FORMAT", "json")
        .output()
        .unwrap();
    for o in [by_flag, by_env] {
        ok(&o);
        let lines = json_log_lines(&o.stderr);
        let message = |m: &str| lines.iter().filter(|v| v["fields"]["message"] == m).count();
        assert_eq!(message("training"), 1, "{lines:?}");
        assert_eq!(message("generation done"), 2, "{lines:?}");
        let training = lines
            .iter()
            .find(|v| v["fields"]["message"] == "training")
            .unwrap();
        assert_eq!(training["level"], "INFO");
        assert_eq!(training["fields"]["task"], "cartpole");
    }
    // The flag wins over the environment.
    let o = logged_train(tmp.path(), "text")
        .env("SATR_LOG_FORMAT", "json")
        .args(["--log-format", "text"])
        .output()
        .unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(" INFO ") && err.contains("training"), "{err}");
    assert!(err.lines().all(|l| !l.starts_with('{')), "{err}");
}

#[test]
fn a_bad_log_format_is_a_usage_error() {
    for args in [
        &["--log-format", "xml", "info"][..],
        &["info", "--log-format", "xml"][..],
    ] {
        let o = satr(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("--log-format") && err.contains("'xml'") && err.contains("text, json"),
            "{err}"
        );
    }
    let o = Command::new(BIN)
        .arg("info")
        .env("SATR_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("SATR_LOG_FORMAT") && err.contains("xml") && err.contains("text or json"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "ran anyway");
}

/// On a terminal (a pseudo-terminal from util-linux `script`) log lines are coloured,
/// unless NO_COLOR has a value. Skipped where `script` is missing or cannot run.
#[test]
fn colour_only_on_a_terminal_and_not_with_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let on_terminal = |name: &str, no_color: Option<&str>| {
        let c = logged_train(tmp.path(), name);
        let line: Vec<String> = std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| quote(a.to_str().unwrap()))
            .collect();
        let mut s = Command::new("script");
        s.args(["-qec", &line.join(" "), "/dev/null"])
            .env("RUST_LOG", "info")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .env_remove("SATR_LOG_FORMAT")
            .stdin(Stdio::null());
        if let Some(v) = no_color {
            s.env("NO_COLOR", v);
        }
        s.output().ok().filter(|o| o.status.success())
    };
    let Some(coloured) = on_terminal("tty", None) else {
        eprintln!("util-linux `script` unavailable: skipping");
        return;
    };
    let out = String::from_utf8_lossy(&coloured.stdout);
    assert!(out.contains("training"), "{out}");
    assert!(
        coloured.stdout.contains(&0x1b),
        "no colour on a terminal: {out}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    let empty = on_terminal("tty-empty", Some("")).expect("script ran before");
    assert!(empty.stdout.contains(&0x1b));
    let plain = on_terminal("tty-no-color", Some("1")).expect("script ran before");
    let out = String::from_utf8_lossy(&plain.stdout);
    assert!(out.contains("training"), "{out}");
    assert!(
        !plain.stdout.contains(&0x1b),
        "colour despite NO_COLOR: {out}"
    );
}

/// The variable that makes this test binary, re-run by
/// [`the_command_line_runs_twice_in_one_process`], the process under test.
const IN_PROCESS_CHILD: &str = "SATR_TEST_CLI_IN_PROCESS_OUT";

/// `satr::cli::main` called twice in one process (as the Python console entry point
/// may): logging and the signal handler, set up by the first call, do not fail the
/// second. Runs in a fresh process (this test binary, re-run on this test alone).
#[test]
fn the_command_line_runs_twice_in_one_process() {
    if let Some(out) = std::env::var_os(IN_PROCESS_CHILD) {
        let out = PathBuf::from(out);
        for name in ["a", "b"] {
            let mut args: Vec<String> = ["satr", "train", "--quiet", "--log-format", "json"]
                .map(String::from)
                .into();
            args.extend(SMALL.iter().map(|s| s.to_string()));
            for s in [
                format!("run.out_dir=\"{}\"", out.display()),
                format!("run.name=\"{name}\""),
                "generations=2".to_string(),
            ] {
                args.push("--set".into());
                args.push(s);
            }
            assert_eq!(satr::cli::main(&args), 0, "run {name}");
        }
        assert_eq!(satr::cli::main(["satr", "--log-format", "xml", "info"]), 2);
        assert_eq!(satr::cli::main(["satr", "train", "--backend", "tpu"]), 2);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let test = common::test_name(module_path!(), "the_command_line_runs_twice_in_one_process");
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--test-threads=1", "--nocapture"])
        .env(IN_PROCESS_CHILD, tmp.path())
        .env("RUST_LOG", "info")
        .env_remove("SATR_LOG_FORMAT")
        .output()
        .unwrap();
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("1 passed"), "the child ran no test: {out}");
    for name in ["a", "b"] {
        assert_eq!(metrics_without_timing(&tmp.path().join(name)).len(), 2);
    }
    // Both runs logged, in the JSON format the first call set up.
    let err = String::from_utf8_lossy(&o.stderr);
    let training = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "training")
        .count();
    assert_eq!(training, 2, "{err}");
}
