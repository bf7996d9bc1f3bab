//! The built-in tasks against Gymnasium reference data (`scripts/gen_task_refs.py`),
//! plus resets, time limits, errors and action files. What each task's checks need
//! (reference file, horizons, reset ranges, metadata) is its fixture
//! (`tests/common/task_fixtures.rs`).

use satr::tasks::replay::{parse_actions, replay, ReplayStep};
use satr::tasks::{make_task, Action, ActionSpace, Step, Task, TaskError, TASK_NAMES};
use serde_json::Value;

use crate::common::task_fixtures::{fixture, TaskFixture, TASKS};

/// One recorded Gymnasium step.
struct RefStep {
    pre: Vec<f64>,
    action: Vec<f64>,
    post: Vec<f64>,
    obs: Vec<f64>,
    reward: f64,
    terminated: bool,
    truncated: bool,
}

/// One recorded Gymnasium episode (possibly cut short by the generator's step cap).
struct RefRun {
    start: Vec<f64>,
    steps: Vec<RefStep>,
}

/// Wraps every number literal of a JSON text in quotes. serde_json's default float
/// parser is not always correctly rounded (about one value in ten of the reference
/// data came back one ulp off), so numbers are parsed with `str::parse` instead.
fn quote_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut in_string = false;
    let mut in_number = false;
    for c in text.chars() {
        let numeric = c.is_ascii_digit() || "+-.eE".contains(c);
        if in_number && !numeric {
            out.push('"');
            in_number = false;
        }
        if !in_string && !in_number && (c == '-' || c.is_ascii_digit()) {
            out.push('"');
            in_number = true;
        }
        if c == '"' {
            in_string = !in_string;
        }
        out.push(c);
    }
    if in_number {
        out.push('"');
    }
    out
}

fn number(v: &Value) -> f64 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("expected a number, got {v}"));
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(number).collect(),
        single => vec![number(single)],
    }
}

fn load(task: &TaskFixture) -> (usize, Vec<RefRun>) {
    let path = format!(
        "{}/tests/data/tasks/{}",
        env!("CARGO_MANIFEST_DIR"),
        task.reference
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let data: Value = serde_json::from_str(&quote_numbers(&text)).unwrap();
    assert_eq!(data["task"], task.name);
    let max = number(&data["max_episode_steps"]) as usize;
    let runs = data["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|run| RefRun {
            start: floats(&run["start"]),
            steps: run["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| RefStep {
                    pre: floats(&s["pre"]),
                    action: floats(&s["action"]),
                    post: floats(&s["post"]),
                    obs: floats(&s["obs"]),
                    reward: number(&s["reward"]),
                    terminated: s["terminated"].as_bool().unwrap(),
                    truncated: s["truncated"].as_bool().unwrap(),
                })
                .collect(),
        })
        .collect();
    (max, runs)
}

/// Relative `rel` plus absolute `abs` tolerance around the reference `want`.
fn close(got: f64, want: f64, rel: f64, abs: f64) -> bool {
    (got - want).abs() <= abs + rel * want.abs()
}

/// Gymnasium returns observations as float32: allow its rounding (2^-24 relative)
/// with margin, and an absolute floor for values near zero.
fn obs_close(got: f64, want: f64) -> bool {
    close(got, want, 1e-6, 1e-6)
}

fn step_with(task: &mut dyn Task, action: &[f64]) -> Result<Step, TaskError> {
    match task.action_space() {
        ActionSpace::Discrete(_) => task.step(Action::Discrete(action[0] as usize)),
        ActionSpace::Continuous { .. } => task.step(Action::Continuous(action)),
    }
}

fn observation(task: &dyn Task) -> Vec<f64> {
    let mut obs = vec![f64::NAN; task.obs_dim()];
    task.observe(&mut obs);
    obs
}

