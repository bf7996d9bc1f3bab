//! The signal estimates (SPEC 4): energies against their definitions, the unbiased
//! and cross estimates of a linear fitness's Fisher norm, the SNR budget, and their
//! state resuming through serde.

use super::*;

#[test]
fn energies_match_their_definitions() {
    let dim = 40;
    let pop = 12;
    let mut rng = SplitMix(11);
    let p: Vec<f64> = (0..dim).map(|_| 0.05 + 0.9 * rng.uniform()).collect();
    let genomes = sample(&mut rng, &p, pop);
    let f: Vec<f64> = (0..pop).map(|_| rng.uniform()).collect();
    let u = shape(&f, Shaping::CenteredRanks);
    let red = reductions_from_bits(&genomes, &u);
    // Member contributions z_k = u_k (x_k - p), Fisher inner product.
    let z: Vec<Vec<f64>> = genomes
        .iter()
        .zip(&u)
        .map(|(x, &uk)| {
            (0..dim)
                .map(|i| uk * (f64::from(u8::from(x[i])) - p[i]))
                .collect()
        })
        .collect();
    let dot = |a: &[f64], b: &[f64]| -> f64 {
        (0..dim).map(|i| a[i] * b[i] / (p[i] * (1.0 - p[i]))).sum()
    };
    let g = gradient(&p, &red);
    for i in 0..dim {
        let gi: f64 = z.iter().map(|zk| zk[i]).sum::<f64>() / pop as f64;
        assert!((g[i] - gi).abs() < 1e-12);
    }
    let e = energies(&p, &red);
    let total = dot(&g, &g);
    let q: f64 = z.iter().map(|zk| dot(zk, zk)).sum();
    let mut cross = 0.0;
    for k in 0..pop {
        for l in 0..pop {
            if k != l {
                cross += dot(&z[k], &z[l]);
            }
        }
    }
    let unbiased = cross / (pop * (pop - 1)) as f64;
    assert!((e.total - total).abs() <= 1e-10 * total);
    assert!((e.q - q).abs() <= 1e-10 * q);
    assert!((e.unbiased - unbiased).abs() <= 1e-9 * q);
    assert!((e.snr - unbiased.max(0.0) / total).abs() < 1e-9);
}

#[test]
fn unbiased_signal_estimates_the_fisher_norm_of_a_linear_fitness() {
    let dim = 256;
    let pop = 1024;
    let seeds = 200;
    let mut rng = SplitMix(0xC0FFEE);
    let p: Vec<f64> = (0..dim).map(|_| 0.1 + 0.8 * rng.uniform()).collect();
    let w: Vec<f64> = (0..dim).map(|_| 2.0 * rng.uniform() - 1.0).collect();
    let truth: f64 = (0..dim).map(|i| w[i] * w[i] * p[i] * (1.0 - p[i])).sum();
    let mut est = Vec::with_capacity(seeds);
    let mut raw = 0.0;
    for seed in 0..seeds as u64 {
        let mut rng = SplitMix(1000 + seed);
        let red = generation(&mut rng, &p, pop, Shaping::None, &mut |g| {
            g.iter()
                .zip(&w)
                .filter(|(x, _)| **x)
                .map(|(_, wi)| wi)
                .sum()
        });
        let e = energies(&p, &red);
        est.push(e.unbiased);
        raw += e.total / seeds as f64;
    }
    let n = seeds as f64;
    let mean = est.iter().sum::<f64>() / n;
    let var = est.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let se = (var / n).sqrt();
    println!(
        "S_u mean {mean:.4}, truth {truth:.4}, rel err {:.3}%, rel SE {:.3}%, mean E_tot {raw:.4}",
        100.0 * (mean / truth - 1.0),
        100.0 * se / truth
    );
    assert!(se / truth < 0.01, "standard error {se} too large to judge");
    assert!(
        (mean / truth - 1.0).abs() < 0.05,
        "S_u mean {mean} vs {truth}"
    );
    // E_tot is biased upward by the noise floor; S_u must not be.
    assert!(raw > 1.1 * truth);
}

