//! The batched task seam: the CPU evaluator's lockstep path (every network, then one
//! batched task call) gives the per-member path's outcomes bit for bit, on every
//! built-in task this build runs, on sub-ranges of members, with invalid members, with
//! a task that brings its own batched constructor, and through whole training runs.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::xorshift::Rng as XorShift;
use satr::app::{Engines, Trainer, World};
use satr::config::Config;
use satr::cpu::CpuEvaluator;
use satr::distribution;
use satr::evaluation::{
    GenerationFitness, GenerationRequest, MemberOutcome, Normalizer, ObsStats, PopulationEvaluator,
    Stepping,
};
use satr::network::NetworkConfig;
use satr::tasks::{
    registry, Action, ActionBatch, ActionKind, ActionSpace, EpisodeKey, Step, Task, TaskBatch,
    TaskError, TaskSpec, VectorStep, VectorTask,
};

/// Bits of every number an outcome holds, so NaN fitness compares equal to itself.
fn bits(o: &MemberOutcome) -> (u64, u64, Vec<u64>, Vec<u64>, u64) {
    (
        o.fitness.to_bits(),
        o.env_steps,
        o.obs_stats.mean.iter().map(|x| x.to_bits()).collect(),
        o.obs_stats.m2.iter().map(|x| x.to_bits()).collect(),
        o.obs_stats.count,
    )
}

fn fitness_bits(f: &GenerationFitness) -> (Vec<u64>, Vec<u64>, Vec<u64>, u64) {
    let b = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    (b(&f.train), b(&f.eval), b(&f.obs_stats.mean), f.env_steps)
}

/// A random distribution over an odd-sized network of `task` and a normaliser with
/// random statistics.
fn setup(task: &TaskSpec, seed: u64) -> (NetworkConfig, Vec<f64>, ObsStats) {
    let net = NetworkConfig {
        neurons: 37,
        ..NetworkConfig::default()
    };
    let shape = satr::network::Shape::new(&net, task.obs_dim(), task.action().outputs());
    let mut rng = XorShift(seed | 1);
    let p = (0..shape.layout().len())
        .map(|_| 0.1 + 0.8 * rng.unit())
        .collect();
    let mut stats = ObsStats::new(task.obs_dim());
    for _ in 0..20 {
        let o: Vec<f64> = (0..task.obs_dim())
            .map(|_| rng.unit() * 2.0 - 1.0)
            .collect();
        stats.push(&o);
    }
    (net, p, stats)
}

fn both_paths(task: &TaskSpec, net: &NetworkConfig) -> (CpuEvaluator, CpuEvaluator) {
    let per = CpuEvaluator::for_task(net, task, Stepping::PerMember).unwrap();
    let lock = CpuEvaluator::for_task(net, task, Stepping::Lockstep).unwrap();
    assert!(!per.lockstep() && lock.lockstep());
    (per, lock)
}

#[test]
fn lockstep_equals_per_member_on_every_builtin_task() {
    // The built-ins only: other tests of this binary register tasks of their own.
    for task in registry::builtins().into_iter().filter(|t| t.available()) {
        let (net, p, stats) = setup(&task, 11);
        let (mut per, mut lock) = both_paths(&task, &net);
        let th = distribution::thresholds(&p);
        let norm = Normalizer::from_stats(&stats, 5.0);
        // Short caps keep MuJoCo quick; CartPole runs to its terminations.
        let cap = task.max_episode_steps().min(90);
        let req = GenerationRequest::new(5, 3, &p, &th, &norm, 13, cap).with_eval(3, 2);
        let a = per.evaluate(&req).unwrap();
        let b = lock.evaluate(&req).unwrap();
        assert_eq!(fitness_bits(&a), fitness_bits(&b), "{}", task.name());
        assert!(a.env_steps > 0, "{}", task.name());
        // A sub-range (as one MPI rank evaluates), and the reductions after it.
        let x = per.evaluate_members(&req, 4..11).unwrap();
        let y = lock.evaluate_members(&req, 4..11).unwrap();
        let xb: Vec<_> = x.iter().map(bits).collect();
        let yb: Vec<_> = y.iter().map(bits).collect();
        assert_eq!(xb, yb, "{}: members 4..11", task.name());
        let u: Vec<f64> = (0..13).map(|i| i as f64 - 6.0).collect();
        let (ra, rb) = (
            per.reductions(&req, &u).unwrap(),
            lock.reductions(&req, &u).unwrap(),
        );
        assert_eq!(ra.a, rb.a, "{}", task.name());
    }
}

/// CartPole whose observation turns NaN at step 7 for members whose reset drew a
/// small first value, and whose reward is infinite at step 9 for some others.
struct Faulty {
    inner: Box<dyn Task>,
    draw: f64,
    steps: usize,
}

