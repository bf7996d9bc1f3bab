//! Every WGSL kernel against its CPU twin under `src/cpu/` (same name, same loops),
//! compared exactly on random inputs with sizes that divide neither the workgroup nor
//! the word sizes, GPU outputs poisoned (u32::MAX) before each run where the driver API
//! exposes the buffer. `rsnn_core`'s `net_step` is compared substep by substep in
//! `tests/gpu/gpu_network.rs` and not repeated here.
//!
//! The CPU-only half checks the twins among themselves: slicing the episodes
//! (`cpu::episodes`) changes nothing, and the sliced f32 twin runs the CPU
//! evaluator's protocol.

use std::sync::Arc;

use satr::cpu::episodes::{run_episodes, EpisodeParams, TaskStep, WgslTask};
use satr::cpu::{reset_state, rsnn_step, sample_genomes, NetState, PackedNet};
use satr::distribution::{mode_genome, sample_genome, thresholds, words_for};
use satr::evaluation::{GenerationRequest, Normalizer, PopulationEvaluator, TaskFactory};
use satr::network::{Constants, NetworkConfig, Shape};
use satr::tasks::{Action, ActionSpace, Step, Task, TaskError};

use crate::common::xorshift::Rng;

fn shape(neurons: usize, exc_ratio: f64, obs: usize, act: usize) -> (Shape, Constants) {
    let cfg = NetworkConfig {
        neurons,
        exc_ratio,
        ..Default::default()
    };
    let s = Shape::new(&cfg, obs, act);
    (s, Constants::new(&cfg, &s))
}

/// `members` genomes of varied density, member-major.
fn genomes(shape: &Shape, members: usize, salt: u64) -> Vec<u64> {
    let dim = shape.layout().len();
    let mut rng = Rng(0x5EED ^ salt);
    let p: Vec<f64> = (0..dim).map(|_| 0.2 + 0.6 * rng.unit()).collect();
    let th = thresholds(&p);
    let words = words_for(dim);
    let mut g = vec![0u64; words * members];
    for (m, chunk) in g.chunks_mut(words).enumerate() {
        sample_genome(&th, salt, 1, m as u32, chunk);
    }
    g
}

/// A walker on a ring of circumference 4 (quarter steps: exact in f32 and f64), its
/// episode truncated after `LIMIT` steps. The f32 twin of [`RING_WGSL`].
#[derive(Debug, Clone, PartialEq)]
struct Ring {
    s: [f32; 2],
    steps: u32,
}

const LIMIT: u32 = 37;

impl WgslTask for Ring {
    const RESET_UNIFORMS: u32 = 2;
    fn task_reset(u: [f32; 8]) -> Self {
        Ring {
            s: [
                (u[0] * 8.0).floor() * 0.25 - 1.0,
                (u[1] * 4.0).floor() * 0.25 - 0.5,
            ],
            steps: 0,
        }
    }
    fn task_observe(&self, obs: &mut [f32]) {
        obs.copy_from_slice(&self.s);
    }
    fn task_step(&mut self, out: &[f32]) -> TaskStep {
        let vel = (self.s[1] + if out[1] > out[0] { 0.25 } else { -0.25 }).clamp(-1.0, 1.0);
        let mut pos = self.s[0] + vel;
        if pos >= 2.0 {
            pos -= 4.0;
        }
        if pos < -2.0 {
            pos += 4.0;
        }
        self.s = [pos, vel];
        self.steps += 1;
        TaskStep {
            reward: 1.0 - 0.125 * pos.abs(),
            terminated: false,
            truncated: self.steps >= LIMIT,
        }
    }
}

/// The same ring as a CPU task in f64, for the CPU evaluator.
struct Ring64(Ring);

