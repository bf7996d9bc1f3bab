//! The bitset engine against a plain, obviously-correct reference of SPEC 1 written
//! with bool matrices and sums over bits. They must agree exactly: integer counts,
//! spikes and every f32 state variable, substep by substep, with recurrent spikes
//! propagated dense, event-driven, and chosen per spike word (the default).

use satr::cpu::{self, NetState, PackedNet, Propagation};
use satr::distribution::{bit, sample_genome, thresholds, words_for};
use satr::network::{Constants, NetworkConfig, Shape};
use satr::rng;

/// The plain reference network: weights as bool matrices, state as f32 vectors.
struct Reference {
    shape: Shape,
    w_in: Vec<Vec<bool>>,  // [2d][N]
    w_h: Vec<Vec<bool>>,   // [N][N], [pre][post]
    w_out: Vec<Vec<bool>>, // [N][a]
    v: Vec<f32>,
    i_syn: Vec<f32>,
    rate: Vec<f32>,
    i_in: Vec<f32>,
    z: Vec<bool>,
    counts: Vec<i32>,
}

impl Reference {
    fn new(shape: Shape, genome: &[u64]) -> Self {
        let l = shape.layout();
        let n = shape.neurons;
        Reference {
            shape,
            w_in: (0..2 * shape.obs_dim)
                .map(|j| (0..n).map(|i| bit(genome, l.w_in(j, i))).collect())
                .collect(),
            w_h: (0..n)
                .map(|j| (0..n).map(|i| bit(genome, l.w_h(j, i))).collect())
                .collect(),
            w_out: (0..n)
                .map(|i| {
                    (0..shape.act_dim)
                        .map(|k| bit(genome, l.w_out(i, k)))
                        .collect()
                })
                .collect(),
            v: vec![0.0; n],
            i_syn: vec![0.0; n],
            rate: vec![0.0; n],
            i_in: vec![0.0; n],
            z: vec![false; n],
            counts: vec![0; n],
        }
    }

    fn reset(&mut self, c: &Constants, seed: u64, g: u32, member: u32, episode: u32) {
        let stream = rng::stream_word(rng::STREAM_POTENTIAL, episode);
        for i in 0..self.shape.neurons {
            let word = rng::block(seed, g, member, stream, (i / 4) as u32)[i % 4];
            self.v[i] = c.v_reset + c.v_span * rng::unit_f32(word);
        }
        self.i_syn.fill(0.0);
        self.rate.fill(0.0);
        self.z.fill(false);
    }

    fn input(&mut self, c: &Constants, x: &[f32]) {
        let d = self.shape.obs_dim;
        for n in 0..self.shape.neurons {
            let mut acc = 0.0f32;
            for j in 0..2 * d {
                let xt = if j < d { x[j] } else { -x[j - d] };
                acc += if self.w_in[j][n] { xt } else { 0.0 };
            }
            self.i_in[n] = c.r_in * acc;
        }
    }

    fn substep(&mut self, c: &Constants) {
        let n = self.shape.neurons;
        let n_exc = self.shape.n_exc;
        for post in 0..n {
            let mut exc = 0i32;
            let mut inh = 0i32;
            for pre in 0..n {
                if self.z[pre] && self.w_h[pre][post] {
                    if pre < n_exc {
                        exc += 1;
                    } else {
                        inh += 1;
                    }
                }
            }
            self.counts[post] = exc - inh;
        }
        // Subnormal state values are stored as zero (SPEC 1).
        let flush = |x: f32| if x.abs() < f32::MIN_POSITIVE { 0.0 } else { x };
        for i in 0..n {
            let i_spk = c.r_h * self.counts[i] as f32;
            self.i_syn[i] = flush(c.alpha_syn * self.i_syn[i] + i_spk);
            let target = c.v_reset + self.i_syn[i] + self.i_in[i];
            self.v[i] = flush(target + c.alpha_v * (self.v[i] - target));
            self.z[i] = self.v[i] > c.v_threshold;
            if self.z[i] {
                self.v[i] = c.v_reset;
            }
            let sigma = if i < n_exc { 1.0f32 } else { -1.0 };
            let r_target = if self.z[i] { sigma * c.spike_rate } else { 0.0 };
            self.rate[i] = flush(r_target + c.alpha_out * (self.rate[i] - r_target));
        }
    }

    fn output(&self, c: &Constants) -> Vec<f32> {
        (0..self.shape.act_dim)
            .map(|k| {
                let mut acc = 0.0f32;
                for n in 0..self.shape.neurons {
                    acc += if self.w_out[n][k] { self.rate[n] } else { 0.0 };
                }
                c.r_out * acc
            })
            .collect()
    }
}

fn spikes_of(s: &NetState, shape: &Shape) -> Vec<bool> {
    (0..shape.neurons)
        .map(|i| {
            if i < shape.n_exc {
                bit(&s.z_exc, i)
            } else {
                bit(&s.z_inh, i - shape.n_exc)
            }
        })
        .collect()
}

fn check(neurons: usize, exc_ratio: f64, obs_dim: usize, act_dim: usize, seed: u64) {
    for p in [Propagation::Dense, Propagation::Event, Propagation::Auto] {
        check_with(neurons, exc_ratio, obs_dim, act_dim, seed, p);
    }
}

