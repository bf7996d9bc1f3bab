//! Update rules (SPEC 4): trust-region guarantees, the unbiased signal
//! estimate, signal adaptation, convergence on a planted target, shaping,
//! validation and the KL/entropy helpers.
//!
//! Sampling is not under test here, so genomes come from a small seeded
//! splitmix64 of the test's own.

use satr::config::ConfigError;
use satr::distribution::{reductions_from_bits, Reductions};
use satr::optimizer::{
    energies, gradient, kl_bernoulli, mean_entropy, shape, Budget, Direction, Optimizer,
    OptimizerConfig, Rule, Shaping, Signal,
};

struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `pop` genomes with bit `i` drawn as Bernoulli(`p[i]`).
fn sample(rng: &mut SplitMix, p: &[f64], pop: usize) -> Vec<Vec<bool>> {
    // 32-bit thresholds as in SPEC 3, two draws per u64.
    let thr: Vec<u64> = p.iter().map(|&x| (x * 4294967296.0) as u64).collect();
    (0..pop)
        .map(|_| {
            let mut g = Vec::with_capacity(p.len());
            let mut word = 0u64;
            for (i, &t) in thr.iter().enumerate() {
                if i % 2 == 0 {
                    word = rng.next_u64();
                }
                let r = if i % 2 == 0 {
                    word >> 32
                } else {
                    word & 0xFFFF_FFFF
                };
                g.push(r < t);
            }
            g
        })
        .collect()
}

fn cfg(rule: Rule, signal: Signal, direction: Direction) -> OptimizerConfig {
    OptimizerConfig {
        rule,
        signal,
        direction,
        ..OptimizerConfig::default()
    }
}

/// Reductions of one generation under `fitness`, with the config's shaping.
fn generation(
    rng: &mut SplitMix,
    p: &[f64],
    pop: usize,
    shaping: Shaping,
    fitness: &mut dyn FnMut(&[bool]) -> f64,
) -> Reductions {
    let genomes = sample(rng, p, pop);
    let f: Vec<f64> = genomes.iter().map(|g| fitness(g)).collect();
    let u = shape(&f, shaping);
    reductions_from_bits(&genomes, &u)
}

// ---------------------------------------------------------------- trust region

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

// ------------------------------------------------------------ signal estimates

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

// ------------------------------------------------ adaptation and convergence

const PLANT_DIM: usize = 4096;
const PLANT_POP: usize = 1024;

fn matches(g: &[bool], target: &[bool]) -> f64 {
    g.iter().zip(target).filter(|(a, b)| a == b).count() as f64
}

fn mode_match(p: &[f64], target: &[bool]) -> f64 {
    p.iter()
        .zip(target)
        .filter(|(pi, t)| (**pi > 0.5) == **t)
        .count() as f64
        / p.len() as f64
}

/// Runs up to `gens` generations; returns the per-step stats and the first
/// generation (1-based) whose mode matched the target to 99%, if any.
fn run(
    c: &OptimizerConfig,
    seed: u64,
    gens: usize,
    noise: bool,
    stop_at_99: bool,
) -> (Vec<satr::optimizer::UpdateStats>, Option<usize>) {
    let mut rng = SplitMix(seed);
    let target: Vec<bool> = (0..PLANT_DIM).map(|_| rng.uniform() < 0.5).collect();
    let mut p = vec![0.5; PLANT_DIM];
    let mut opt = Optimizer::new(c.clone(), PLANT_DIM);
    // Noise fitness ignores the genome: its own stream of uniforms.
    let mut noise_rng = SplitMix(seed ^ 0x5EED);
    let mut stats = Vec::new();
    let mut reached = None;
    for gen in 1..=gens {
        let red = generation(&mut rng, &p, PLANT_POP, c.shaping, &mut |g| {
            if noise {
                noise_rng.uniform()
            } else {
                matches(g, &target)
            }
        });
        stats.push(opt.step(&mut p, &red));
        if reached.is_none() && mode_match(&p, &target) >= 0.99 {
            reached = Some(gen);
            if stop_at_99 {
                break;
            }
        }
    }
    (stats, reached)
}

fn mean_kl(stats: &[satr::optimizer::UpdateStats]) -> f64 {
    stats.iter().map(|s| s.kl).sum::<f64>() / stats.len() as f64
}

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

// ------------------------------------------------------------------- shaping

