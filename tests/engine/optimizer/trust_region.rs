//! Trust-region guarantees: the KL bound, Adam only shrinking a step, NaN-free
//! degenerate steps, thread-count independence and the per-coordinate step cap.

use super::*;

#[test]
fn trust_region_holds_and_adam_only_shrinks() {
    let dim = 2000;
    let pop = 64;
    let mut steps = 0;
    let mut clipped_steps = 0;
    let mut full_budget_steps = 0;
    for seed in 0..6u64 {
        let mut rng = SplitMix(seed);
        let base = OptimizerConfig::default();
        let (lo, hi) = (base.p_min, 1.0 - base.p_min);
        // Start near and at the bounds, and in the middle.
        let p0: Vec<f64> = (0..dim)
            .map(|i| match i % 6 {
                0 => lo,
                1 => hi,
                2 => lo * 1.5,
                3 => hi - 1e-4,
                4 => 0.02 + 0.96 * rng.uniform(),
                _ => 0.5,
            })
            .collect();
        let target: Vec<bool> = (0..dim).map(|_| rng.uniform() < 0.5).collect();
        let variants = [
            (Rule::Satr, Signal::Raw, Direction::Adam),
            (Rule::Satr, Signal::Raw, Direction::Natural),
            (Rule::Satr, Signal::Unbiased, Direction::Natural),
            (Rule::Satr, Signal::Unbiased, Direction::Adam),
            (Rule::FixedKl, Signal::Raw, Direction::Adam),
            (Rule::FixedKl, Signal::Raw, Direction::Natural),
        ];
        for (rule, signal, direction) in variants {
            let mut c = cfg(rule, signal, direction);
            // Big budgets and steps push coordinates into the bounds.
            c.epsilon = [1e3, 1e5][(seed % 2) as usize];
            c.fixed_delta = [5.0, 500.0][(seed % 2) as usize];
            c.lr = [0.3, 5.0][(seed % 2) as usize];
            c.beta_s = 0.5;
            let mut opt = Optimizer::new(c.clone(), dim);
            let mut p = p0.clone();
            for _ in 0..4 {
                let red = generation(&mut rng, &p, pop, c.shaping, &mut |g| {
                    g.iter().zip(&target).filter(|(a, b)| a == b).count() as f64
                });
                let before = p.clone();
                // EC's step from the very same Adam state.
                let mut ec = opt.clone();
                ec.config.rule = Rule::Ec;
                let mut p_ec = p.clone();
                ec.step(&mut p_ec, &red);

                let stats = opt.step(&mut p, &red);
                steps += 1;
                let budget = stats.kl_budget.expect("satr/fixed_kl report a budget");
                let kl = kl_bernoulli(&before, &p);
                assert_eq!(kl, stats.kl, "reported KL is the exact KL of the step");
                assert!(
                    kl <= budget * (1.0 + 1e-6),
                    "{rule:?}/{signal:?}/{direction:?}: KL {kl} > budget {budget}"
                );
                assert!(
                    p.iter().all(|&x| (lo..=hi).contains(&x)),
                    "p left the bounds"
                );
                if stats.clip_fraction > 0.0
                    && p.iter()
                        .zip(&before)
                        .any(|(a, b)| a != b && (*a == lo || *a == hi))
                {
                    clipped_steps += 1;
                }
                let t = stats.eta.unwrap();
                let t_max = if direction == Direction::Adam {
                    1.0
                } else {
                    c.eta_max
                };
                // The largest feasible t: short of t_max, the budget is used up.
                if t < t_max && budget > 0.0 {
                    assert!(
                        kl >= budget * (1.0 - 1e-6),
                        "{rule:?}/{signal:?}/{direction:?}: t {t} stopped at KL {kl} of {budget}"
                    );
                    full_budget_steps += 1;
                }
                if direction == Direction::Adam {
                    let (ours, theirs) = (&opt.state, &ec.state);
                    assert!(
                        ours.m == theirs.m && ours.v == theirs.v && ours.t == theirs.t,
                        "same Adam update as EC"
                    );
                    for i in 0..dim {
                        let ours = (p[i] - before[i]).abs();
                        let theirs = (p_ec[i] - before[i]).abs();
                        assert!(
                            ours <= theirs + 1e-15,
                            "coordinate {i}: |step| {ours} > EC's {theirs}"
                        );
                    }
                }
            }
        }
    }
    // The checks above must have covered steps that hit the bounds and steps
    // limited by the budget, or they prove little.
    assert!(
        clipped_steps > steps / 4,
        "{clipped_steps}/{steps} steps hit a bound"
    );
    assert!(
        full_budget_steps > steps / 4,
        "{full_budget_steps}/{steps} used the budget"
    );
}

