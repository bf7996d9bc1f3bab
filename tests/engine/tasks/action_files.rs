//! Action files and `replay`: parsing, errors naming the line, JSON step lines.

use super::*;

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