impl Task for Ring64 {
    fn name(&self) -> &'static str {
        "ring"
    }
    fn obs_dim(&self) -> usize {
        2
    }
    fn action_space(&self) -> ActionSpace {
        ActionSpace::Discrete(2)
    }
    fn max_episode_steps(&self) -> usize {
        LIMIT as usize
    }
    fn reset(&mut self, uniform: &mut dyn FnMut() -> f64) {
        // The f32 uniforms of `reset_uniform` (the reader's are word / 2^32 in f64).
        let mut u = [0.0f32; 8];
        for x in &mut u[..2] {
            *x = (uniform() as f32).min(0.999_999_94);
        }
        self.0 = Ring::task_reset(u);
    }
    fn observe(&self, obs: &mut [f64]) {
        obs[0] = self.0.s[0] as f64;
        obs[1] = self.0.s[1] as f64;
    }
    fn step(&mut self, action: Action<'_>) -> Result<Step, TaskError> {
        let Action::Discrete(a) = action else {
            return Err(TaskError::InvalidAction {
                task: "ring",
                reason: "continuous".into(),
            });
        };
        let s = self.0.task_step(&[0.0, if a == 1 { 1.0 } else { -1.0 }]);
        Ok(Step {
            reward: s.reward as f64,
            terminated: s.terminated,
            truncated: s.truncated,
        })
    }
    fn state(&self) -> Vec<f64> {
        self.0.s.iter().map(|&x| x as f64).collect()
    }
    fn set_state(&mut self, state: &[f64]) -> Result<(), TaskError> {
        self.0.s = [state[0] as f32, state[1] as f32];
        Ok(())
    }
}

/// Dyadic normaliser: exact in f32 and f64.
fn normalizer() -> Normalizer {
    Normalizer {
        mean: vec![0.5, -0.25],
        inv_std: vec![0.5, 2.0],
        clip: 3.0,
    }
}

fn norm_f32(n: &Normalizer) -> Vec<f32> {
    n.mean.iter().chain(&n.inv_std).map(|&x| x as f32).collect()
}

fn episode_params(episodes: u32, max_steps: u32, units: u32) -> EpisodeParams {
    EpisodeParams {
        episodes,
        max_steps,
        clip: 3.0,
        units,
    }
}

#[test]
fn slicing_the_episodes_changes_nothing() {
    for (neurons, members) in [(37, 5), (70, 3), (129, 2)] {
        let (s, c) = shape(neurons, 0.5, 2, 2);
        let g = genomes(&s, members, neurons as u64);
        let words = words_for(s.layout().len());
        let norm = norm_f32(&normalizer());
        for m in 0..members {
            let net = PackedNet::from_genome(s, &g[m * words..(m + 1) * words]);
            // Time's up at 30 (before the task's limit) and truncation at 37.
            for max_steps in [30, 50] {
                let run = |units| {
                    let p = episode_params(3, max_steps, units);
                    run_episodes::<Ring>(&net, &c, &p, &norm, 9, 2, m as u32)
                };
                let whole = run(u32::MAX);
                assert_eq!(whole.0.episodes, 3);
                assert!(whole.0.steps > 0);
                // Not divisors of the work, 3 * (max_steps + 1): see the next test.
                for units in [2, 5, 7, 38, 64, 100] {
                    assert_ne!(3 * (max_steps + 1) % units, 0);
                    assert_eq!(run(units), whole, "N={neurons} member {m} units {units}");
                }
            }
        }
    }
}

/// Regression: when every episode runs to `max_steps` and the work,
/// `episodes * (max_steps + 1)`, is a multiple of the units per dispatch, the last
/// dispatch ends right after the last step. The time's-up close costs no unit; it
/// used to come after the `units == 0` test, so the last episode stayed open, its
/// return was never added and the host reported one episode short. The close now
/// comes first, in the twin as in `episodes.wgsl`.
#[test]
fn work_filling_the_last_dispatch_closes_the_last_episode() {
    let (s, c) = shape(37, 0.5, 2, 2);
    let g = genomes(&s, 1, 37);
    let net = PackedNet::from_genome(s, &g);
    let norm = norm_f32(&normalizer());
    let (whole, _) = run_episodes::<Ring>(&net, &c, &episode_params(3, 30, 10_000), &norm, 9, 2, 0);
    assert_eq!((whole.episodes, whole.steps), (3, 90));
    for units in [1, 3, 31, 93] {
        let (r, carry) =
            run_episodes::<Ring>(&net, &c, &episode_params(3, 30, units), &norm, 9, 2, 0);
        assert_eq!((r.episodes, r.steps), (3, 90), "units {units}");
        assert!(!carry.open, "units {units}");
        assert_eq!(r.total.to_bits(), whole.total.to_bits(), "units {units}");
    }
}

