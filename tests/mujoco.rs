//! The MuJoCo locomotion tasks against Gymnasium's v5 environments
//! (`scripts/gen_mujoco_refs.py`): 1000 steps of a fixed action sequence from a fixed
//! state, observations, rewards and flags checked at every step. Needs
//! `--features mujoco` and the files of `scripts/setup_mujoco.sh`.
#![cfg(feature = "mujoco")]

mod common;

use std::path::Path;

use common::cli::{
    assert_same_fitness, checkpoint_p, metrics_without_timing, ok, replay_lines, satr, train,
};
use satr::tasks::replay::{replay, ReplayStep};
use satr::tasks::{make_task, Action, ActionSpace, TaskError, MUJOCO_TASK_NAMES};
use serde_json::Value;

/// Gymnasium's trajectory for one task.
struct Reference {
    qpos: Vec<f64>,
    qvel: Vec<f64>,
    obs: Vec<Vec<f64>>,
    actions: Vec<Vec<f64>>,
    rewards: Vec<f64>,
    terminated: Vec<bool>,
    truncated: Vec<bool>,
}

fn load(task: &str) -> Reference {
    let dir = format!("{}/tests/data/mujoco", env!("CARGO_MANIFEST_DIR"));
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{task}.json")).unwrap())
            .unwrap();
    assert_eq!(meta["task"], task);
    let size = |k: &str| meta[k].as_u64().unwrap() as usize;
    let (nq, nv, nu, obs_dim, steps) = (
        size("nq"),
        size("nv"),
        size("nu"),
        size("obs_dim"),
        size("steps"),
    );
    let bytes = std::fs::read(format!("{dir}/{task}.f64")).unwrap();
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), nq + nv + obs_dim + steps * (nu + 1 + obs_dim));
    let mut rest = values.as_slice();
    let mut take = |n: usize| {
        let (head, tail) = rest.split_at(n);
        rest = tail;
        head.to_vec()
    };
    let qpos = take(nq);
    let qvel = take(nv);
    let mut obs = vec![take(obs_dim)];
    let (mut actions, mut rewards) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        actions.push(take(nu));
        rewards.push(take(1)[0]);
        obs.push(take(obs_dim));
    }
    let flags = |k: &str| -> Vec<bool> {
        meta[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_bool().unwrap())
            .collect()
    };
    Reference {
        qpos,
        qvel,
        obs,
        actions,
        rewards,
        terminated: flags("terminated"),
        truncated: flags("truncated"),
    }
}

/// "Within 1e-6": absolute below 1, relative above (contact forces reach the hundreds).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

fn assert_obs(task: &str, step: usize, got: &[f64], want: &[f64]) {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            close(g, w),
            "{task} step {step}: observation[{i}] = {g}, Gymnasium {w}"
        );
    }
}

/// Runs the reference's actions from its start state and checks every step.
fn check_task(name: &str) {
    let r = load(name);
    let mut task = make_task(name).unwrap();
    assert_eq!(task.name(), name);
    assert_eq!(task.obs_dim(), r.obs[0].len());
    assert_eq!(task.max_episode_steps(), 1000);
    let mut state = r.qpos.clone();
    state.extend(&r.qvel);
    task.set_state(&state).unwrap();
    assert_eq!(task.state(), state);
    // Poisoned, so a value observe() leaves unwritten shows.
    let mut obs = vec![f64::NAN; task.obs_dim()];
    task.observe(&mut obs);
    assert_obs(name, 0, &obs, &r.obs[0]);
    let mut bits_equal = 0usize;
    let mut total = 0usize;
    for (k, action) in r.actions.iter().enumerate() {
        let step = task.step(Action::Continuous(action)).unwrap();
        assert!(
            close(step.reward, r.rewards[k]),
            "{name} step {}: reward {} vs Gymnasium {}",
            k + 1,
            step.reward,
            r.rewards[k]
        );
        assert_eq!(step.terminated, r.terminated[k], "{name} step {}", k + 1);
        assert_eq!(step.truncated, r.truncated[k], "{name} step {}", k + 1);
        obs.fill(f64::NAN);
        task.observe(&mut obs);
        assert_obs(name, k + 1, &obs, &r.obs[k + 1]);
        bits_equal += obs
            .iter()
            .zip(&r.obs[k + 1])
            .filter(|(a, b)| a.to_bits() == b.to_bits())
            .count();
        total += obs.len();
    }
    assert!(r.truncated[999] && r.terminated.iter().any(|&t| t) || name == "halfcheetah");
    eprintln!("{name}: {bits_equal} of {total} observation values bit-identical to Gymnasium");
}

#[test]
fn hopper_matches_gymnasium() {
    check_task("hopper");
}

#[test]
fn walker2d_matches_gymnasium() {
    check_task("walker2d");
}

#[test]
fn halfcheetah_matches_gymnasium() {
    check_task("halfcheetah");
}

