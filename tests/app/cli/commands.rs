//! The other commands and the config: errors naming the key, the presets, replay,
//! bench output, and GPU training against the CPU trajectory.

use super::*;

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
