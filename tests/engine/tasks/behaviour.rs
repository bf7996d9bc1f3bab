//! What Gymnasium defines beside the dynamics: resets drawing in order and in range,
//! truncation at the time limit, metadata, invalid actions and states as errors, and
//! no panic on non-finite states.

use super::*;

/// A small deterministic uniform source (xorshift64*), independent of the crate.
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn reset_maps_uniforms_in_gymnasium_order() {
    let us = [0.0, 0.25, 0.5, 0.75];
    for f in TASKS {
        let name = f.name;
        let mut task = make_task(name).unwrap();
        let mut calls = 0;
        task.reset(&mut || {
            calls += 1;
            us[(calls - 1) % us.len()]
        });
        let ranges = f.reset_ranges;
        let drawn = ranges.iter().filter(|(lo, hi)| lo != hi).count();
        assert_eq!(
            calls, drawn,
            "{name}: one uniform per random state variable"
        );
        let state = task.state();
        assert_eq!(state.len(), ranges.len());
        let mut u = us.iter();
        for (k, (&(lo, hi), &s)) in ranges.iter().zip(&state).enumerate() {
            let want = if lo == hi {
                lo
            } else {
                lo + (hi - lo) * u.next().unwrap()
            };
            // Acrobot stores its reset state as float32.
            let want = if f.reset_f32 {
                want as f32 as f64
            } else {
                want
            };
            assert_eq!(s, want, "{name}: state[{k}]");
        }
    }
}