/// (a) From every recorded pre-state, one step reproduces Gymnasium's post-state,
/// reward and termination.
fn check_single_steps(f: &TaskFixture) {
    let name = f.name;
    let (max, runs) = load(f);
    let mut task = make_task(name).unwrap();
    assert_eq!(task.max_episode_steps(), max);
    let mut count = 0;
    for (r, run) in runs.iter().enumerate() {
        for (i, s) in run.steps.iter().enumerate() {
            let at = format!("{name} run {r} step {i}");
            task.set_state(&s.pre).unwrap();
            let step = step_with(task.as_mut(), &s.action).unwrap();
            let post = task.state();
            assert_eq!(post.len(), s.post.len(), "{at}");
            for (k, (&g, &w)) in post.iter().zip(&s.post).enumerate() {
                assert!(close(g, w, 1e-10, 1e-12), "{at}: state[{k}] {g} vs {w}");
            }
            assert!(
                close(step.reward, s.reward, 1e-10, 1e-12),
                "{at}: reward {} vs {}",
                step.reward,
                s.reward
            );
            assert_eq!(step.terminated, s.terminated, "{at}: terminated");
            // The counter restarted at set_state, so only Gymnasium's own counter
            // (checked by the trajectory test) can have run out here.
            assert!(!step.truncated, "{at}: truncated after one step");
            let obs = observation(task.as_ref());
            assert_eq!(obs.len(), s.obs.len(), "{at}");
            for (k, (&g, &w)) in obs.iter().zip(&s.obs).enumerate() {
                assert!(obs_close(g, w), "{at}: obs[{k}] {g} vs {w}");
            }
            count += 1;
        }
    }
    assert!(count > 0, "{name}: no reference steps");
}

/// (b) Whole trajectories via `replay` follow Gymnasium: observations and rewards for
/// the first `obs_horizon` steps (beyond that, a chaotic task could amplify last-bit
/// differences between libm's and NumPy's sin/cos), the flags for the first
/// `flag_horizon` steps, including where Gymnasium ended the episode. Extra actions
/// after the end must be ignored.
fn check_trajectories(f: &TaskFixture) {
    let (name, obs_horizon, horizon) = (f.name, f.obs_horizon, f.flag_horizon);
    let (_, runs) = load(f);
    let mut task = make_task(name).unwrap();
    let mut ended_within_horizon = 0;
    for (r, run) in runs.iter().enumerate() {
        let mut actions: Vec<Vec<f64>> = run.steps.iter().map(|s| s.action.clone()).collect();
        let extra = actions[0].clone();
        actions.extend(std::iter::repeat_n(extra, 5));
        let got = replay(task.as_mut(), &run.start, &actions).unwrap();
        let n = run.steps.len().min(horizon);
        let ended = run.steps.len() <= horizon;
        if ended {
            let last = run.steps.last().unwrap();
            if last.terminated || last.truncated {
                assert_eq!(got.len(), run.steps.len(), "{name} run {r}: replay length");
                ended_within_horizon += 1;
            }
        }
        assert!(
            got.len() >= n,
            "{name} run {r}: replay stopped early at {}",
            got.len()
        );
        for (i, (g, w)) in got.iter().zip(&run.steps).take(n).enumerate() {
            let at = format!("{name} run {r} step {i}");
            assert_eq!(g.terminated, w.terminated, "{at}: terminated");
            assert_eq!(g.truncated, w.truncated, "{at}: truncated");
            if i >= obs_horizon {
                continue;
            }
            for (k, (&a, &b)) in g.obs.iter().zip(&w.obs).enumerate() {
                assert!(obs_close(a, b), "{at}: obs[{k}] {a} vs {b}");
            }
            assert!(
                close(g.reward, w.reward, 1e-9, 1e-9),
                "{at}: reward {} vs {}",
                g.reward,
                w.reward
            );
        }
    }
    assert!(
        ended_within_horizon > 0,
        "{name}: no run ends within the horizon"
    );
}

/// One test per built-in task, (a) and (b) against its fixture's reference data; and
/// the list of the tasks they cover.
macro_rules! matches_gymnasium {
    ($($test:ident: $name:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check_single_steps(fixture($name));
                check_trajectories(fixture($name));
            }
        )*
        /// The tasks with a Gymnasium test above.
        const GYMNASIUM_TESTS: &[&str] = &[$($name),*];
    };
}

matches_gymnasium! {
    cartpole_matches_gymnasium: "cartpole",
    cartpole_pos_matches_gymnasium: "cartpole-pos",
    acrobot_matches_gymnasium: "acrobot",
    pendulum_matches_gymnasium: "pendulum",
    mountaincar_continuous_matches_gymnasium: "mountaincar-continuous",
}

/// Every built-in task has a fixture, in `TASK_NAMES` order, and a Gymnasium test.
#[test]
fn every_builtin_task_has_a_fixture_and_a_gymnasium_test() {
    let names: Vec<&str> = TASKS.iter().map(|f| f.name).collect();
    assert_eq!(names, TASK_NAMES);
    assert_eq!(GYMNASIUM_TESTS, TASK_NAMES);
}