#[test]
fn episode_twin_runs_the_cpu_evaluators_protocol() {
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let factory: TaskFactory = Arc::new(|| {
        Box::new(Ring64(Ring {
            s: [0.0; 2],
            steps: 0,
        }))
    });
    let mut cpu = satr::cpu::CpuEvaluator::new(&cfg, factory);
    let s = cpu.shape();
    let c = Constants::new(&cfg, &s);
    let dim = s.layout().len();
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.15 + 0.7 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    let norm = normalizer();
    let req = GenerationRequest::new(99, 4, &p, &th, &norm, 6, 30).with_eval(0, 2);
    let outcomes = cpu.evaluate_members(&req, 0..6).unwrap();
    let words = words_for(dim);
    let mut g = vec![0u64; words];
    let ep = EpisodeParams {
        episodes: 2,
        max_steps: 30,
        clip: 3.0,
        units: 17,
    };
    for (m, o) in outcomes.iter().enumerate() {
        sample_genome(&th, 99, 4, m as u32, &mut g);
        let net = PackedNet::from_genome(s, &g);
        let (r, _) = run_episodes::<Ring>(&net, &c, &ep, &norm_f32(&norm), 99, 4, m as u32);
        assert_eq!(r.total as f64 / 2.0, o.fitness, "member {m} fitness");
        assert_eq!(r.steps as u64, o.env_steps, "member {m} steps");
        assert_eq!(r.count as u64, o.obs_stats.count, "member {m} observations");
        for j in 0..2 {
            let (a, b) = (r.mean[j] as f64, o.obs_stats.mean[j]);
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "mean {a} vs {b}");
        }
    }
}

#[test]
fn batch_step_leaves_dead_members_alone() {
    let (s, c) = shape(70, 0.5, 5, 3);
    let members = 5;
    let g = genomes(&s, members, 3);
    let words = words_for(s.layout().len());
    let nets: Vec<PackedNet> = g
        .chunks(words)
        .map(|g| PackedNet::from_genome(s, g))
        .collect();
    let mut states: Vec<NetState> = (0..members)
        .map(|m| {
            let mut st = NetState::new(&s);
            reset_state(&c, 1, 0, m as u32, 0, &mut st);
            st
        })
        .collect();
    let mut out = vec![f32::NAN; members * 3];
    let obs = vec![1.5f32; members * 5];
    let alive = [1, 0, 1, 0, 0];
    let before = states.clone();
    rsnn_step(&nets, &c, &obs, &alive, &mut states, &mut out);
    for m in 0..members {
        if alive[m] == 0 {
            assert_eq!(states[m], before[m]);
            assert!(out[m * 3..(m + 1) * 3].iter().all(|x| x.is_nan()));
        } else {
            let mut st = before[m].clone();
            let mut o = [0.0f32; 3];
            satr::cpu::net_step(&nets[m], &c, &obs[m * 5..(m + 1) * 5], &mut st, &mut o);
            assert_eq!(states[m], st);
            assert_eq!(&out[m * 3..(m + 1) * 3], &o);
        }
    }
}

/// Batch sampling of a range with eval members (past `population`) as the CPU twin
/// does it, for the GPU comparison.
fn sample_range(
    dim: usize,
    population: usize,
    offset: usize,
    members: usize,
) -> (Vec<u32>, Vec<u64>, Vec<u64>) {
    let mut rng = Rng(dim as u64);
    let p: Vec<f64> = (0..dim).map(|_| rng.unit()).collect();
    let th = thresholds(&p);
    let mode = mode_genome(&p);
    let mut out = vec![u64::MAX; words_for(dim) * members];
    sample_genomes(&th, &mode, 42, 7, population, offset, &mut out);
    (th, mode, out)
}

#[cfg(feature = "gpu")]
mod gpu;