#[test]
fn reset_draws_inside_ranges_from_the_source() {
    for f in TASKS {
        let name = f.name;
        let mut task = make_task(name).unwrap();
        let ranges = f.reset_ranges;
        let mut source = Uniform(0x9E37_79B9_7F4A_7C15);
        let mut first = Vec::new();
        for _ in 0..500 {
            task.reset(&mut || source.next());
            let s = task.state();
            for (k, (&(lo, hi), &v)) in ranges.iter().zip(&s).enumerate() {
                // Acrobot's float32 rounding may land exactly on a bound.
                assert!(
                    v >= lo && v <= hi,
                    "{name}: state[{k}] = {v} outside [{lo}, {hi}]"
                );
                if f.reset_f32 {
                    assert_eq!(v, v as f32 as f64, "{name}: reset state is float32");
                }
            }
            first.push(s);
        }
        let replay_states = |seed: u64| {
            let mut source = Uniform(seed);
            let mut t = make_task(name).unwrap();
            (0..500)
                .map(|_| {
                    t.reset(&mut || source.next());
                    t.state()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            first,
            replay_states(0x9E37_79B9_7F4A_7C15),
            "{name}: same source"
        );
        assert_ne!(first, replay_states(12345), "{name}: different source");
        // The states really vary with the source.
        assert_ne!(first[0], first[1], "{name}");
    }
}

fn benign_action(task: &dyn Task) -> Vec<f64> {
    match task.action_space() {
        ActionSpace::Discrete(_) => vec![0.0],
        ActionSpace::Continuous { low, .. } => vec![0.0; low.len()],
    }
}

#[test]
fn truncation_at_max_episode_steps() {
    for f in TASKS {
        let (name, max) = (f.name, f.max_episode_steps);
        let mut task = make_task(name).unwrap();
        assert_eq!(task.max_episode_steps(), max, "{name}");
        let action = benign_action(task.as_ref());
        let mut source = Uniform(7);
        task.reset(&mut || source.next());
        // Partway through, a reset must restart the count.
        for _ in 0..10 {
            step_with(task.as_mut(), &action).unwrap();
        }
        task.reset(&mut || source.next());
        for i in 1..max {
            let step = step_with(task.as_mut(), &action).unwrap();
            assert!(!step.truncated, "{name}: truncated early at step {i}");
        }
        assert!(
            step_with(task.as_mut(), &action).unwrap().truncated,
            "{name}: at {max}"
        );
        // Past the limit it stays truncated; set_state restarts the count.
        assert!(
            step_with(task.as_mut(), &action).unwrap().truncated,
            "{name}: past the limit"
        );
        let state = task.state();
        task.set_state(&state).unwrap();
        assert!(
            !step_with(task.as_mut(), &action).unwrap().truncated,
            "{name}: after set_state"
        );
    }
}

#[test]
fn cartpole_rewards_zero_after_termination() {
    // Gymnasium (sutton_barto_reward=False): 1 on every step including the first
    // terminal one, 0 on steps taken after that.
    let mut task = make_task("cartpole").unwrap();
    task.set_state(&[2.39, 1.0, 0.0, 0.0]).unwrap();
    let first = task.step(Action::Discrete(1)).unwrap();
    assert!(first.terminated);
    assert_eq!(first.reward, 1.0);
    let second = task.step(Action::Discrete(1)).unwrap();
    assert!(second.terminated);
    assert_eq!(second.reward, 0.0);
    // A new episode (set_state or reset) pays 1 again.
    task.set_state(&[2.39, 1.0, 0.0, 0.0]).unwrap();
    assert_eq!(task.step(Action::Discrete(1)).unwrap().reward, 1.0);
}

#[test]
fn task_metadata() {
    assert_eq!(TASK_NAMES.len(), TASKS.len());
    for f in TASKS {
        let name = f.name;
        let task = make_task(name).unwrap();
        assert_eq!(task.name(), name);
        assert_eq!(task.obs_dim(), f.obs_dim, "{name}");
        assert_eq!(task.state().len(), f.state_len, "{name}");
        assert_eq!(task.action_space(), f.action_space(), "{name}");
    }
}

#[test]
fn invalid_actions_are_errors() {
    for name in TASK_NAMES {
        let mut task = make_task(name).unwrap();
        let mut source = Uniform(3);
        task.reset(&mut || source.next());
        let before = task.state();
        let bad: Vec<Action<'_>> = match task.action_space() {
            ActionSpace::Discrete(n) => vec![
                Action::Discrete(n),
                Action::Discrete(usize::MAX),
                Action::Continuous(&[0.0]),
            ],
            ActionSpace::Continuous { .. } => vec![
                Action::Continuous(&[]),
                Action::Continuous(&[0.0, 0.0]),
                Action::Continuous(&[f64::NAN]),
                Action::Continuous(&[f64::INFINITY]),
                Action::Continuous(&[f64::NEG_INFINITY]),
                Action::Discrete(0),
            ],
        };
        for action in bad {
            match task.step(action) {
                Err(TaskError::InvalidAction { task: t, .. }) => assert_eq!(t, *name),
                other => panic!("{name}: {action:?} gave {other:?}"),
            }
            assert_eq!(
                task.state(),
                before,
                "{name}: a rejected action changed the state"
            );
        }
        // Rejected actions do not count towards the time limit.
        let action = benign_action(task.as_ref());
        for _ in 1..task.max_episode_steps() {
            assert!(!step_with(task.as_mut(), &action).unwrap().truncated);
        }
        assert!(step_with(task.as_mut(), &action).unwrap().truncated);
    }
}

#[test]
fn out_of_box_continuous_actions_follow_gymnasium() {
    // Pendulum clips before both the dynamics and the cost.
    let mut a = make_task("pendulum").unwrap();
    let mut b = make_task("pendulum").unwrap();
    a.set_state(&[0.4, -0.3]).unwrap();
    b.set_state(&[0.4, -0.3]).unwrap();
    let ra = a.step(Action::Continuous(&[5.0])).unwrap();
    let rb = b.step(Action::Continuous(&[2.0])).unwrap();
    assert_eq!((a.state(), ra), (b.state(), rb));
    // MountainCarContinuous clips the force but charges the raw action.
    let mut a = make_task("mountaincar-continuous").unwrap();
    let mut b = make_task("mountaincar-continuous").unwrap();
    a.set_state(&[-0.5, 0.0]).unwrap();
    b.set_state(&[-0.5, 0.0]).unwrap();
    let ra = a.step(Action::Continuous(&[3.0])).unwrap();
    let rb = b.step(Action::Continuous(&[1.0])).unwrap();
    assert_eq!(a.state(), b.state());
    assert!(close(ra.reward, -0.9, 1e-12, 0.0) && close(rb.reward, -0.1, 1e-12, 0.0));
}

#[test]
fn wrong_state_lengths_and_unknown_names_are_errors() {
    for name in TASK_NAMES {
        let mut task = make_task(name).unwrap();
        let expected = task.state().len();
        for got in [0, expected - 1, expected + 1] {
            assert_eq!(
                task.set_state(&vec![0.0; got]),
                Err(TaskError::StateLength {
                    task: task.name(),
                    expected,
                    got
                }),
                "{name}"
            );
        }
        assert_eq!(
            replay(task.as_mut(), &[0.0], &[]).unwrap_err(),
            TaskError::StateLength {
                task: task.name(),
                expected,
                got: 1
            }
        );
    }
    for bad in ["", "CartPole-v1", "cartpole ", "mountaincar"] {
        match make_task(bad) {
            Err(TaskError::Unknown(n)) => assert_eq!(n, bad),
            other => panic!("{bad:?}: {:?}", other.map(|t| t.name())),
        }
    }
    let message = make_task("nope").err().unwrap().to_string();
    assert!(
        message.contains("nope") && message.contains("cartpole") && message.contains("hopper"),
        "{message}"
    );
    // A MuJoCo task in a build without MuJoCo says how to get it.
    if !cfg!(feature = "mujoco") {
        for name in satr::tasks::MUJOCO_TASK_NAMES {
            let e = make_task(name).err().unwrap();
            assert_eq!(e, TaskError::NeedsMuJoCo(name.to_string()));
            assert!(e.to_string().contains("--features mujoco"));
        }
    }
}

#[test]
fn nonfinite_states_do_not_panic() {
    for name in TASK_NAMES {
        let mut task = make_task(name).unwrap();
        let action = benign_action(task.as_ref());
        for v in [f64::NAN, f64::INFINITY, -1e300] {
            let state = vec![v; task.state().len()];
            task.set_state(&state).unwrap();
            step_with(task.as_mut(), &action).unwrap();
            let _ = observation(task.as_ref());
        }
    }
}
