//! [`Population`]: one generation's members as [`super::Strategy::ask`] returns them.

use std::time::Instant;

use rayon::prelude::*;

use super::{size, StrategyError};
use crate::cpu::{net_step, NetState, PackedNet};
use crate::evaluation::{action_from_output, Normalizer, ObsStats};
use crate::network::{Constants, Shape};
use crate::tasks::{Action, ActionSpace, EpisodeKey};
/// One member's network, state and observation statistics.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub(super) net: PackedNet,
    pub(super) state: NetState,
    pub(super) stats: ObsStats,
    pub(super) episode: u32,
    pub(super) steps: u64,
    pub(super) x: Vec<f32>,
    pub(super) out: Vec<f32>,
    pub(super) buf: Vec<f64>,
}

/// One generation's members (from [`super::Strategy::ask`]): train members `0..P`, then eval
/// members `P..P+E`. Each starts in its episode 0; [`Population::reset`] starts a
/// member's next episode, [`Population::act`] steps networks one environment step.
#[derive(Debug, Clone)]
pub struct Population {
    pub(super) seed: u64,
    pub(super) generation: u32,
    pub(super) population: usize,
    pub(super) eval_members: usize,
    pub(super) shape: Shape,
    pub(super) space: ActionSpace,
    pub(super) constants: Constants,
    pub(super) normalizer: Normalizer,
    /// Train genomes, member-major (for the reductions).
    pub(super) genomes: Vec<u64>,
    pub(super) members: Vec<Member>,
    pub(super) started: Instant,
}

impl Population {
    /// Train and eval members, `P + E`.
    pub fn size(&self) -> usize {
        self.members.len()
    }

    /// Train members `P`.
    pub fn train_members(&self) -> usize {
        self.population
    }

    /// Eval members `E` (indices `P..P+E`).
    pub fn eval_members(&self) -> usize {
        self.eval_members
    }

    /// The generation these members belong to.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// Observation values per member.
    pub fn obs_dim(&self) -> usize {
        self.shape.obs_dim
    }

    /// Values per member's action in [`Population::act`]'s output: 1 for a discrete
    /// space (the index), the dimension for a continuous one.
    pub fn action_width(&self) -> usize {
        match self.space {
            ActionSpace::Discrete(_) => 1,
            ActionSpace::Continuous { .. } => self.shape.act_dim,
        }
    }

    /// The episode member `member` is in (0 until its first [`Population::reset`]).
    pub fn episode(&self, member: usize) -> u32 {
        self.members[member].episode
    }

    /// The key whose reset stream starts member `member`'s current episode as the
    /// evaluator would start it.
    pub fn episode_key(&self, member: usize) -> EpisodeKey {
        EpisodeKey {
            seed: self.seed,
            generation: self.generation,
            member: member as u32,
            episode: self.members[member].episode,
        }
    }

    /// Environment steps taken so far (calls of `act`, per active member).
    pub fn env_steps(&self) -> u64 {
        self.members.iter().map(|m| m.steps).sum()
    }

    /// The observation statistics of this generation so far, merged in member order
    /// (as the evaluator merges them).
    pub fn obs_stats(&self) -> ObsStats {
        let mut all = ObsStats::new(self.shape.obs_dim);
        for m in &self.members {
            all.merge(&m.stats);
        }
        all
    }

    /// One environment step of every member (of those `active` marks, if given; the
    /// others are left untouched and their rows ignored): `obs` holds the raw
    /// observations, `size() x obs_dim()`; each is counted into this generation's
    /// statistics (a non-finite one is not, and the network sees 0 instead, as in the
    /// evaluator), normalised with the normaliser frozen at `ask`, and the network
    /// steps once; `actions` (`size() x action_width()`) receives the action: the
    /// index for a discrete space, the outputs scaled onto the bounds for a
    /// continuous one.
    pub fn act(
        &mut self,
        obs: &[f64],
        active: Option<&[bool]>,
        actions: &mut [f64],
    ) -> Result<(), StrategyError> {
        let (n, d, w) = (self.size(), self.shape.obs_dim, self.action_width());
        size("observations (members x obs_dim)", n * d, obs.len())?;
        size("actions (members x action width)", n * w, actions.len())?;
        if let Some(a) = active {
            size("active mask (one per member)", n, a.len())?;
        }
        let (c, norm, space) = (&self.constants, &self.normalizer, &self.space);
        self.members
            .par_iter_mut()
            .zip(obs.par_chunks(d))
            .zip(actions.par_chunks_mut(w))
            .enumerate()
            .for_each(|(i, ((m, o), a))| {
                if active.is_some_and(|act| !act[i]) {
                    return;
                }
                if o.iter().all(|v| v.is_finite()) {
                    m.stats.push(o);
                    norm.apply(o, &mut m.x);
                } else {
                    m.x.fill(0.0);
                }
                net_step(&m.net, c, &m.x, &mut m.state, &mut m.out);
                m.steps += 1;
                match action_from_output(space, &m.out, &mut m.buf) {
                    Action::Discrete(k) => a[0] = k as f64,
                    Action::Continuous(v) => a.copy_from_slice(v),
                }
            });
        Ok(())
    }

    /// Starts the next episode of the members `mask` marks (all of them without a
    /// mask): their episode counter advances and their network state is reset from
    /// `(seed, generation, member, episode)`, as the evaluator resets it.
    pub fn reset(&mut self, mask: Option<&[bool]>) -> Result<(), StrategyError> {
        if let Some(m) = mask {
            size("reset mask (one per member)", self.size(), m.len())?;
        }
        let (c, seed, generation) = (&self.constants, self.seed, self.generation);
        self.members.par_iter_mut().enumerate().for_each(|(i, m)| {
            if mask.is_none_or(|mask| mask[i]) {
                m.episode += 1;
                m.state.reset(c, seed, generation, i as u32, m.episode);
            }
        });
        Ok(())
    }
}
