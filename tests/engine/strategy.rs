//! Ask/tell ([`satr::Strategy`]): CartPole driven by hand through `ask`, `act`,
//! `reset` and `tell` reaches the trainer's `p` bit for bit; save and load mid-run
//! continue exactly; wrong sizes are typed errors.

use satr::app::strategy::StrategyError;
use satr::cpu::CpuEvaluator;
use satr::tasks::{make_task, Action, ActionSpace, Task};
use satr::{Config, Stepping, Strategy, Trainer};

fn config(generations: usize) -> Config {
    Config::from_toml_with_overrides(
        "task = \"cartpole\"\nbackend = \"cpu\"\npopulation = 10\nseed = 7",
        &[
            format!("generations={generations}"),
            "network.neurons=16".into(),
            "evaluation.eval_members=3".into(),
            "evaluation.episodes_per_member=2".into(),
            "evaluation.max_episode_steps=120".into(),
        ],
    )
    .unwrap()
}

fn bits(xs: &[f64]) -> Vec<u64> {
    xs.iter().map(|x| x.to_bits()).collect()
}

/// One generation of CartPole run by hand, as the evaluator runs it.
fn generation(s: &mut Strategy) -> satr::Metrics {
    let cfg = s.config.clone();
    let max_steps = cfg.evaluation.max_episode_steps;
    let episodes = cfg.evaluation.episodes_per_member;
    let mut pop = s.ask();
    let n = pop.size();
    let d = pop.obs_dim();
    let mut tasks: Vec<Box<dyn Task>> = (0..n).map(|_| make_task("cartpole").unwrap()).collect();
    let mut totals = vec![0.0; n];
    let (mut obs, mut actions) = (vec![0.0; n * d], vec![0.0; n]);
    for e in 0..episodes {
        if e > 0 {
            pop.reset(None).unwrap();
        }
        for (m, task) in tasks.iter_mut().enumerate() {
            assert_eq!(pop.episode(m), e as u32);
            let mut r = pop.episode_key(m).reset_stream();
            task.reset(&mut || r.next_f64());
        }
        let mut active = vec![true; n];
        for _ in 0..max_steps {
            for (m, task) in tasks.iter().enumerate() {
                task.observe(&mut obs[m * d..(m + 1) * d]);
            }
            pop.act(&obs, Some(&active), &mut actions).unwrap();
            for (m, task) in tasks.iter_mut().enumerate() {
                if active[m] {
                    let step = task.step(Action::Discrete(actions[m] as usize)).unwrap();
                    totals[m] += step.reward;
                    active[m] = !(step.terminated || step.truncated);
                }
            }
            if !active.iter().any(|&a| a) {
                break;
            }
        }
    }
    let fitness: Vec<f64> = totals.iter().map(|t| t / episodes as f64).collect();
    let p = cfg.population;
    s.tell(&pop, &fitness[..p], Some(&fitness[p..])).unwrap()
}

fn trainer(generations: usize) -> Trainer {
    let cfg = config(generations);
    let task = cfg.resolve_task().unwrap();
    let ev = CpuEvaluator::for_task(&cfg.network, &task, Stepping::Auto).unwrap();
    Trainer::new(cfg, task, Box::new(ev)).unwrap()
}

fn strategy(generations: usize) -> Strategy {
    Strategy::new(config(generations), 4, ActionSpace::Discrete(2)).unwrap()
}

#[test]
fn ask_tell_by_hand_equals_the_trainer_bit_for_bit() {
    let mut t = trainer(3);
    let mut s = strategy(3);
    for g in 0..3 {
        let want = t.step().unwrap();
        let got = generation(&mut s);
        assert_eq!(got.generation, g);
        assert_eq!(
            got.train_return_mean.to_bits(),
            want.train_return_mean.to_bits()
        );
        assert_eq!(got.eval_return, want.eval_return);
        assert_eq!(got.update, want.update, "generation {g}");
        assert_eq!(got.env_steps, want.env_steps);
        assert_eq!(bits(&s.p), bits(&t.p), "p after generation {g}");
    }
    assert!(s.finished());
    assert_eq!(s.obs_stats, t.obs_stats);
    assert_eq!(s.optimizer.state, t.optimizer.state);
    assert_eq!(s.checkpoint().p, t.checkpoint().p);
}

