//! A policy outside training: its episodes equal the evaluator's eval members', its
//! spikes and synaptic operations are counted right, and training and `satr eval`
//! report the cost figures.

use crate::common;

use common::cli::{ok, satr, train};
use common::xorshift::Rng as XorShift;
use satr::config::Config;
use satr::cpu::{CpuEvaluator, NetState};
use satr::distribution;
use satr::evaluation::{GenerationRequest, Normalizer, ObsStats, PopulationEvaluator};
use satr::policy::cost::CostCounter;
use satr::policy::episodes::{EpisodeKey, Runner};
use satr::policy::Policy;

/// A pendulum policy with N 100 of which 37 excitatory (neither a multiple of 64), a
/// random distribution and made-up observation statistics.
fn policy(seed: u64) -> (Config, Vec<f64>, ObsStats, Policy) {
    let mut cfg = Config {
        task: "pendulum".into(),
        seed,
        ..Default::default()
    };
    cfg.network.neurons = 100;
    cfg.network.exc_ratio = 0.37;
    cfg.network.k_h = 2.0;
    let dim = cfg.shape().unwrap().layout().len();
    let mut rng = XorShift((seed + 1) | 1);
    let p: Vec<f64> = (0..dim).map(|_| rng.unit()).collect();
    let mut stats = ObsStats::new(3);
    for _ in 0..50 {
        stats.push(&[
            rng.unit() - 0.5,
            rng.unit() * 2.0 - 1.0,
            8.0 * rng.unit() - 4.0,
        ]);
    }
    let task = cfg.resolve_task().unwrap();
    let policy = Policy::new(&cfg, &task, &p, &stats, 3).unwrap();
    (cfg, p, stats, policy)
}

#[test]
fn runner_episodes_are_the_evaluators_eval_members() {
    let (cfg, p, stats, policy) = policy(7);
    let factory = cfg.resolve_task().unwrap().factory().unwrap();
    let mut evaluator = CpuEvaluator::new(&cfg.network, factory);
    let th = distribution::thresholds(&p);
    let norm = Normalizer::from_stats(&stats, cfg.evaluation.clip_obs);
    let (population, eval, episodes) = (3, 4, 2);
    let req = GenerationRequest::new(cfg.seed, 3, &p, &th, &norm, population, 60)
        .with_eval(eval, episodes);
    let want = evaluator.evaluate(&req).unwrap().eval;
    let mut runner = Runner::new(&policy).unwrap();
    for (e, want) in want.iter().enumerate() {
        let member = (population + e) as u32;
        let mut total = 0.0;
        for episode in 0..episodes as u32 {
            let key = EpisodeKey {
                seed: cfg.seed,
                generation: 3,
                member,
                episode,
            };
            let mut rewards = 0.0;
            let s = runner
                .episode(key, 60, |step| rewards += step.reward)
                .unwrap();
            assert_eq!(
                s.ret, rewards,
                "member {member}: return = sum of the rewards"
            );
            assert_eq!(s.steps, 60);
            total += s.ret;
        }
        assert_eq!(total / episodes as f64, *want, "member {member}");
    }
}

#[test]
fn spikes_and_operations_are_counted_per_neuron() {
    let (_, _, _, policy) = policy(11);
    let s = policy.shape;
    let mut rng = XorShift(5);
    let mut counter = CostCounter::new(&policy);
    let mut state = NetState::new(&s);
    let (mut spikes, mut ops) = (0u64, 0u64);
    for _ in 0..20 {
        // Random spikes in every word, the padding bits of the last words left clear.
        let mut z = vec![false; s.neurons];
        for (n, zn) in z.iter_mut().enumerate() {
            *zn = rng.unit() < 0.3;
            let (words, bit) = if n < s.n_exc {
                (&mut state.z_exc, n)
            } else {
                (&mut state.z_inh, n - s.n_exc)
            };
            let w = &mut words[bit / 64];
            *w = (*w & !(1 << (bit % 64))) | ((*zn as u64) << (bit % 64));
        }
        let got = counter.substep(&state);
        let want = z.iter().filter(|&&b| b).count() as u64;
        assert_eq!(got, want);
        spikes += want;
        for (j, _) in z.iter().enumerate().filter(|(_, &b)| b) {
            ops += (0..s.neurons).filter(|&k| policy.w_h(j, k)).count() as u64;
        }
    }
    counter.env_step();
    let c = counter.cost();
    assert_eq!(c.spikes_per_step, spikes as f64);
    assert_eq!(c.recurrent_ops_per_step, ops as f64);
    let inputs = (0..2 * s.obs_dim)
        .map(|j| (0..s.neurons).filter(|&n| policy.w_in(j, n)).count())
        .sum::<usize>();
    assert_eq!(c.input_ops_per_step, inputs as f64);
    assert_eq!(
        c.synaptic_ops_per_step,
        (ops + inputs as u64) as f64 + c.readout_ops_per_step
    );
    let ones: usize = (0..s.layout().len())
        .filter(|&i| distribution::bit(&policy.genome, i))
        .count();
    assert_eq!(c.density, ones as f64 / s.layout().len() as f64);
    assert_eq!(
        c.firing_rate,
        spikes as f64 / (s.neurons * s.substeps) as f64
    );
}

