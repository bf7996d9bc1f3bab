//! The sampling contract (SPEC 3): bit frequencies follow p, genomes regenerate from
//! (seed, generation, member) alone, and evaluation does not depend on thread count.

use std::sync::Arc;

use satr::cpu::CpuEvaluator;
use satr::distribution::{bit, reductions, sample_genome, thresholds, words_for};
use satr::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use satr::network::NetworkConfig;
use satr::tasks::make_task;

#[test]
fn bit_frequencies_match_p_chi_square() {
    let ps = [0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999];
    let d = ps.len() * 997; // not a multiple of 64
    let p: Vec<f64> = (0..d).map(|i| ps[i % ps.len()]).collect();
    let th = thresholds(&p);
    let members = 400;
    let mut ones = vec![0u64; ps.len()];
    let mut g = vec![0u64; words_for(d)];
    for k in 0..members {
        sample_genome(&th, 12345, 7, k, &mut g);
        for i in 0..d {
            if bit(&g, i) {
                ones[i % ps.len()] += 1;
            }
        }
    }
    let n = (members as usize * d / ps.len()) as f64;
    let chi2: f64 = ps
        .iter()
        .zip(&ones)
        .map(|(&p, &o)| {
            let e = n * p;
            (o as f64 - e).powi(2) / (e * (1.0 - p))
        })
        .sum();
    // 9 degrees of freedom: P(chi2 > 27.88) = 0.001.
    assert!(chi2 < 27.88, "chi-square {chi2} (counts {ones:?}, n {n})");
    // And the statistic is not suspiciously small (a broken sampler returning exactly
    // n p would give 0): P(chi2 < 1.15) = 0.001.
    assert!(chi2 > 1.15, "chi-square {chi2} too small");
}

#[test]
fn genomes_regenerate_from_seed_generation_member() {
    let d = 1000;
    let p: Vec<f64> = (0..d).map(|i| (i % 10) as f64 / 10.0 + 0.05).collect();
    let th = thresholds(&p);
    let mut a = vec![0u64; words_for(d)];
    let mut b = vec![0u64; words_for(d)];
    sample_genome(&th, 5, 9, 31, &mut a);
    b.fill(u64::MAX); // poison
    sample_genome(&th, 5, 9, 31, &mut b);
    assert_eq!(a, b);
    for (s, g, k) in [(6, 9, 31), (5, 10, 31), (5, 9, 32)] {
        sample_genome(&th, s, g, k, &mut b);
        assert_ne!(a, b, "({s}, {g}, {k}) gave the same genome");
    }
}

fn request<'a>(p: &'a [f64], th: &'a [u32], norm: &'a Normalizer) -> GenerationRequest<'a> {
    GenerationRequest::new(77, 3, p, th, norm, 21, 60).with_eval(3, 2)
}

#[test]
fn cpu_evaluation_is_independent_of_threads_and_regenerates_genomes() {
    let cfg = NetworkConfig {
        neurons: 40,
        ..Default::default()
    };
    let factory: satr::evaluation::TaskFactory = Arc::new(|| make_task("cartpole").unwrap());
    let shape = CpuEvaluator::new(&cfg, factory.clone()).shape();
    let dim = shape.layout().len();
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.2 + 0.6 * ((i * 7919) % 101) as f64 / 100.0)
        .collect();
    let th = thresholds(&p);
    let mut stats = ObsStats::new(shape.obs_dim);
    stats.push(&[0.1, -0.2, 0.03, 0.5]);
    stats.push(&[-0.1, 0.3, -0.02, -0.4]);
    let norm = Normalizer::from_stats(&stats, 5.0);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut ev = CpuEvaluator::new(&cfg, factory.clone());
            let req = request(&p, &th, &norm);
            let fit = ev.evaluate(&req).unwrap();
            let u: Vec<f64> = (0..req.population).map(|k| k as f64 / 20.0 - 0.5).collect();
            let red = ev.reductions(&req, &u).unwrap();
            (fit, red, u)
        })
    };
    let (fit1, red1, u) = run(1);
    let (fit3, red3, _) = run(3);
    assert_eq!(fit1, fit3);
    assert_eq!(red1, red3);
    assert_eq!(fit1.train.len(), 21);
    assert_eq!(fit1.eval.len(), 3);
    assert!(fit1.env_steps > 0);
    // Eval members share the mode genome but not their environment seeds.
    assert!(fit1.eval.iter().any(|&r| r != fit1.eval[0]) || fit1.eval[0] == 60.0);
    // The reductions equal those of genomes regenerated from (seed, generation, k).
    let words = words_for(dim);
    let mut genomes = vec![0u64; words * 21];
    for k in 0..21 {
        sample_genome(
            &th,
            77,
            3,
            k as u32,
            &mut genomes[k * words..(k + 1) * words],
        );
    }
    assert_eq!(reductions(&genomes, dim, &u), red1);
    // Evaluating the members in uneven shares (an empty one too) gives the same generation.
    let mut ev = CpuEvaluator::new(&cfg, factory.clone());
    let req = request(&p, &th, &norm);
    let mut outcomes = Vec::new();
    for r in [0..5, 5..5, 5..22, 22..24] {
        outcomes.extend(ev.evaluate_members(&req, r).unwrap());
    }
    let assembled = satr::evaluation::GenerationFitness::from_members(21, shape.obs_dim, &outcomes);
    assert_eq!(assembled, fit1);
    assert_eq!(ev.reductions(&req, &u).unwrap(), red1);
    // A fresh evaluator asked only for reductions regenerates the same genomes.
    let mut fresh = CpuEvaluator::new(&cfg, factory);
    assert_eq!(
        fresh.reductions(&request(&p, &th, &norm), &u).unwrap(),
        red1
    );
}

#[test]
fn batch_sampling_is_per_member_sampling_and_eval_members_take_the_mode() {
    let d = 203; // not a multiple of 64
    let p: Vec<f64> = (0..d).map(|i| ((i * 37) % 100) as f64 / 100.0).collect();
    let th = thresholds(&p);
    let mode = satr::distribution::mode_genome(&p);
    let words = words_for(d);
    let (population, offset, members) = (9, 4, 7);
    let mut batch = vec![u64::MAX; words * members];
    satr::cpu::sample_genomes(&th, &mode, 5, 2, population, offset, &mut batch);
    let mut one = vec![0u64; words];
    for (local, g) in batch.chunks(words).enumerate() {
        let member = offset + local;
        if member < population {
            sample_genome(&th, 5, 2, member as u32, &mut one);
            assert_eq!(g, &one[..], "member {member}");
        } else {
            assert_eq!(g, &mode[..], "eval member {member}");
        }
    }
}