#[test]
fn centred_ranks_average_ties() {
    let u = shape(&[3.0, 1.0, 2.0, 2.0, f64::NAN], Shaping::CenteredRanks);
    // Ranks: NaN 0, 1.0 -> 1, the two 2.0 share (2 + 3) / 2, 3.0 -> 4; u = rank / 4 - 0.5.
    assert_eq!(u, vec![0.5, -0.25, 0.125, 0.125, -0.5]);
    assert_eq!(shape(&[7.0], Shaping::CenteredRanks), vec![0.0]);
    assert!(shape(&[], Shaping::CenteredRanks).is_empty());
    assert_eq!(shape(&[4.0; 5], Shaping::CenteredRanks), vec![0.0; 5]);
    assert_eq!(shape(&[0.0, -0.0], Shaping::CenteredRanks), vec![0.0, 0.0]);
    let raw = [3.5, -1.0, 1e9];
    assert_eq!(shape(&raw, Shaping::None), raw.to_vec());

    let mut rng = SplitMix(8);
    for n in [2usize, 3, 10, 1001] {
        // Few distinct values, so many ties.
        let f: Vec<f64> = (0..n).map(|_| (rng.uniform() * 7.0).floor()).collect();
        let u = shape(&f, Shaping::CenteredRanks);
        assert!(u.iter().all(|x| (-0.5..=0.5).contains(x)));
        assert!(u.iter().sum::<f64>().abs() < 1e-9);
        for i in 0..n {
            for j in 0..n {
                assert_eq!(
                    f[i].partial_cmp(&f[j]),
                    u[i].partial_cmp(&u[j]),
                    "order kept"
                );
            }
        }
    }
    let u = shape(&[1.0, 2.0, 3.0], Shaping::CenteredRanks);
    assert_eq!(u, vec![-0.5, 0.0, 0.5]);
}

// ---------------------------------------------------------------- validation

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

// ------------------------------------------------------------------- helpers

#[test]
fn kl_and_entropy_match_direct_formulas() {
    let direct_kl = |p: f64, q: f64| p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln();
    let direct_h = |p: f64| -p * p.ln() - (1.0 - p) * (1.0 - p).ln();
    let mut rng = SplitMix(21);
    let n = 5000;
    let p: Vec<f64> = (0..n)
        .map(|_| 1e-3 + (1.0 - 2e-3) * rng.uniform())
        .collect();
    let q: Vec<f64> = (0..n)
        .map(|_| 1e-3 + (1.0 - 2e-3) * rng.uniform())
        .collect();
    for i in 0..n {
        let (a, b) = (kl_bernoulli(&p[i..=i], &q[i..=i]), direct_kl(p[i], q[i]));
        assert!(
            (a - b).abs() <= 1e-12 + 1e-9 * b,
            "KL({}, {}) = {a} vs {b}",
            p[i],
            q[i]
        );
        let h = mean_entropy(&p[i..=i]);
        assert!((h - direct_h(p[i])).abs() < 1e-14);
    }
    let total: f64 = (0..n).map(|i| direct_kl(p[i], q[i])).sum();
    assert!((kl_bernoulli(&p, &q) - total).abs() < 1e-9 * total);
    let h: f64 = p.iter().map(|&x| direct_h(x)).sum::<f64>() / n as f64;
    assert!((mean_entropy(&p) - h).abs() < 1e-12);

    // Small steps: KL ~ h^2 / (2 p (1 - p)), where the direct formula cancels badly.
    for &(pi, d) in &[(0.3, 1e-9), (0.5, -1e-7), (0.999, -1e-10), (0.01, 3e-6)] {
        let kl = kl_bernoulli(&[pi], &[pi + d]);
        let approx = d * d / (2.0 * pi * (1.0 - pi));
        assert!(
            (kl / approx - 1.0).abs() < 1e-3,
            "p {pi}, h {d}: {kl} vs {approx}"
        );
    }
    // Conventions at the edges.
    assert_eq!(kl_bernoulli(&[0.3], &[0.3]), 0.0);
    assert!((kl_bernoulli(&[0.0], &[0.25]) - (4.0f64 / 3.0).ln()).abs() < 1e-15);
    assert!((kl_bernoulli(&[1.0], &[0.25]) - 4.0f64.ln()).abs() < 1e-15);
    assert_eq!(kl_bernoulli(&[0.2], &[0.0]), f64::INFINITY);
    assert_eq!(kl_bernoulli(&[0.2], &[1.0]), f64::INFINITY);
    assert!((mean_entropy(&[0.5, 0.5]) - 2f64.ln()).abs() < 1e-15);
    assert_eq!(mean_entropy(&[0.0, 1.0]), 0.0);
    assert_eq!(mean_entropy(&[]), 0.0);
    assert_eq!(kl_bernoulli(&[], &[]), 0.0);
}

#[test]
fn reductions_from_bits_match_definitions() {
    let genomes = vec![vec![true, false, true], vec![true, true, false]];
    let u = [0.5, -0.25];
    let r = reductions_from_bits(&genomes, &u);
    assert_eq!(r.a, vec![0.25, -0.25, 0.5]);
    assert_eq!(r.b, vec![0.3125, 0.0625, 0.25]);
    assert_eq!((r.u1, r.u2, r.population), (0.25, 0.3125, 2));
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
