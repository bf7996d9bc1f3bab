//! A policy's episodes on the CPU, one step at a time: the protocol of the CPU
//! evaluator (the same [`MemberEpisodes`] state machine, reset streams and network
//! step), so an episode keyed like an eval member's is that member's episode, with
//! every step reported to an observer and every spike counted.

use super::cost::{CostCounter, PolicyCost};
use super::Policy;
use crate::cpu::{net_step_observed, NetState};
use crate::evaluation::{action_from_output, MemberEpisodes};
use crate::tasks::{Action, TaskError};

/// The random streams an episode draws from (SPEC 3). `satr eval` runs member `m` of
/// the checkpoint's generation, episode 0; a training run's first eval member is
/// member `P`.
pub use crate::tasks::EpisodeKey;

/// One environment step as the policy saw it.
#[derive(Debug)]
pub struct StepView<'a> {
    /// Steps already taken in this episode.
    pub step: usize,
    /// The task's raw observation.
    pub obs: &'a [f64],
    /// The normalised observation fed to the network (f32).
    pub x: &'a [f32],
    /// The network's raw outputs (f32).
    pub out: &'a [f32],
    /// The action taken from them.
    pub action: Action<'a>,
    /// The reward the task returned for it.
    pub reward: f64,
    /// Spikes over the step's `K` substeps.
    pub spikes: u64,
}

/// What one episode returned.
#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeSummary {
    pub key: EpisodeKey,
    pub ret: f64,
    pub steps: usize,
}

/// Runs the policy for episodes, each from its key, up to `max_steps` steps each.
pub struct Runner<'p> {
    policy: &'p Policy,
    net: crate::cpu::PackedNet,
    state: NetState,
    episodes: MemberEpisodes,
    counter: CostCounter,
    x: Vec<f32>,
    out: Vec<f32>,
    action: Vec<f64>,
}

impl<'p> Runner<'p> {
    /// A runner with its own task instance.
    pub fn new(policy: &'p Policy) -> Result<Self, TaskError> {
        let s = policy.shape;
        let net = policy.net();
        Ok(Runner {
            counter: CostCounter::for_net(policy, &net),
            net,
            state: NetState::new(&s),
            episodes: MemberEpisodes::new(policy.make_task()?),
            x: vec![0.0; s.obs_dim],
            out: vec![0.0; s.act_dim],
            action: Vec::with_capacity(s.act_dim),
            policy,
        })
    }

    /// One episode, reporting each step to `observe`.
    pub fn episode(
        &mut self,
        key: EpisodeKey,
        max_steps: usize,
        mut observe: impl FnMut(&StepView<'_>),
    ) -> Result<EpisodeSummary, TaskError> {
        let p = self.policy;
        let c = &p.constants;
        let m = &mut self.episodes;
        m.begin_member();
        self.state
            .reset(c, key.seed, key.generation, key.member, key.episode);
        m.begin_episode(key.seed, key.generation, key.member, key.episode);
        let mut steps = 0;
        while steps < max_steps {
            m.observe(&p.normalizer, &mut self.x);
            let mut spikes = 0;
            let counter = &mut self.counter;
            net_step_observed(
                &self.net,
                c,
                &self.x,
                &mut self.state,
                &mut self.out,
                &mut |s| spikes += counter.substep(s),
            );
            counter.env_step();
            let done = m.act(&self.out)?;
            steps += 1;
            observe(&StepView {
                step: steps - 1,
                obs: m.observation(),
                x: &self.x,
                out: &self.out,
                action: action_from_output(&p.action, &self.out, &mut self.action),
                reward: m.reward(),
                spikes,
            });
            if done {
                break;
            }
        }
        m.end_episode();
        Ok(EpisodeSummary {
            key,
            ret: m.episode_return(),
            steps,
        })
    }

    /// The cost of every step run so far.
    pub fn cost(&self) -> PolicyCost {
        self.counter.cost()
    }

    /// The counts behind [`Runner::cost`] (to merge runners).
    pub fn counter(&self) -> &CostCounter {
        &self.counter
    }
}

/// Runs one episode per key in parallel (no observer) and returns their summaries in
/// key order and the cost over all of them.
pub fn run_all(
    policy: &Policy,
    keys: &[EpisodeKey],
    max_steps: usize,
) -> Result<(Vec<EpisodeSummary>, PolicyCost), TaskError> {
    use rayon::prelude::*;
    let runs: Vec<(EpisodeSummary, CostCounter)> = keys
        .par_iter()
        .map(|&key| {
            let mut r = Runner::new(policy)?;
            let summary = r.episode(key, max_steps, |_| {})?;
            Ok((summary, r.counter))
        })
        .collect::<Result<_, TaskError>>()?;
    let mut counters = runs.iter().map(|(_, c)| c);
    let cost = match counters.next() {
        Some(first) => {
            let mut total = first.clone();
            counters.for_each(|c| total.merge(c));
            total.cost()
        }
        None => CostCounter::new(policy).cost(),
    };
    Ok((runs.into_iter().map(|(s, _)| s).collect(), cost))
}