#[test]
fn degenerate_steps_are_nan_free() {
    let dim = 300;
    let c0 = OptimizerConfig::default();
    let (lo, hi) = (c0.p_min, 1.0 - c0.p_min);
    let p0: Vec<f64> = (0..dim).map(|i| [lo, hi, 0.5][i % 3]).collect();
    // All-zero utilities: g = 0, E_tot = 0, Q = 0.
    let zero = Reductions {
        a: vec![0.0; dim],
        b: vec![0.0; dim],
        u1: 0.0,
        u2: 0.0,
        population: 8,
    };
    for rule in [Rule::Satr, Rule::Ec, Rule::FixedKl] {
        for signal in [Signal::Raw, Signal::Unbiased] {
            for direction in [Direction::Adam, Direction::Natural] {
                let mut opt = Optimizer::new(cfg(rule, signal, direction), dim);
                let mut p = p0.clone();
                let s = opt.step(&mut p, &zero);
                assert_eq!(p, p0, "no gradient, no step");
                assert_eq!(s.kl, 0.0);
                assert_eq!(s.total_energy, Some(0.0));
                assert_eq!(s.snr, Some(0.0));
                assert!((s.clip_fraction - 2.0 / 3.0).abs() < 1e-12);
                assert!(s.entropy.is_finite() && s.entropy > 0.0);
                if rule == Rule::Satr {
                    assert_eq!(s.kl_budget, Some(0.0));
                    assert_eq!(s.eta, Some(0.0));
                }
            }
        }
    }
    // A gradient pushing every coordinate outward at the bounds: nothing can move.
    let out = Reductions {
        a: (0..dim).map(|i| [-1.0, 1.0, 0.0][i % 3]).collect(),
        b: vec![0.0; dim],
        u1: 0.0,
        u2: 0.0,
        population: 8,
    };
    for direction in [Direction::Adam, Direction::Natural] {
        let mut opt = Optimizer::new(cfg(Rule::FixedKl, Signal::Raw, direction), dim);
        let mut p = p0.clone();
        let s = opt.step(&mut p, &out);
        assert_eq!(p, p0);
        assert_eq!(s.kl, 0.0);
        assert!(s.eta.unwrap().is_finite());
    }
    // Population of one: S_u is undefined and reported as 0.
    let mut rng = SplitMix(3);
    let red = generation(&mut rng, &p0, 1, Shaping::None, &mut |g| g.len() as f64);
    let e = energies(&p0, &red);
    assert_eq!(e.unbiased, 0.0);
    assert!(e.total.is_finite() && e.q.is_finite());
}

#[test]
fn delta_zero_means_no_step() {
    let dim = 100;
    let mut rng = SplitMix(9);
    let p0 = vec![0.5; dim];
    let red = generation(&mut rng, &p0, 32, Shaping::CenteredRanks, &mut |g| {
        g[..10].iter().filter(|&&x| x).count() as f64
    });
    for direction in [Direction::Adam, Direction::Natural] {
        let mut c = cfg(Rule::FixedKl, Signal::Raw, direction);
        c.fixed_delta = 0.0;
        let mut p = p0.clone();
        let s = Optimizer::new(c.clone(), dim).step(&mut p, &red);
        assert_eq!((p.as_slice(), s.kl, s.eta), (p0.as_slice(), 0.0, Some(0.0)));
        c.rule = Rule::Satr;
        c.fixed_delta = 1.0;
        c.epsilon = 0.0;
        let mut p = p0.clone();
        let s = Optimizer::new(c, dim).step(&mut p, &red);
        assert_eq!((p.as_slice(), s.kl, s.eta), (p0.as_slice(), 0.0, Some(0.0)));
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    // Larger than one summation chunk, so the parallel path runs.
    let dim = 100_000;
    let mut rng = SplitMix(5);
    let p0: Vec<f64> = (0..dim).map(|_| 0.05 + 0.9 * rng.uniform()).collect();
    let red = generation(&mut rng, &p0, 16, Shaping::CenteredRanks, &mut |g| {
        g[..500].iter().filter(|&&x| x).count() as f64
    });
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let c = cfg(Rule::Satr, Signal::Raw, Direction::Natural);
            let mut p = p0.clone();
            let s = Optimizer::new(c, dim).step(&mut p, &red);
            (p, s)
        })
    };
    let (p1, s1) = run(1);
    let (p3, s3) = run(3);
    assert_eq!(s1, s3);
    assert_eq!(p1, p3);
}

#[test]
fn no_rule_moves_a_coordinate_more_than_max_step_in_one_generation() {
    // Two members (the noisiest estimate there is) and budgets that ask for the moon:
    // before the bound, natural-direction SATR and fixed_kl and a large-lr EC drove
    // coordinates from 0.5 to their bounds in the first generation.
    let dim = 2000;
    let p0 = vec![0.5; dim];
    let mut rng = SplitMix(17);
    let red = generation(&mut rng, &p0, 2, Shaping::CenteredRanks, &mut |g| {
        g.iter().take(50).filter(|&&b| b).count() as f64
    });
    for (rule, direction) in [
        (Rule::Satr, Direction::Natural),
        (Rule::Satr, Direction::Adam),
        (Rule::FixedKl, Direction::Natural),
        (Rule::Ec, Direction::Adam),
    ] {
        for max_step in [0.45, 0.1] {
            let c = OptimizerConfig {
                epsilon: 1e6,
                fixed_delta: 1e6,
                lr: 0.9,
                max_step,
                ..cfg(rule, Signal::Raw, direction)
            };
            c.validate().unwrap();
            let mut opt = Optimizer::new(c.clone(), dim);
            let mut p = p0.clone();
            let s = opt.step(&mut p, &red);
            let largest = p
                .iter()
                .zip(&p0)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                largest <= max_step + 1e-12,
                "{rule:?}/{direction:?}: a coordinate moved {largest} > {max_step}"
            );
            assert!(
                largest > 0.5 * max_step,
                "{rule:?}/{direction:?}: the step vanished"
            );
            assert_eq!(
                s.clip_fraction, 0.0,
                "{rule:?}/{direction:?}: nothing reaches a bound"
            );
            // The KL reported is the KL of the step taken, bound included.
            let kl = kl_bernoulli(&p0, &p);
            assert!((kl - s.kl).abs() <= 1e-9 * kl.max(1.0), "{kl} vs {}", s.kl);
        }
    }
    let bad = OptimizerConfig {
        max_step: 0.0,
        ..OptimizerConfig::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("max_step"));
}
