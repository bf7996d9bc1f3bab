//! Adaptation and convergence on a planted target: the unbiased signal shrinks steps
//! under pure noise where fixed_kl does not, and every rule solves the target.

use super::*;

#[test]
fn unbiased_signal_shrinks_steps_under_noise_fixed_kl_does_not() {
    let gens = 20;
    let mut c = cfg(Rule::Satr, Signal::Unbiased, Direction::Natural);
    c.epsilon = 10.0;
    let (planted, _) = run(&c, 1, gens, false, false);
    let (noise, _) = run(&c, 2, gens, true, false);
    let (kp, kn) = (mean_kl(&planted), mean_kl(&noise));
    println!(
        "unbiased+natural: mean KL planted {kp:.4}, noise {kn:.5}, ratio {:.4}",
        kn / kp
    );
    assert!(kp > 0.0);
    assert!(kn <= 0.1 * kp, "noise KL {kn} vs planted {kp}");

    let mut f = cfg(Rule::FixedKl, Signal::Unbiased, Direction::Natural);
    f.fixed_delta = 1.0;
    for noise in [false, true] {
        let (stats, _) = run(&f, 3, gens, noise, false);
        for s in &stats {
            assert_eq!(s.kl_budget, Some(f.fixed_delta));
            let t = s.eta.unwrap();
            if t < f.eta_max {
                assert!(
                    (s.kl - f.fixed_delta).abs() <= 1e-6 * f.fixed_delta,
                    "fixed_kl (noise = {noise}) took KL {} of {}",
                    s.kl,
                    f.fixed_delta
                );
            }
        }
        println!("fixed_kl noise={noise}: mean KL {:.6}", mean_kl(&stats));
    }
}

#[test]
fn every_rule_solves_the_planted_target() {
    let mut raw_adam = cfg(Rule::Satr, Signal::Raw, Direction::Adam);
    raw_adam.epsilon = 15.0;
    raw_adam.lr = 0.3;
    let mut unb_nat = cfg(Rule::Satr, Signal::Unbiased, Direction::Natural);
    unb_nat.epsilon = 10.0;
    let mut ec = cfg(Rule::Ec, Signal::Raw, Direction::Adam);
    ec.lr = 0.15;
    let mut fixed = cfg(Rule::FixedKl, Signal::Raw, Direction::Natural);
    fixed.fixed_delta = 2.0;
    let cases = [
        ("satr raw+adam", raw_adam, 60),
        ("satr unbiased+natural", unb_nat, 60),
        ("ec", ec, 80),
        ("fixed_kl natural", fixed, 60),
    ];
    for (name, c, bound) in cases {
        let (stats, reached) = run(&c, 42, bound, false, true);
        println!(
            "{name}: 99% match at generation {reached:?}, mean KL {:.3}",
            mean_kl(&stats)
        );
        assert!(
            reached.is_some(),
            "{name} did not reach 99% in {bound} generations"
        );
    }
}
