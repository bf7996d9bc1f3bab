//! The library as a Rust user meets it: tasks registered at run time (with and
//! without a WGSL port, and with broken ones), a trainer driven without a run
//! directory, a trainer held across threads, and resumes refused with both sizes named.

use crate::common;

use satr::app::metrics::Metrics;
use satr::app::observer::GenerationObserver;
use satr::app::run::{self, RunOptions};
use satr::app::{Engines, TrainError, Trainer, World};
use satr::config::Config;
use satr::evaluation::ObsStats;
use satr::tasks::{make_task, registry, ActionKind, TaskError, TaskSpec};

fn config(task: &str, extra: &[&str]) -> Config {
    let mut set = vec![
        format!("task=\"{task}\""),
        "population=16".into(),
        "generations=3".into(),
        "network.neurons=24".into(),
        "evaluation.eval_members=2".into(),
    ];
    set.extend(extra.iter().map(|s| s.to_string()));
    Config::from_toml_with_overrides("", &set).unwrap()
}

fn trainer(engines: &Engines<'_>, cfg: &Config) -> Result<Trainer, TrainError> {
    let task = cfg.resolve_task()?;
    let ev = engines.evaluator(cfg, &task)?;
    Trainer::new(cfg.clone(), task, ev)
}

/// A custom task bringing a WGSL port runs whole generations on the device and gives
/// exactly what the built-in task with that port gives; one without a port runs in
/// host mode; broken ports are refused at registration, naming the task.
#[test]
fn custom_tasks_with_and_without_wgsl_on_the_gpu() {
    if common::context().is_none() {
        return;
    }
    let wgsl = satr::gpu::tasks::task_wgsl("cartpole").unwrap();
    let cartpole = || make_task("cartpole");
    let spec = TaskSpec::new(
        "library-cartpole",
        4,
        ActionKind::Discrete(2),
        500,
        cartpole,
    )
    .with_wgsl(wgsl);
    satr::register_task(spec).unwrap();
    let host_only = TaskSpec::new("library-host", 4, ActionKind::Discrete(2), 500, cartpole);
    satr::register_task(host_only).unwrap();

    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let gpu = ["backend=\"gpu\"", "gpu.mode=\"generation\""];
    let mut custom = trainer(&engines, &config("library-cartpole", &gpu)).unwrap();
    let mut builtin = trainer(&engines, &config("cartpole", &gpu)).unwrap();
    assert!(
        custom.backend().contains("tasks on device"),
        "{}",
        custom.backend()
    );
    let mut host = trainer(&engines, &config("library-host", &gpu)).unwrap();
    assert!(host.backend().contains("host tasks"), "{}", host.backend());
    for _ in 0..2 {
        let (a, b) = (custom.step().unwrap(), builtin.step().unwrap());
        assert_eq!(a.train_return_mean.to_bits(), b.train_return_mean.to_bits());
        assert_eq!(a.env_steps, b.env_steps);
        assert!(host.step().unwrap().env_steps > 0);
    }
    assert_eq!(custom.p, builtin.p);

    // A port that does not compile.
    let broken = TaskSpec::new("library-broken", 4, ActionKind::Discrete(2), 500, cartpole)
        .with_wgsl("fn task_step( {");
    let e = satr::register_task(broken).unwrap_err();
    assert!(matches!(e, TaskError::Wgsl { .. }), "{e}");
    assert!(e.to_string().contains("library-broken"), "{e}");
    assert!(registry::lookup("library-broken").is_err());
    // A port whose sizes differ from the spec's (CartPole's port, position-only task).
    let pos = || make_task("cartpole-pos");
    let mismatched =
        TaskSpec::new("library-mismatch", 2, ActionKind::Discrete(2), 500, pos).with_wgsl(wgsl);
    let e = satr::register_task(mismatched).unwrap_err();
    assert!(
        e.to_string().contains("library-mismatch") && e.to_string().contains("TASK_OBS_DIM"),
        "{e}"
    );
}