#[test]
fn cross_signal_estimates_the_fisher_norm_of_a_linear_fitness() {
    let dim = 256;
    let pop = 1024;
    let gens = 200;
    let mut rng = SplitMix(0xBEEF);
    let p0: Vec<f64> = (0..dim).map(|_| 0.1 + 0.8 * rng.uniform()).collect();
    let w: Vec<f64> = (0..dim).map(|_| 2.0 * rng.uniform() - 1.0).collect();
    let truth: f64 = (0..dim).map(|i| w[i] * w[i] * p0[i] * (1.0 - p0[i])).sum();
    // epsilon 0: no step, so every generation samples the same p; beta_s 0: the
    // unclamped estimate of each generation is the state's `signal_ema`.
    let c = OptimizerConfig {
        signal: Signal::Cross,
        epsilon: 0.0,
        beta_s: 0.0,
        ..cfg(Rule::Satr, Signal::Cross, Direction::Natural)
    };
    let mut opt = Optimizer::new(c, dim);
    let mut p = p0.clone();
    let mut est = Vec::new();
    let mut unbiased_first = None;
    for gen in 0..gens {
        let red = generation(&mut rng, &p, pop, Shaping::None, &mut |g| {
            g.iter()
                .zip(&w)
                .filter(|(x, _)| **x)
                .map(|(_, wi)| wi)
                .sum()
        });
        let s = opt.step(&mut p, &red);
        assert_eq!(s.kl, 0.0);
        let c = opt.state.signal_ema.unwrap();
        if gen == 0 {
            // No previous gradient yet: the first estimate is S_u.
            unbiased_first = Some((c, energies(&p, &red).unbiased));
        } else {
            est.push(c);
        }
    }
    assert_eq!(p, p0);
    let (first, su) = unbiased_first.unwrap();
    assert_eq!(first, su);
    let n = est.len() as f64;
    let mean = est.iter().sum::<f64>() / n;
    let var = est.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    // Neighbouring products share a gradient: allow for it with twice the naive SE.
    let se = 2.0 * (var / n).sqrt();
    println!(
        "C mean {mean:.4}, truth {truth:.4}, rel err {:.3}%, rel SE {:.3}%",
        100.0 * (mean / truth - 1.0),
        100.0 * se / truth
    );
    assert!(se / truth < 0.03, "standard error {se} too large to judge");
    assert!((mean - truth).abs() < 3.0 * se, "C mean {mean} vs {truth}");
}

#[test]
fn snr_budget_contracts_under_noise_and_keeps_its_floor() {
    let gens = 20;
    let mut c = cfg(Rule::Satr, Signal::Cross, Direction::Adam);
    c.budget = Budget::Snr;
    c.epsilon = 50.0;
    c.budget_floor = 0.1;
    c.beta_s = 0.5;
    let mean_budget = |stats: &[satr::optimizer::UpdateStats]| {
        stats.iter().map(|s| s.kl_budget.unwrap()).sum::<f64>() / stats.len() as f64
    };
    let (planted, _) = run(&c, 5, gens, false, false);
    let (noise, _) = run(&c, 6, gens, true, false);
    for s in planted.iter().chain(&noise) {
        let b = s.kl_budget.unwrap();
        assert!(
            (c.epsilon * c.budget_floor..=c.epsilon).contains(&b),
            "budget {b} outside [floor * epsilon, epsilon]"
        );
        assert!(s.kl <= b * (1.0 + 1e-12), "KL {} over budget {b}", s.kl);
    }
    let (bp, bn) = (mean_budget(&planted), mean_budget(&noise));
    println!("cross+snr: mean budget planted {bp:.3}, noise {bn:.3}");
    // Pure noise sits at (or near) the floor; the planted target's share lifts it.
    assert!(bn < 1.2 * c.budget_floor * c.epsilon, "noise budget {bn}");
    assert!(bp > 1.5 * bn, "planted budget {bp} vs noise {bn}");
}

#[test]
fn cross_and_snr_state_resumes_exactly_through_serde() {
    let dim = 300;
    let mut c = cfg(Rule::Satr, Signal::Cross, Direction::Adam);
    c.budget = Budget::Snr;
    c.beta_s = 0.7;
    let mut rng = SplitMix(9);
    let w: Vec<f64> = (0..dim).map(|_| rng.uniform() - 0.5).collect();
    let mut fit = |g: &[bool]| g.iter().zip(&w).filter(|(x, _)| **x).map(|(_, v)| v).sum();
    let mut p = vec![0.5; dim];
    let mut a = Optimizer::new(c.clone(), dim);
    for _ in 0..3 {
        let red = generation(&mut rng, &p, 40, Shaping::CenteredRanks, &mut fit);
        a.step(&mut p, &red);
    }
    assert_eq!(a.state.prev_gradient.len(), dim);
    assert!(a.state.energy_ema.is_some());
    let text = serde_json::to_string(&a.state).unwrap();
    let mut b = Optimizer {
        config: c,
        state: serde_json::from_str(&text).unwrap(),
    };
    let mut q = p.clone();
    for _ in 0..3 {
        let red = generation(&mut rng, &p, 40, Shaping::CenteredRanks, &mut fit);
        let sa = a.step(&mut p, &red);
        let sb = b.step(&mut q, &red);
        assert_eq!(sa, sb);
    }
    assert_eq!(p, q);
    // The default rule writes neither field, so its checkpoints are unchanged.
    let plain = Optimizer::new(OptimizerConfig::default(), 4);
    let text = serde_json::to_string(&plain.state).unwrap();
    assert!(
        !text.contains("prev_gradient") && !text.contains("energy_ema"),
        "{text}"
    );
}