impl Task for Faulty {
    fn name(&self) -> &'static str {
        "lockstep-faulty"
    }
    fn obs_dim(&self) -> usize {
        4
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        500
    }
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        let mut first = None;
        self.inner.reset(&mut || {
            let u = uniform();
            first.get_or_insert(u);
            u
        });
        self.draw = first.unwrap_or(1.0);
        self.steps = 0;
    }
    fn observe(&self, obs: &mut [f64]) {
        self.inner.observe(obs);
        if self.draw < 0.3 && self.steps >= 7 {
            obs[2] = f64::NAN;
        }
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let mut s = self.inner.step(action)?;
        self.steps += 1;
        if self.draw > 0.8 && self.steps == 9 {
            s.reward = f64::INFINITY;
        }
        Ok(s)
    }
    fn state(&self) -> Vec<f64> {
        self.inner.state()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        self.inner.set_state(state)
    }
}

fn faulty_spec() -> TaskSpec {
    TaskSpec::new("lockstep-faulty", 4, ActionKind::Discrete(2), 500, || {
        Ok(Box::new(Faulty {
            inner: satr::tasks::make_task("cartpole")?,
            draw: 1.0,
            steps: 0,
        }))
    })
}

#[test]
fn invalid_members_end_alike_on_both_paths() {
    let task = faulty_spec();
    let (net, p, stats) = setup(&task, 3);
    let (mut per, mut lock) = both_paths(&task, &net);
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&stats, 5.0);
    let req = GenerationRequest::new(9, 1, &p, &th, &norm, 29, 200).with_eval(2, 2);
    let a = per.evaluate_members(&req, 0..31).unwrap();
    let b = lock.evaluate_members(&req, 0..31).unwrap();
    let nan = a.iter().filter(|o| o.fitness.is_nan()).count();
    assert!(
        nan > 3 && nan < 28,
        "{nan} invalid members: the test needs a mix"
    );
    let ab: Vec<_> = a.iter().map(bits).collect();
    let bb: Vec<_> = b.iter().map(bits).collect();
    assert_eq!(ab, bb);
}

/// A batched task of its own: CartPole instances behind a counter of batched calls.
struct Counted {
    inner: TaskBatch,
    calls: Arc<AtomicUsize>,
}

impl VectorTask for Counted {
    fn slots(&self) -> usize {
        self.inner.slots()
    }
    fn obs_dim(&self) -> usize {
        self.inner.obs_dim()
    }
    fn action_space(&self) -> ActionSpace {
        self.inner.action_space()
    }
    fn max_episode_steps(&self) -> usize {
        self.inner.max_episode_steps()
    }
    fn reset(&mut self, keys: &[Option<EpisodeKey>], obs: &mut [f64]) -> Result<(), TaskError> {
        self.inner.reset(keys, obs)
    }
    fn step(
        &mut self,
        active: &[bool],
        actions: ActionBatch<'_>,
        out: &mut [VectorStep],
        obs: &mut [f64],
    ) -> Result<(), TaskError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.step(active, actions, out, obs)
    }
}

#[test]
fn a_task_with_its_own_batched_constructor_runs_in_lockstep_by_default() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let cartpole = || satr::tasks::make_task("cartpole");
    let native = TaskSpec::new("lockstep-native", 4, ActionKind::Discrete(2), 500, cartpole)
        .with_vector(move |slots| {
            Ok(Box::new(Counted {
                inner: TaskBatch::new(slots, &cartpole)?,
                calls: c.clone(),
            }))
        });
    let batched_only =
        TaskSpec::batched("lockstep-batched", 4, ActionKind::Discrete(2), 500, |n| {
            Ok(Box::new(TaskBatch::new(n, &|| {
                satr::tasks::make_task("cartpole")
            })?))
        });
    let (net, p, stats) = setup(&native, 5);
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&stats, 5.0);
    let req = GenerationRequest::new(2, 0, &p, &th, &norm, 17, 500).with_eval(2, 1);
    let mut auto = CpuEvaluator::for_task(&net, &native, Stepping::Auto).unwrap();
    assert!(auto.lockstep());
    let mut per = CpuEvaluator::for_task(&net, &native, Stepping::PerMember).unwrap();
    let a = auto.evaluate(&req).unwrap();
    let steps = calls.load(Ordering::SeqCst);
    assert!(steps > 0, "the task's own batched constructor was not used");
    // One batched call per environment step of the longest episode, not per member.
    assert!(
        (steps as u64) < a.env_steps / 2,
        "{steps} calls for {} steps",
        a.env_steps
    );
    assert_eq!(fitness_bits(&a), fitness_bits(&per.evaluate(&req).unwrap()));
    // A task with no per-member constructor runs in lockstep and refuses per-member.
    let mut only = CpuEvaluator::for_task(&net, &batched_only, Stepping::Auto).unwrap();
    assert_eq!(
        fitness_bits(&a),
        fitness_bits(&only.evaluate(&req).unwrap())
    );
    let e = CpuEvaluator::for_task(&net, &batched_only, Stepping::PerMember)
        .err()
        .unwrap();
    assert!(e.to_string().contains("lockstep-batched"), "{e}");
}