/// Registration checks the spec against an instance and refuses duplicates; a config
/// naming an unregistered task lists the registered ones.
#[test]
fn registration_errors_name_the_task() {
    let cartpole = || make_task("cartpole");
    let wrong = TaskSpec::new("library-wrong", 4, ActionKind::Continuous(2), 500, cartpole);
    let e = satr::register_task(wrong).unwrap_err();
    assert!(matches!(e, TaskError::SpecMismatch { .. }), "{e}");
    assert!(e.to_string().contains("library-wrong"), "{e}");
    let failing = TaskSpec::new("library-failing", 4, ActionKind::Discrete(2), 500, || {
        Err(TaskError::Unknown(
            "a simulator that is not installed".into(),
        ))
    });
    assert!(satr::register_task(failing).is_err());
    let e = Config::from_toml_with_overrides("task = \"library-nope\"", &[]).unwrap_err();
    assert!(e.to_string().contains("cartpole"), "{e}");
}

/// Collects every generation's metrics.
struct Collect(std::sync::Arc<std::sync::Mutex<Vec<Metrics>>>);

impl GenerationObserver for Collect {
    fn generation(&mut self, m: &Metrics) -> Result<(), TrainError> {
        self.0.lock().unwrap().push(m.clone());
        Ok(())
    }
}

/// Without a run directory nothing is written, the observers see every generation,
/// and a trainer can move to another thread between generations.
#[test]
fn a_trainer_runs_without_a_run_directory_and_across_threads() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("never-written");
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let cfg = config(
        "cartpole",
        &[
            "backend=\"cpu\"",
            &format!("run.out_dir=\"{}\"", out_dir.display()),
        ],
    );
    let mut t = trainer(&engines, &cfg).unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut observers: Vec<Box<dyn GenerationObserver>> = vec![Box::new(Collect(seen.clone()))];
    let summary = run::run(&mut t, None, &RunOptions::default(), &mut observers).unwrap();
    assert_eq!(summary.generations, 3);
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(
        !out_dir.exists(),
        "a run without a directory wrote {out_dir:?}"
    );
    // The same run, one generation on another thread each time, ends identically.
    let mut moved = trainer(&engines, &cfg).unwrap();
    for _ in 0..3 {
        moved = std::thread::spawn(move || {
            moved.step().unwrap();
            moved
        })
        .join()
        .unwrap();
    }
    assert_eq!(moved.p, t.p);
}

/// A checkpoint whose normaliser has another size than the task's observation is
/// refused, naming both sizes.
#[test]
fn a_resume_with_a_normaliser_of_another_size_is_refused() {
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let cfg = config("cartpole", &["backend=\"cpu\""]);
    let t = trainer(&engines, &cfg).unwrap();
    let mut ck = t.checkpoint();
    ck.obs_stats = ObsStats::new(3);
    let task = cfg.resolve_task().unwrap();
    let ev = engines.evaluator(&cfg, &task).unwrap();
    let e = Trainer::from_checkpoint(ck, task, ev)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("normaliser has 3 values") && e.contains("observes 4"),
        "{e}"
    );
}

/// A lost device is a typed error from the evaluation that meets it (not a panic, not
/// a generic GPU error), and bad requests are errors on every backend.
#[test]
fn a_lost_device_and_bad_requests_are_typed_errors() {
    use satr::evaluation::{EngineError, GenerationRequest, Normalizer, PopulationEvaluator};
    use satr::gpu::{GpuContext, GpuEvaluator};
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let cfg = config("cartpole", &["backend=\"cpu\""]);
    let task = cfg.resolve_task().unwrap();
    let mut cpu = engines.evaluator(&cfg, &task).unwrap();
    let dim = cfg.shape().unwrap().layout().len();
    let (p, th) = (vec![0.5; dim], vec![1u32 << 31; dim]);
    let norm = Normalizer::from_stats(&ObsStats::new(4), 5.0);
    let req = GenerationRequest::new(0, 0, &p, &th, &norm, 4, 20);
    assert!(matches!(
        cpu.evaluate_members(&req, 2..9),
        Err(EngineError::BadRequest(_))
    ));
    let short = GenerationRequest::new(0, 0, &p, &th[1..], &norm, 4, 20);
    assert!(matches!(
        cpu.evaluate(&short),
        Err(EngineError::BadRequest(_))
    ));
    if common::context().is_none() {
        return;
    }
    // A device of its own, destroyed under a live evaluator.
    let ctx = GpuContext::new().unwrap().unwrap();
    let factory = task.factory().unwrap();
    let mut gpu = GpuEvaluator::new(&ctx, &cfg.network, factory).unwrap();
    gpu.evaluate(&req).unwrap();
    ctx.device.destroy();
    match gpu.evaluate(&req) {
        Err(EngineError::DeviceLost(why)) => assert!(!why.is_empty()),
        other => panic!("expected DeviceLost, got {other:?}"),
    }
}
