//! Config validation: each bad field is rejected by name.

use super::*;

#[test]
fn validate_rejects_each_bad_field() {
    assert_eq!(OptimizerConfig::default().validate(), Ok(()));
    let edge = OptimizerConfig {
        epsilon: 0.0,
        delta_max: 0.0,
        beta_s: 0.0,
        fixed_delta: 0.0,
        beta1: 0.0,
        beta2: 0.0,
        ..OptimizerConfig::default()
    };
    assert_eq!(edge.validate(), Ok(()));

    type Set = fn(&mut OptimizerConfig, f64);
    let fields: [(&str, Set, &[f64]); 11] = [
        ("budget_floor", |c, x| c.budget_floor = x, &[-0.1, 1.1]),
        ("epsilon", |c, x| c.epsilon = x, &[-1.0, f64::INFINITY]),
        ("delta_max", |c, x| c.delta_max = x, &[-1e-9, f64::INFINITY]),
        ("eta_max", |c, x| c.eta_max = x, &[0.0, -1.0, f64::INFINITY]),
        ("beta_s", |c, x| c.beta_s = x, &[1.0, -0.1]),
        (
            "fixed_delta",
            |c, x| c.fixed_delta = x,
            &[-1.0, f64::INFINITY],
        ),
        ("p_min", |c, x| c.p_min = x, &[0.0, 0.5, -0.1, 0.7]),
        ("lr", |c, x| c.lr = x, &[0.0, -0.1, f64::INFINITY]),
        ("beta1", |c, x| c.beta1 = x, &[1.0, -0.5]),
        ("beta2", |c, x| c.beta2 = x, &[1.0, 1.5]),
        ("adam_eps", |c, x| c.adam_eps = x, &[0.0, -1e-8]),
    ];
    for (name, set, bad) in fields {
        for &x in bad.iter().chain(&[f64::NAN, f64::NEG_INFINITY]) {
            let mut c = OptimizerConfig::default();
            set(&mut c, x);
            match c.validate() {
                Err(ConfigError::OutOfRange { key, .. }) => {
                    assert_eq!(key, format!("optimizer.{name}"), "value {x}")
                }
                other => panic!("{name} = {x}: expected OutOfRange, got {other:?}"),
            }
        }
    }
}
