//! Twin of `shaders/episodes.wgsl`: full-generation mode, every episode of a member
//! with the task stepped beside the network, cut into slices of at most `units` units
//! of work (an environment step or an episode reset) with the state carried from one
//! slice (one dispatch on the GPU) to the next.
//!
//! Same loop as the shader's `main`, with its f32 arithmetic: the task is a
//! [`WgslTask`] (the f32 interface of `shaders/task_<name>.wgsl`), the normaliser and
//! the Welford statistics are f32, the reset uniforms come from the reset stream as
//! `reset_uniform` makes them. [`episodes`] is one dispatch for one member;
//! [`run_episodes`] is the host loop of `gpu/episodes.rs` around it (a zero carry,
//! then a fixed number of dispatches). Slicing must not change anything, and the
//! results must equal the kernel's (`tests/engine/cpu_twins.rs`).
//!
//! The CPU evaluator does not use this (it runs f64 tasks through
//! [`crate::evaluation::MemberEpisodes`], which needs no slicing).

use super::{net_step, reset_state, NetState, PackedNet};
use crate::network::Constants;
use crate::rng::{self, STREAM_RESET};

/// One step's outcome in a [`WgslTask`] (the shader's `TaskStep`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TaskStep {
    pub reward: f32,
    pub terminated: bool,
    pub truncated: bool,
}

/// A task in f32 with the interface `episodes.wgsl` composes in (`TASK_RESET_UNIFORMS`,
/// `task_reset`, `task_observe`, `task_step`); the value is the shader's `TaskState`.
pub trait WgslTask: Clone {
    /// `TASK_RESET_UNIFORMS`: uniforms `task_reset` reads (at most 8).
    const RESET_UNIFORMS: u32;
    /// A new episode's state from reset uniforms in `[0, 1)`.
    fn task_reset(u: [f32; 8]) -> Self;
    /// The observation (`TASK_OBS_DIM` values).
    fn task_observe(&self, obs: &mut [f32]);
    /// One step with the raw network outputs (`TASK_ACT_DIM` values).
    fn task_step(&mut self, out: &[f32]) -> TaskStep;
}

/// Mirrors `EpisodeParams` of the shader (and `gpu::plan::EpisodeParams`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodeParams {
    /// Episodes per member.
    pub episodes: u32,
    /// Steps per episode at most.
    pub max_steps: u32,
    /// Normaliser clip.
    pub clip: f32,
    /// Units of work (steps or resets) per dispatch, at least 1.
    pub units: u32,
}

/// One member's `results` words: summed return, steps, observations counted, episodes
/// completed, and the Welford mean and m2 of the observations (all f32 as on the GPU).
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeResults {
    pub total: f32,
    pub steps: u32,
    pub count: u32,
    pub episodes: u32,
    pub mean: Vec<f32>,
    pub m2: Vec<f32>,
}

impl EpisodeResults {
    /// The zeroed results the host clears before the first dispatch.
    pub fn new(obs_dim: usize) -> Self {
        EpisodeResults {
            total: 0.0,
            steps: 0,
            count: 0,
            episodes: 0,
            mean: vec![0.0; obs_dim],
            m2: vec![0.0; obs_dim],
        }
    }
}

/// One member's `carry` words: the episode position, the open episode's return and
/// task state, and the network state (`v`, `i_syn`, `rate`, spikes; `i_in` and counts
/// ride along but each step overwrites them before reading).
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeCarry<T> {
    pub episode: u32,
    pub step: u32,
    pub open: bool,
    pub ret: f32,
    /// `None` until the first reset (the shader's zeroed `TaskState`, never read).
    pub task: Option<T>,
    pub state: NetState,
}

impl<T> EpisodeCarry<T> {
    /// The zeroed carry the host clears before the first dispatch.
    pub fn new(net: &PackedNet) -> Self {
        EpisodeCarry {
            episode: 0,
            step: 0,
            open: false,
            ret: 0.0,
            task: None,
            state: NetState::new(&net.shape),
        }
    }
}

/// A reset uniform from a stream word: rounded to f32 and kept below 1 (the shader's
/// `reset_uniform`).
pub fn reset_uniform(word: u32) -> f32 {
    (word as f32 * (1.0 / 4_294_967_296.0)).min(0.999_999_94)
}