#[test]
fn reference_data_covers_termination_and_truncation() {
    let mut terminated = 0;
    let mut truncated = 0;
    for f in TASKS {
        let name = f.name;
        let (max, runs) = load(f);
        for run in &runs {
            let last = run.steps.last().unwrap();
            terminated += last.terminated as usize;
            if last.truncated {
                assert_eq!(run.steps.len(), max, "{name}: truncated before the limit");
                truncated += 1;
            }
        }
    }
    assert!(terminated > 0 && truncated > 0);
}

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

#[test]
fn replay_rejects_non_integer_discrete_actions() {
    let mut task = make_task("cartpole").unwrap();
    for bad in [vec![0.5], vec![-1.0], vec![0.0, 1.0], vec![], vec![2.0]] {
        assert!(
            matches!(
                replay(task.as_mut(), &[0.0; 4], std::slice::from_ref(&bad)),
                Err(TaskError::InvalidAction { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn replay_steps_serialize_as_json_lines() {
    let mut task = make_task("pendulum").unwrap();
    let steps = replay(task.as_mut(), &[0.1, 0.0], &[vec![0.5], vec![-0.5]]).unwrap();
    assert_eq!(steps.len(), 2);
    let line = serde_json::to_string(&steps[0]).unwrap();
    let back: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(back["obs"].as_array().unwrap().len(), 3);
    assert_eq!(back["reward"].as_f64().unwrap(), steps[0].reward);
    assert_eq!(back["terminated"], false);
    assert_eq!(back["truncated"], false);
    let _: &ReplayStep = &steps[1];
}

fn file_error_line(space: &ActionSpace, text: &str) -> usize {
    match parse_actions(space, text) {
        Err(e @ TaskError::ActionFile { line, .. }) => {
            assert!(e.to_string().contains(&format!("line {line}")), "{e}");
            line
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn parse_actions_reads_discrete_and_continuous_files() {
    let d = ActionSpace::Discrete(3);
    assert_eq!(
        parse_actions(&d, "0\n2\n\n  1  \r\n").unwrap(),
        vec![vec![0.0], vec![2.0], vec![1.0]]
    );
    let c1 = ActionSpace::Continuous {
        low: vec![-2.0],
        high: vec![2.0],
    };
    assert_eq!(
        parse_actions(&c1, "0.5\n-3e-1\n\n 7 \n").unwrap(),
        vec![vec![0.5], vec![-0.3], vec![7.0]]
    );
    let c2 = ActionSpace::Continuous {
        low: vec![-1.0; 2],
        high: vec![1.0; 2],
    };
    assert_eq!(
        parse_actions(&c2, "1 2\n3,4\n5 ,\t6\n-1\t-2\n").unwrap(),
        vec![
            vec![1.0, 2.0],
            vec![3.0, 4.0],
            vec![5.0, 6.0],
            vec![-1.0, -2.0]
        ]
    );
    assert_eq!(parse_actions(&d, "\n\n").unwrap(), Vec::<Vec<f64>>::new());
}

#[test]
fn parse_actions_errors_name_the_line() {
    let d = ActionSpace::Discrete(2);
    assert_eq!(file_error_line(&d, "0\n1\n\nx\n"), 4);
    assert_eq!(file_error_line(&d, "0\n\n\n2"), 4);
    assert_eq!(file_error_line(&d, "-1"), 1);
    assert_eq!(file_error_line(&d, "1\n0.5"), 2);
    assert_eq!(file_error_line(&d, "1\n1 0"), 2);
    let c1 = ActionSpace::Continuous {
        low: vec![-2.0],
        high: vec![2.0],
    };
    assert_eq!(file_error_line(&c1, "0.5\n1, 2\n"), 2);
    assert_eq!(file_error_line(&c1, "0.5\n0.1\nnan"), 3);
    assert_eq!(file_error_line(&c1, "inf"), 1);
    assert_eq!(file_error_line(&c1, "\n\n\nabc"), 4);
    let c2 = ActionSpace::Continuous {
        low: vec![-1.0; 2],
        high: vec![1.0; 2],
    };
    assert_eq!(file_error_line(&c2, "1 2\n1,,2"), 2);
    assert_eq!(file_error_line(&c2, "1 2\n3 4\n5"), 3);
    assert_eq!(file_error_line(&c2, "1,2,"), 1);
}