fn check_with(
    neurons: usize,
    exc_ratio: f64,
    obs_dim: usize,
    act_dim: usize,
    seed: u64,
    propagation: Propagation,
) {
    let cfg = NetworkConfig {
        neurons,
        exc_ratio,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, obs_dim, act_dim);
    let c = Constants::new(&cfg, &shape);
    let dim = shape.layout().len();
    // Coordinates of varied density, so some neurons fire a lot and others never.
    let p: Vec<f64> = (0..dim)
        .map(|i| rng::unit_f64(rng::rng_u32(seed ^ 0xABCD, 0, 0, i as u32)))
        .collect();
    let mut genome = vec![0u64; words_for(dim)];
    sample_genome(&thresholds(&p), seed, 0, 3, &mut genome);
    let net = PackedNet::from_genome(shape, &genome).with_propagation(propagation);
    let mut reference = Reference::new(shape, &genome);
    let mut state = NetState::new(&shape);
    // Poison the state so anything reset forgets to write shows.
    state.v.fill(f32::NAN);
    state.i_syn.fill(f32::NAN);
    state.rate.fill(f32::NAN);
    state.counts.fill(i32::MIN);
    state.reset(&c, seed, 0, 3, 1);
    reference.reset(&c, seed, 0, 3, 1);
    assert_eq!(state.v, reference.v);

    let mut total_spikes = 0u64;
    let mut substeps = 0;
    let mut out = vec![f32::NAN; act_dim];
    for step in 0..6 {
        let x: Vec<f32> = (0..obs_dim)
            .map(|j| {
                let u = rng::unit_f32(rng::rng_u32(seed, 1, step, j as u32));
                (u - 0.5) * 6.0
            })
            .collect();
        cpu::input_projection(&net, &c, &x, &mut state);
        reference.input(&c, &x);
        assert_eq!(state.i_in, reference.i_in, "i_in at step {step}");
        for _ in 0..shape.substeps {
            cpu::substep(&net, &c, &mut state);
            reference.substep(&c);
            substeps += 1;
            assert_eq!(
                state.counts, reference.counts,
                "{propagation:?}: counts at substep {substeps}"
            );
            assert_eq!(
                spikes_of(&state, &shape),
                reference.z,
                "spikes at substep {substeps}"
            );
            assert_eq!(state.v, reference.v, "v at substep {substeps}");
            assert_eq!(state.i_syn, reference.i_syn, "i_syn at substep {substeps}");
            assert_eq!(state.rate, reference.rate, "rate at substep {substeps}");
            total_spikes += reference.z.iter().filter(|&&z| z).count() as u64;
        }
        cpu::output_projection(&net, &c, &state, &mut out);
        assert_eq!(out, reference.output(&c), "output at step {step}");
    }
    assert!(substeps >= 100);
    let possible = (substeps * neurons) as u64;
    assert!(
        total_spikes > 0 && total_spikes < possible,
        "degenerate activity: {total_spikes} of {possible}"
    );

    // net_step (the dispatching entry point) equals the pieces above.
    let mut a = NetState::new(&shape);
    let mut b = NetState::new(&shape);
    a.reset(&c, seed, 0, 3, 0);
    b.reset(&c, seed, 0, 3, 0);
    let x = vec![0.7f32; obs_dim];
    let mut out_a = vec![0.0; act_dim];
    let mut out_b = vec![0.0; act_dim];
    cpu::net_step(&net, &c, &x, &mut a, &mut out_a);
    cpu::input_projection(&net, &c, &x, &mut b);
    for _ in 0..shape.substeps {
        cpu::substep(&net, &c, &mut b);
    }
    cpu::output_projection(&net, &c, &b, &mut out_b);
    assert_eq!(out_a, out_b);
    assert_eq!(a.v, b.v);
}

#[test]
fn bitset_matches_reference_default_size() {
    check(256, 0.5, 11, 3, 1);
}

#[test]
fn bitset_matches_reference_odd_sizes() {
    // N not a multiple of 32 or 64, excitatory split off word boundaries.
    check(37, 0.5, 3, 2, 2);
    check(100, 0.8, 4, 1, 3);
    check(130, 0.3, 2, 3, 4);
    check(65, 1.0, 1, 2, 5);
    check(70, 0.0, 5, 2, 6);
}

#[test]
fn subnormal_state_is_stored_as_zero_like_the_reference() {
    // A silent network whose currents and rates decay through the smallest normal
    // floats: every step, engine and reference agree, and no state value is subnormal.
    let cfg = NetworkConfig {
        neurons: 70,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 2, 1);
    let c = Constants::new(&cfg, &shape);
    let genome = vec![0u64; words_for(shape.layout().len())];
    for propagation in [Propagation::Dense, Propagation::Event] {
        let net = PackedNet::from_genome(shape, &genome).with_propagation(propagation);
        let mut reference = Reference::new(shape, &genome);
        let mut state = NetState::new(&shape);
        for i in 0..shape.neurons {
            let tiny = f32::MIN_POSITIVE * (1.0 + i as f32 / 8.0);
            state.i_syn[i] = tiny;
            state.rate[i] = -tiny;
            state.v[i] = tiny * 3.0;
        }
        reference.i_syn = state.i_syn.clone();
        reference.rate = state.rate.clone();
        reference.v = state.v.clone();
        let mut flushed = 0;
        for step in 0..100 {
            cpu::substep(&net, &c, &mut state);
            reference.substep(&c);
            assert_eq!(state.i_syn, reference.i_syn, "i_syn at substep {step}");
            assert_eq!(state.v, reference.v, "v at substep {step}");
            assert_eq!(state.rate, reference.rate, "rate at substep {step}");
            for x in state.i_syn.iter().chain(&state.v).chain(&state.rate) {
                assert!(!x.is_subnormal(), "subnormal {x:e} at substep {step}");
            }
            flushed = state.rate.iter().filter(|&&r| r == 0.0).count();
        }
        assert_eq!(flushed, shape.neurons, "every rate decayed to zero");
    }
}