/// One dispatch for one member (the shader's `main`): resumes from `carry`, does at
/// most `p.units` units of work, and leaves `carry` and `results` for the next one (a
/// no-op once every episode is through). `norm` is the frozen normaliser in f32,
/// `mean[d]` then `inv_std[d]`.
#[allow(clippy::too_many_arguments)]
pub fn episodes<T: WgslTask>(
    net: &PackedNet,
    c: &Constants,
    p: &EpisodeParams,
    norm: &[f32],
    seed: u64,
    generation: u32,
    member: u32,
    carry: &mut EpisodeCarry<T>,
    results: &mut EpisodeResults,
) {
    let d = net.shape.obs_dim;
    assert_eq!(norm.len(), 2 * d, "normaliser length");
    let mut obs = vec![0.0f32; d];
    let mut x = vec![0.0f32; d];
    let mut out = vec![0.0f32; net.shape.act_dim];
    let (mut e, mut t, mut open) = (carry.episode, carry.step, carry.open);
    let mut units = p.units;
    loop {
        if e >= p.episodes {
            break;
        }
        if open && t >= p.max_steps {
            // Time's up (max_steps may be below the task's own limit). Costs no unit, so
            // it comes before the unit check, as in the shader.
            results.total += carry.ret;
            e += 1;
            open = false;
            continue;
        }
        if units == 0 {
            break;
        }
        if !open {
            // Episode reset (one unit).
            reset_state(c, seed, generation, member, e, &mut carry.state);
            carry.ret = 0.0;
            let rstream = rng::stream_word(STREAM_RESET, e);
            let b0 = rng::block(seed, generation, member, rstream, 0);
            let mut u = [0.0f32; 8];
            for (ui, &w) in u.iter_mut().zip(&b0) {
                *ui = reset_uniform(w);
            }
            if T::RESET_UNIFORMS > 4 {
                let b1 = rng::block(seed, generation, member, rstream, 1);
                for (ui, &w) in u[4..].iter_mut().zip(&b1) {
                    *ui = reset_uniform(w);
                }
            }
            carry.task = Some(T::task_reset(u));
            open = true;
            t = 0;
            units -= 1;
            continue;
        }
        let task = carry.task.as_mut().expect("an open episode has a task");
        task.task_observe(&mut obs);
        results.count += 1;
        let nf = results.count as f32;
        for j in 0..d {
            let delta = obs[j] - results.mean[j];
            results.mean[j] += delta / nf;
            results.m2[j] += delta * (obs[j] - results.mean[j]);
            // WGSL's clamp(x, lo, hi) is min(max(x, lo), hi).
            x[j] = ((obs[j] - norm[j]) * norm[d + j]).max(-p.clip).min(p.clip);
        }
        net_step(net, c, &x, &mut carry.state, &mut out);
        let res = task.task_step(&out);
        carry.ret += res.reward;
        results.steps += 1;
        t += 1;
        units -= 1;
        if res.terminated || res.truncated {
            results.total += carry.ret;
            e += 1;
            open = false;
        }
    }
    (carry.episode, carry.step, carry.open) = (e, t, open);
    results.episodes = e;
}

/// All episodes of one member as the host runs them (`gpu/episodes.rs`): zeroed carry
/// and results, then `ceil(episodes * (max_steps + 1) / units)` dispatches (every
/// episode takes one reset and at most `max_steps` steps). Returns the results and the
/// final carry; `results.episodes < p.episodes` would mean the dispatches fell short
/// (they cannot since the time's-up close, which costs no unit, comes before the unit
/// check: before, work that filled the last dispatch exactly left the last episode open).
#[allow(clippy::too_many_arguments)]
pub fn run_episodes<T: WgslTask>(
    net: &PackedNet,
    c: &Constants,
    p: &EpisodeParams,
    norm: &[f32],
    seed: u64,
    generation: u32,
    member: u32,
) -> (EpisodeResults, EpisodeCarry<T>) {
    let mut carry = EpisodeCarry::new(net);
    let mut results = EpisodeResults::new(net.shape.obs_dim);
    let units = p.units.max(1) as u64;
    let dispatches = (p.episodes as u64 * (p.max_steps as u64 + 1)).div_ceil(units);
    for _ in 0..dispatches {
        episodes(
            net,
            c,
            p,
            norm,
            seed,
            generation,
            member,
            &mut carry,
            &mut results,
        );
    }
    (results, carry)
}