#[test]
fn more_members_than_one_chunk_run_in_equal_chunks_with_the_per_member_outcomes() {
    let chunk = satr::cpu::evaluator::LOCKSTEP_CHUNK;
    let slots = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = slots.clone();
    let cartpole = || satr::tasks::make_task("cartpole");
    let native = TaskSpec::new("lockstep-chunks", 4, ActionKind::Discrete(2), 500, cartpole)
        .with_vector(move |n| {
            s.lock().unwrap().push(n);
            Ok(Box::new(TaskBatch::new(n, &cartpole)?))
        });
    let (mut net, p, stats) = setup(&native, 7);
    net.neurons = 9;
    let shape = satr::network::Shape::new(&net, 4, 2);
    let p = p[..shape.layout().len()].to_vec();
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&stats, 5.0);
    // One more train member than a chunk holds, and eval members: two chunks.
    let population = chunk + 1;
    let req = GenerationRequest::new(4, 2, &p, &th, &norm, population, 12).with_eval(5, 1);
    let mut lock = CpuEvaluator::for_task(&net, &native, Stepping::Lockstep).unwrap();
    let mut per = CpuEvaluator::for_task(&net, &native, Stepping::PerMember).unwrap();
    let a = lock.evaluate(&req).unwrap();
    assert_eq!(fitness_bits(&a), fitness_bits(&per.evaluate(&req).unwrap()));
    assert_eq!(a.train.len(), population);
    // One batched task, built once, of half the members rounded up.
    assert_eq!(*slots.lock().unwrap(), vec![(population + 5).div_ceil(2)]);
}

/// Whole runs through the library: the same metrics (wall-clock fields aside) and
/// the same final distribution whichever way the CPU steps the tasks.
#[test]
fn training_runs_are_identical_through_either_path() {
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let run = |stepping: &str| {
        let cfg = Config::from_toml_with_overrides(
            "",
            &[
                "backend=\"cpu\"".into(),
                "generations=3".into(),
                "population=24".into(),
                "network.neurons=29".into(),
                "evaluation.eval_members=3".into(),
                format!("evaluation.stepping=\"{stepping}\""),
            ],
        )
        .unwrap();
        let task = cfg.resolve_task().unwrap();
        let ev = engines.evaluator(&cfg, &task).unwrap();
        let mut t = Trainer::new(cfg, task, ev).unwrap();
        let mut metrics = Vec::new();
        while !t.finished() {
            let mut m = t.step().unwrap();
            (m.wall_s, m.env_steps_per_s) = (0.0, 0.0);
            metrics.push(serde_json::to_string(&m).unwrap());
        }
        (metrics, t.p.iter().map(|x| x.to_bits()).collect::<Vec<_>>())
    };
    let per = run("per_member");
    assert_eq!(per, run("lockstep"));
    assert_eq!(per.0.len(), 3);
}

/// A batched-only task trains through the library (in lockstep), its generations
/// carry no cost figures (nothing to replay one member on), and its policy exports.
#[test]
fn a_batched_only_task_trains_and_exports() {
    let spec = TaskSpec::batched("lockstep-run", 4, ActionKind::Discrete(2), 500, |n| {
        Ok(Box::new(TaskBatch::new(n, &|| {
            satr::tasks::make_task("cartpole")
        })?))
    });
    satr::register_task(spec).unwrap();
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    let cfg = Config::from_toml_with_overrides(
        "task = \"lockstep-run\"\nbackend = \"cpu\"\npopulation = 12\ngenerations = 2",
        &["network.neurons=20".into()],
    )
    .unwrap();
    let task = cfg.resolve_task().unwrap();
    let ev = engines.evaluator(&cfg, &task).unwrap();
    assert!(ev.describe().contains("lockstep"), "{}", ev.describe());
    let mut t = Trainer::new(cfg, task, ev).unwrap();
    let m = t.step().unwrap();
    assert!(m.eval_return.is_some() && m.cost.is_none());
    let policy = t.policy().unwrap();
    let bytes =
        satr::policy::export::encode(&policy, satr::policy::export::Format::Safetensors).unwrap();
    assert!(bytes.len() > 100);
    let e = satr::policy::episodes::Runner::new(&policy).err().unwrap();
    assert!(e.to_string().contains("batches only"), "{e}");
}
