//! A task that returns NaN or infinite rewards or observations: the member is ranked
//! last (its fitness is NaN, even for +inf), counted in the metrics and left out of the
//! returns; the observation normaliser and `p` stay finite; a generation where every
//! member is invalid stops the run with a clear error.

use std::sync::Arc;

use satr::app::{TrainError, Trainer};
use satr::config::Config;
use satr::cpu::CpuEvaluator;
use satr::tasks::{make_task, Action, ActionSpace, Step, Task, TaskError};

/// CartPole that, on a share `rate` of its episodes (drawn at reset), breaks at step 3:
/// a NaN observation, a NaN reward or an infinite reward, by turns.
struct Faulty {
    inner: Box<dyn Task>,
    rate: f64,
    fault: Option<u8>,
    steps: usize,
}

impl Task for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
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
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        let u = uniform();
        self.fault = (u < self.rate).then(|| ((u / self.rate.max(1e-12)) * 3.0) as u8 % 3);
        self.steps = 0;
        self.inner.reset(uniform);
    }
    fn observe(&self, obs: &mut [f64]) {
        self.inner.observe(obs);
        if self.fault == Some(0) && self.steps >= 3 {
            obs[1] = f64::NAN;
        }
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let mut s = self.inner.step(action)?;
        self.steps += 1;
        if self.steps == 3 {
            match self.fault {
                Some(1) => s.reward = f64::NAN,
                Some(2) => s.reward = f64::INFINITY,
                _ => {}
            }
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

fn trainer(rate: f64) -> Trainer {
    let cfg = Config::from_toml_with_overrides(
        "",
        &[
            "network.neurons=20".into(),
            "population=24".into(),
            "evaluation.eval_members=6".into(),
            "backend=\"cpu\"".into(),
        ],
    )
    .unwrap();
    let factory = Arc::new(move || {
        Box::new(Faulty {
            inner: make_task("cartpole").unwrap(),
            rate,
            fault: None,
            steps: 0,
        }) as Box<dyn Task>
    });
    let ev = CpuEvaluator::new(&cfg.network, factory);
    let task = cfg.resolve_task().unwrap();
    Trainer::new(cfg, task, Box::new(ev)).unwrap()
}

#[test]
fn invalid_members_are_ranked_last_counted_and_never_poison_the_state() {
    let mut t = trainer(0.3);
    let mut counted = 0;
    for _ in 0..6 {
        let m = t.step().unwrap();
        counted += m.non_finite_members;
        assert!(m.train_return_mean.is_finite() && m.train_return_max.is_finite());
        assert!(m.train_return_min.is_finite());
        assert!(m.eval_return.is_none_or(f64::is_finite));
        // +inf rewards must not rank first: the returns reported stay CartPole's own.
        assert!(m.train_return_max <= 500.0, "{}", m.train_return_max);
        assert!(m.update.kl.is_finite() && m.update.entropy.is_finite());
        let line = serde_json::to_string(&m).unwrap();
        assert_eq!(
            line.contains("non_finite_members"),
            m.non_finite_members > 0
        );
    }
    // About 30% of 30 members over 6 generations.
    assert!(
        counted > 10,
        "only {counted} invalid members: the faults did not fire"
    );
    let st = &t.obs_stats;
    assert!(
        st.mean.iter().chain(&st.m2).all(|x| x.is_finite()),
        "{st:?}"
    );
    assert!(t.p.iter().all(|x| x.is_finite() && *x > 0.0 && *x < 1.0));
}

#[test]
fn a_generation_of_only_invalid_members_stops_the_run() {
    let mut t = trainer(1.0);
    match t.step() {
        Err(TrainError::NonFinite {
            generation: 0,
            members: 24,
        }) => {}
        other => panic!("expected NonFinite, got {:?}", other.map(|m| m.generation)),
    }
    let e = trainer(1.0).step().unwrap_err().to_string();
    assert!(
        e.contains("non-finite") && e.contains("generation 0"),
        "{e}"
    );
}
