//! Runs as a batch job meets them: bit-identical resume, SIGTERM and timeouts
//! checkpointing, a second signal, corrupt and missing checkpoints, and the
//! `--backend` flag over new and resumed runs.

use super::*;

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