#[test]
fn save_and_load_mid_run_continue_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strategy.ckpt");
    let mut whole = strategy(4);
    for _ in 0..4 {
        generation(&mut whole);
    }
    let mut first = strategy(4);
    generation(&mut first);
    generation(&mut first);
    first.save(&path).unwrap();
    drop(first);
    // The action space from the config's task (a built-in), and given.
    let mut resumed = Strategy::load(&path, None).unwrap();
    let given = Strategy::load(&path, Some(ActionSpace::Discrete(2))).unwrap();
    assert_eq!(bits(&given.p), bits(&resumed.p));
    assert_eq!(resumed.generation, 2);
    generation(&mut resumed);
    generation(&mut resumed);
    assert_eq!(bits(&resumed.p), bits(&whole.p));
    assert_eq!(resumed.obs_stats, whole.obs_stats);
    assert_eq!(resumed.optimizer.state, whole.optimizer.state);
    assert_eq!(resumed.env_steps, whole.env_steps);
    // A checkpoint of the trainer's loads too.
    let mut t = trainer(3);
    t.step().unwrap();
    let ck = dir.path().join("trainer.ckpt");
    t.checkpoint().save(&ck).unwrap();
    let s = Strategy::load(&ck, None).unwrap();
    assert_eq!(bits(&s.p), bits(&t.p));
    // The wrong action space for the checkpoint's network is refused.
    let e = Strategy::load(&ck, Some(ActionSpace::Discrete(3))).unwrap_err();
    assert!(matches!(e, StrategyError::Train(_)), "{e}");
}

#[test]
fn wrong_sizes_are_typed_errors() {
    let mut s = strategy(3);
    let mut pop = s.ask();
    assert_eq!(
        (pop.size(), pop.train_members(), pop.eval_members()),
        (13, 10, 3)
    );
    let mut actions = vec![0.0; 13];
    let e = pop
        .act(&vec![0.0; 13 * 4 - 1], None, &mut actions)
        .unwrap_err();
    assert!(
        matches!(
            e,
            StrategyError::Size {
                expected: 52,
                found: 51,
                ..
            }
        ),
        "{e}"
    );
    let e = pop.act(&vec![0.0; 52], None, &mut [0.0; 12]).unwrap_err();
    assert!(matches!(e, StrategyError::Size { .. }), "{e}");
    let e = pop
        .act(&vec![0.0; 52], Some(&[true; 2]), &mut actions)
        .unwrap_err();
    assert!(matches!(e, StrategyError::Size { .. }), "{e}");
    assert!(matches!(
        pop.reset(Some(&[true])),
        Err(StrategyError::Size { .. })
    ));
    pop.act(&vec![0.1; 52], None, &mut actions).unwrap();
    assert!(actions.iter().all(|&a| a == 0.0 || a == 1.0));
    let e = s.tell(&pop, &[1.0; 9], None).unwrap_err();
    assert!(
        matches!(
            e,
            StrategyError::Size {
                expected: 10,
                found: 9,
                ..
            }
        ),
        "{e}"
    );
    let e = s.tell(&pop, &[1.0; 10], Some(&[1.0; 2])).unwrap_err();
    assert!(matches!(e, StrategyError::Size { .. }), "{e}");
    let e = s.tell(&pop, &[f64::NAN; 10], None).unwrap_err();
    assert!(matches!(e, StrategyError::NonFinite { .. }), "{e}");
    s.tell(&pop, &[1.0; 10], None).unwrap();
    // The same population again is stale.
    let e = s.tell(&pop, &[1.0; 10], None).unwrap_err();
    assert!(
        matches!(
            e,
            StrategyError::Stale {
                asked: 0,
                current: 1
            }
        ),
        "{e}"
    );
    // Continuous actions land inside the bounds.
    let space = ActionSpace::Continuous {
        low: vec![-2.0, 0.0],
        high: vec![2.0, 1.0],
    };
    let s = Strategy::new(config(1), 3, space).unwrap();
    let mut pop = s.ask();
    assert_eq!(pop.action_width(), 2);
    let mut out = vec![f64::NAN; 13 * 2];
    pop.act(&vec![0.5; 13 * 3], None, &mut out).unwrap();
    for a in out.chunks(2) {
        assert!(
            (-2.0..=2.0).contains(&a[0]) && (0.0..=1.0).contains(&a[1]),
            "{a:?}"
        );
    }
    assert!(Strategy::new(config(1), 0, ActionSpace::Discrete(2)).is_err());
    assert!(Strategy::new(config(1), 3, ActionSpace::Discrete(0)).is_err());
}