#[test]
fn ant_matches_gymnasium() {
    check_task("ant");
}

#[test]
fn humanoid_matches_gymnasium() {
    check_task("humanoid");
}

/// Members step in parallel, each with its own mjData over one shared model: four
/// threads replaying the same sequence at once must all follow Gymnasium.
#[test]
fn tasks_step_independently_on_threads() {
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| check_task("hopper"));
        }
    });
}

#[test]
fn spaces_and_sizes_follow_gymnasium() {
    let expect = [
        ("hopper", 11, 3, 1.0),
        ("walker2d", 17, 6, 1.0),
        ("halfcheetah", 17, 6, 1.0),
        ("ant", 105, 8, 1.0),
        ("humanoid", 348, 17, 0.4),
    ];
    for (name, obs, act, bound) in expect {
        assert!(MUJOCO_TASK_NAMES.contains(&name));
        let task = make_task(name).unwrap();
        assert_eq!(task.obs_dim(), obs, "{name}");
        match task.action_space() {
            ActionSpace::Continuous { low, high } => {
                assert_eq!(low.len(), act, "{name}");
                // Gymnasium's Box is float32: 0.4 is the nearest float32.
                assert!(low.iter().all(|&l| l == -(bound as f32) as f64), "{name}");
                assert!(high.iter().all(|&h| h == (bound as f32) as f64), "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Resets draw around the model's initial pose with the v5 noise scales, and the same
/// draws give the same episode.
#[test]
fn resets_are_noisy_and_reproducible() {
    for name in MUJOCO_TASK_NAMES {
        let mut a = make_task(name).unwrap();
        let mut b = make_task(name).unwrap();
        let draws = |seed: u64| {
            let mut x = seed;
            move || {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64
            }
        };
        let mut u = draws(1);
        a.reset(&mut u);
        let mut u = draws(1);
        b.reset(&mut u);
        assert_eq!(a.state(), b.state(), "{name}");
        let mut c = make_task(name).unwrap();
        let mut u = draws(2);
        c.reset(&mut u);
        assert_ne!(a.state(), c.state(), "{name}: different draws, same state");
        let scale = match *name {
            "hopper" | "walker2d" => 5e-3,
            "humanoid" => 1e-2,
            _ => 0.1,
        };
        let fresh = make_task(name).unwrap().state();
        let nq_plus_nv = fresh.len();
        assert_eq!(a.state().len(), nq_plus_nv);
        // qpos noise is uniform in [-scale, scale]; quaternion entries included, as Gymnasium.
        let max_dev = a
            .state()
            .iter()
            .zip(&fresh)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max);
        assert!(max_dev > 0.0 && max_dev < 6.0 * scale, "{name}: {max_dev}");
    }
}

#[test]
fn bad_states_and_actions_are_refused() {
    let mut task = make_task("hopper").unwrap();
    assert!(matches!(
        task.set_state(&[0.0; 5]),
        Err(TaskError::StateLength {
            expected: 12,
            got: 5,
            ..
        })
    ));
    assert!(matches!(
        task.step(Action::Continuous(&[0.0, 0.0])),
        Err(TaskError::InvalidAction { .. })
    ));
    assert!(matches!(
        task.step(Action::Continuous(&[0.0, f64::NAN, 0.0])),
        Err(TaskError::InvalidAction { .. })
    ));
}

/// `satr replay` semantics: the state is qpos then qvel, and a replay from the
/// reference's start reproduces Gymnasium's steps up to its first termination.
#[test]
fn replay_takes_qpos_then_qvel() {
    let r = load("walker2d");
    let mut state = r.qpos.clone();
    state.extend(&r.qvel);
    let steps: Vec<Vec<f64>> = r.actions[..50].to_vec();
    let mut task = make_task("walker2d").unwrap();
    let out: Vec<ReplayStep> = replay(task.as_mut(), &state, &steps).unwrap();
    let first_termination = r.terminated.iter().position(|&t| t).unwrap() + 1;
    assert!(first_termination < 50);
    assert_eq!(out.len(), first_termination);
    assert!(out.last().unwrap().terminated);
    for (k, s) in out.iter().enumerate() {
        assert!(close(s.reward, r.rewards[k]), "step {}", k + 1);
        assert_obs("walker2d", k + 1, &s.obs, &r.obs[k + 1]);
    }
}

/// A small Hopper run from the preset: training, checkpoints and resume on a MuJoCo task.
fn train_hopper(out: &Path, name: &str, generations: usize, extra: &[&str]) {
    let preset = format!("{}/configs/hopper.toml", env!("CARGO_MANIFEST_DIR"));
    let mut args = vec!["--config", &preset];
    args.extend_from_slice(extra);
    ok(&train(out, name, generations, &args));
}

#[test]
fn hopper_training_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    train_hopper(tmp.path(), "full", 4, &[]);
    train_hopper(tmp.path(), "split", 2, &[]);
    let split = tmp.path().join("split");
    ok(&satr(&[
        "train",
        "--quiet",
        "--resume",
        split.to_str().unwrap(),
        "--set",
        "generations=4",
    ]));
    let full = tmp.path().join("full");
    let metrics = metrics_without_timing(&full);
    assert_eq!(metrics.len(), 4);
    assert_eq!(metrics, metrics_without_timing(&split));
    assert_eq!(checkpoint_p(&full), checkpoint_p(&split));
    // Real episodes ran: Hopper earns about 1 per step alive.
    assert!(metrics
        .iter()
        .all(|m| m["env_steps"].as_u64().unwrap() > 10 * 12));
    assert!(metrics[0]["train_return_max"].as_f64().unwrap() > 5.0);
}

/// Host-task mode: the network on the GPU, MuJoCo on CPU threads; every member's
/// fitness equals the CPU path's. One generation: after it, the GPU's fixed-point
/// reductions move p by a few ulps, which can flip a sampled bit.
#[test]
fn gpu_host_mode_matches_the_cpu_path() {
    let Some(_) = common::context() else { return };
    let tmp = tempfile::tempdir().unwrap();
    train_hopper(tmp.path(), "cpu", 1, &[]);
    train_hopper(tmp.path(), "gpu", 1, &["--backend", "gpu"]);
    let (cpu, gpu) = (
        metrics_without_timing(&tmp.path().join("cpu")),
        metrics_without_timing(&tmp.path().join("gpu")),
    );
    assert_eq!(cpu.len(), 1);
    assert_same_fitness(&cpu, &gpu);
}

/// `satr replay` prints Gymnasium's steps for a state given as qpos then qvel.
#[test]
fn replay_command_follows_gymnasium() {
    let r = load("hopper");
    let tmp = tempfile::tempdir().unwrap();
    let actions = tmp.path().join("actions.txt");
    let text: String = r.actions[..20]
        .iter()
        .map(|a| {
            let v: Vec<String> = a.iter().map(|x| format!("{x:?}")).collect();
            v.join(" ") + "\n"
        })
        .collect();
    std::fs::write(&actions, text).unwrap();
    let state: Vec<String> = r
        .qpos
        .iter()
        .chain(&r.qvel)
        .map(|x| format!("{x:?}"))
        .collect();
    let lines = replay_lines("hopper", &state.join(","), &actions);
    let first_termination = r.terminated.iter().position(|&t| t).unwrap() + 1;
    assert_eq!(lines.len(), first_termination);
    for (k, line) in lines.iter().enumerate() {
        let obs: Vec<f64> = line["obs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_obs("hopper", k + 1, &obs, &r.obs[k + 1]);
        assert!(close(line["reward"].as_f64().unwrap(), r.rewards[k]));
    }
    // A state of the wrong length names the expected one.
    let o = satr(&[
        "replay",
        "--task",
        "hopper",
        "--state",
        "0,0",
        "--actions",
        actions.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("12"));
}

/// Every MuJoCo preset loads, names its task, and asks for host-task mode on a GPU.
#[test]
fn presets_load() {
    for name in MUJOCO_TASK_NAMES {
        let path = format!("{}/configs/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let cfg = satr::config::Config::load(Some(Path::new(&path)), &[])
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(cfg.task, *name);
        assert_eq!(cfg.backend, satr::config::Backend::Auto);
        assert_eq!(cfg.gpu.mode, satr::config::GpuMode::Host);
        cfg.shape().unwrap();
    }
}

/// Each MuJoCo preset trains (two small generations) and writes sane metrics.
#[test]
fn every_preset_trains() {
    let tmp = tempfile::tempdir().unwrap();
    for name in MUJOCO_TASK_NAMES {
        let preset = format!("{}/configs/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        ok(&train(tmp.path(), name, 2, &["--config", &preset]));
        let metrics = metrics_without_timing(&tmp.path().join(name));
        assert_eq!(metrics.len(), 2, "{name}");
        for m in &metrics {
            for key in ["eval_return", "train_return_mean", "kl", "entropy"] {
                let v = m[key].as_f64().unwrap_or(f64::NAN);
                assert!(v.is_finite(), "{name}: {key} = {}", m[key]);
            }
            assert!(m["env_steps"].as_u64().unwrap() >= 12, "{name}");
        }
    }
}

/// Without the model files, a MuJoCo task fails with a message saying where they were
/// looked for and how to get them (not a panic).
#[test]
fn missing_models_are_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let actions = tmp.path().join("actions.txt");
    std::fs::write(&actions, "0 0 0\n").unwrap();
    let o = std::process::Command::new(common::cli::BIN)
        .args(["replay", "--task", "hopper", "--state", "0", "--actions"])
        .arg(&actions)
        .env("SATR_MUJOCO_MODELS", tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hopper.xml") && err.contains("setup_mujoco.sh"),
        "{err}"
    );
}
