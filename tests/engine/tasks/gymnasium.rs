//! Every built-in task step for step against Gymnasium's recorded runs
//! (`scripts/gen_task_refs.py`): single steps from recorded states and whole
//! trajectories through `replay`.

use super::*;

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