#[test]
fn episode_spikes_add_up_to_the_cost() {
    let (_, _, _, policy) = policy(3);
    let mut runner = Runner::new(&policy).unwrap();
    let mut spikes = 0;
    let key = EpisodeKey {
        seed: 1,
        generation: 0,
        member: 0,
        episode: 0,
    };
    let s = runner
        .episode(key, 50, |step| spikes += step.spikes)
        .unwrap();
    let c = runner.cost();
    assert_eq!(c.env_steps, s.steps as u64);
    assert!(spikes > 0, "the test policy must spike");
    assert_eq!(c.spikes_per_step * s.steps as f64, spikes as f64);
}

#[test]
fn training_and_eval_report_the_cost() {
    let out = tempfile::tempdir().unwrap();
    ok(&train(out.path(), "cost", 2, &["--set", "network.k_h=2.0"]));
    let run = out.path().join("cost");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    for line in metrics.lines() {
        let m: serde_json::Value = serde_json::from_str(line).unwrap();
        let rate = m["firing_rate"].as_f64().expect("firing_rate");
        assert!((0.0..=1.0).contains(&rate), "{m}");
        let density = m["density"].as_f64().expect("density");
        let ops = m["synaptic_ops_per_step"]
            .as_f64()
            .expect("synaptic_ops_per_step");
        assert!(m["spikes_per_step"].as_f64().is_some(), "{m}");
        if m["generation"] == 0 {
            // p = 0.5 everywhere: the mode genome (p > 0.5) has no connection yet.
            assert_eq!((density, ops, rate), (0.0, 0.0, 0.0), "{m}");
        } else {
            assert!(density > 0.0 && density < 1.0, "{m}");
            assert!(ops > 0.0, "{m}");
        }
    }
    let transcript = out.path().join("t.jsonl");
    let o = satr(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--episodes",
        "3",
        "--transcript",
        transcript.to_str().unwrap(),
    ]);
    ok(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cost = &report["cost"];
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&transcript)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let steps: Vec<_> = lines.iter().filter(|l| l.get("step").is_some()).collect();
    assert_eq!(cost["env_steps"].as_u64().unwrap(), steps.len() as u64);
    let spikes: u64 = steps.iter().map(|l| l["spikes"].as_u64().unwrap()).sum();
    assert_eq!(
        cost["spikes_per_step"].as_f64().unwrap(),
        spikes as f64 / steps.len() as f64
    );
    // The transcript's returns are the evaluation's.
    let returns: Vec<f64> = lines
        .iter()
        .filter_map(|l| l.get("return").and_then(|r| r.as_f64()))
        .collect();
    assert_eq!(returns.len(), 3);
    let mean = returns.iter().sum::<f64>() / 3.0;
    assert_eq!(report["mean_return"].as_f64().unwrap(), mean);
}

#[test]
fn cost_figures_off_leaves_them_null_and_training_unchanged() {
    let out = tempfile::tempdir().unwrap();
    ok(&train(out.path(), "on", 3, &[]));
    ok(&train(
        out.path(),
        "off",
        3,
        &["--set", "evaluation.cost_figures=false"],
    ));
    let read = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(out.path().join(name).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (on, off) = (read("on"), read("off"));
    assert_eq!(on.len(), 3);
    assert_eq!(on.len(), off.len());
    let cost = [
        "spikes_per_step",
        "firing_rate",
        "synaptic_ops_per_step",
        "density",
    ];
    for (a, b) in on.iter().zip(&off) {
        for (k, v) in a.as_object().unwrap() {
            if cost.contains(&k.as_str()) {
                assert!(v.is_number(), "{k} on: {a}");
                assert!(b[k].is_null(), "{k} off: {b}");
            } else if k != "wall_s" && k != "env_steps_per_s" {
                assert_eq!(v, &b[k], "{k}");
            }
        }
    }
}
