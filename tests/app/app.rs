//! The application layer in-process: several runs sharing one process (one stop
//! handler, one GPU device), the typed metrics records, and generation observers.

use crate::common;

use std::cell::RefCell;
use std::rc::Rc;

use satr::app::observer::GenerationObserver;
use satr::app::run::{self, RunOptions};
use satr::app::train::{self, TrainArgs};
use satr::app::{Engines, Metrics, RunDir, TrainError, Trainer, World};
use satr::config::Config;

fn small(out: &std::path::Path, name: &str) -> Vec<String> {
    [
        "network.neurons=24",
        "population=12",
        "evaluation.eval_members=2",
        "evaluation.max_episode_steps=40",
        "generations=4",
        "backend=\"cpu\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("run.out_dir=\"{}\"", out.display()),
        format!("run.name=\"{name}\""),
    ])
    .collect()
}

fn without_timing(m: &[Metrics]) -> Vec<Metrics> {
    m.iter()
        .map(|m| Metrics {
            wall_s: 0.0,
            env_steps_per_s: 0.0,
            ..m.clone()
        })
        .collect()
}

#[test]
fn two_runs_in_one_process_share_the_engines_and_agree() {
    let out = tempfile::tempdir().unwrap();
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let mut runs = Vec::new();
    // The second run reuses the engines (the library installs no signal handler: the
    // caller owns the stop flag); it must compute exactly what the first did.
    for name in ["a", "b"] {
        let args = TrainArgs {
            set: small(out.path(), name),
            ..TrainArgs::default()
        };
        let done = train::train(&engines, args).unwrap();
        assert_eq!(done.summary.generations, 4);
        assert!(done.writer);
        runs.push(done.dir.metrics().read().unwrap());
    }
    assert_eq!(runs[0].len(), 4);
    assert_eq!(without_timing(&runs[0]), without_timing(&runs[1]));
    // The typed records read back what the CLI writes: the same run from the binary.
    let o = common::cli::satr(
        &["train", "--quiet"]
            .iter()
            .map(|s| s.to_string())
            .chain(
                small(out.path(), "cli")
                    .into_iter()
                    .flat_map(|s| ["--set".to_string(), s]),
            )
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    common::cli::ok(&o);
    let cli = RunDir {
        path: out.path().join("cli"),
    }
    .metrics()
    .read()
    .unwrap();
    assert_eq!(without_timing(&cli), without_timing(&runs[0]));
}

/// Records every generation it is told of; fails on demand.
struct Recorder {
    seen: Rc<RefCell<Vec<u32>>>,
    fail_at: Option<u32>,
    finished: Rc<RefCell<bool>>,
}

impl GenerationObserver for Recorder {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        self.seen.borrow_mut().push(m.generation);
        if self.fail_at == Some(m.generation) {
            return Err(TrainError::Usage("observer refused".into()));
        }
        Ok(())
    }
    fn finish(&mut self) {
        *self.finished.borrow_mut() = true;
    }
}

#[test]
fn observers_see_every_generation_in_order_and_can_stop_the_run() {
    let out = tempfile::tempdir().unwrap();
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    for fail_at in [None, Some(2)] {
        let cfg = Config::from_toml_with_overrides("", &small(out.path(), "obs")).unwrap();
        let task = cfg.resolve_task().unwrap();
        let evaluator = engines.run_evaluator(&cfg, &task).unwrap();
        let mut trainer = Trainer::new(cfg.clone(), task, evaluator).unwrap();
        let dir = RunDir {
            path: out.path().join(format!("obs-{fail_at:?}")),
        };
        std::fs::create_dir_all(dir.path.join("checkpoints")).unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let finished = Rc::new(RefCell::new(false));
        let mut observers: Vec<Box<dyn GenerationObserver>> = vec![Box::new(Recorder {
            seen: seen.clone(),
            fail_at,
            finished: finished.clone(),
        })];
        let r = run::run(
            &mut trainer,
            Some(&dir),
            &RunOptions::default(),
            &mut observers,
        );
        assert!(*finished.borrow(), "finish is called however the run ends");
        match fail_at {
            None => {
                assert_eq!(*seen.borrow(), vec![0, 1, 2, 3]);
                assert_eq!(r.unwrap().generations, 4);
                assert!(dir.checkpoint_path().exists());
            }
            Some(g) => {
                assert_eq!(*seen.borrow(), (0..=g).collect::<Vec<_>>());
                let e = r.unwrap_err().to_string();
                assert!(e.contains("observer refused"), "{e}");
            }
        }
    }
}

#[test]
fn one_gpu_device_per_process() {
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let Some(a) = engines.gpu_context().unwrap() else {
        assert!(!common::require_gpu(), "SATR_REQUIRE_GPU=1 but no adapter");
        eprintln!("no GPU adapter: skipping");
        return;
    };
    let b = engines.gpu_context().unwrap().unwrap();
    assert!(
        std::ptr::eq(a, b),
        "the second request opened another device"
    );
    // Two GPU evaluators from the same engines run on that device.
    let cfg = Config::from_toml_with_overrides(
        "",
        &["backend=\"gpu\"".into(), "network.neurons=24".into()],
    )
    .unwrap();
    let task = cfg.resolve_task().unwrap();
    let e1 = engines.evaluator(&cfg, &task).unwrap();
    let e2 = engines.evaluator(&cfg, &task).unwrap();
    assert_eq!(e1.describe(), e2.describe());
}

#[test]
fn max_env_steps_ends_a_run_at_its_budget_and_a_resume_runs_no_more() {
    let out = tempfile::tempdir().unwrap();
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let mut set = small(out.path(), "budget");
    set.push("generations=50".into());
    // 14 episodes of at most 40 steps a generation: a 1500-step budget ends the run
    // after a few generations, well before the 50 planned.
    set.push("run.max_env_steps=1500".into());
    let args = TrainArgs {
        set: set.clone(),
        ..TrainArgs::default()
    };
    let done = train::train(&engines, args).unwrap();
    let ms = done.dir.metrics().read().unwrap();
    let n = ms.len();
    assert!((2..50).contains(&n), "{n} generations");
    assert!(ms[n - 1].env_steps >= 1500, "{:?}", ms[n - 1].env_steps);
    assert!(
        ms[n - 2].env_steps < 1500,
        "stopped late: {:?}",
        ms[n - 2].env_steps
    );
    assert_eq!(done.summary.generations as usize, n);
    // Resuming the finished run takes no further generation.
    let again = train::train(
        &engines,
        TrainArgs {
            resume: Some(done.dir.path.clone()),
            ..TrainArgs::default()
        },
    )
    .unwrap();
    assert_eq!(again.dir.metrics().read().unwrap().len(), n);
    let bad = Config::from_toml_with_overrides("", &["run.max_env_steps=0".into()])
        .unwrap_err()
        .to_string();
    assert!(bad.contains("run.max_env_steps"), "{bad}");
}
