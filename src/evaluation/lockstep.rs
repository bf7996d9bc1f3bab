//! Episodes in lockstep over a batched task: every live member's network steps, then
//! one [`VectorTask::step`] call steps every live member's environment. The CPU
//! evaluator's lockstep path and the GPU's host-task mode both drive it; they differ
//! only in how the networks step ([`LockstepNet`]). Each member keeps an
//! [`EpisodeLedger`] fed exactly as the per-member path feeds it, so the outcomes are
//! the per-member path's, bit for bit.

use super::episode::{action_from_output, EpisodeLedger};
use super::{EngineError, GenerationRequest, MemberOutcome};
use crate::tasks::{Action, ActionBatch, ActionSpace, EpisodeKey, Step, VectorTask};

/// The networks of a lockstep chunk: members `0..members` of the chunk, in order.
pub trait LockstepNet {
    /// Resets every member's network state for episode `episode`.
    fn begin_episode(&mut self, episode: u32) -> Result<(), EngineError>;
    /// One environment step of every member `i` with `active[i]`: input row `i` of `x`
    /// (`obs_dim` values each), outputs into row `i` of `out` (`act_dim` each). Rows of
    /// inactive members are not read and may be left as they are.
    fn step(&mut self, x: &[f32], active: &[bool], out: &mut [f32]) -> Result<(), EngineError>;
}

/// A batched task with the per-member bookkeeping and the buffers one step moves.
pub struct Lockstep {
    task: Box<dyn VectorTask>,
    space: ActionSpace,
    obs_dim: usize,
    act_dim: usize,
    ledgers: Vec<EpisodeLedger>,
    keys: Vec<Option<EpisodeKey>>,
    active: Vec<bool>,
    obs: Vec<f64>,
    x: Vec<f32>,
    out: Vec<f32>,
    steps: Vec<Step>,
    discrete: Vec<usize>,
    continuous: Vec<f64>,
    scratch: Vec<f64>,
}

impl Lockstep {
    /// Lockstep episodes over `task`'s slots.
    pub fn new(task: Box<dyn VectorTask>) -> Self {
        let n = task.slots();
        let space = task.action_space();
        let (d, a) = (task.obs_dim(), space.outputs());
        let idle = Step {
            reward: 0.0,
            terminated: false,
            truncated: false,
        };
        Lockstep {
            ledgers: vec![EpisodeLedger::new(d); n],
            keys: vec![None; n],
            active: vec![false; n],
            obs: vec![0.0; n * d],
            x: vec![0.0; n * d],
            out: vec![0.0; n * a],
            steps: vec![idle; n],
            discrete: vec![0; n],
            continuous: vec![0.0; n * a],
            scratch: Vec::with_capacity(a),
            obs_dim: d,
            act_dim: a,
            space,
            task,
        }
    }

    /// Members one call can run.
    pub fn slots(&self) -> usize {
        self.ledgers.len()
    }

    /// Runs members `offset..offset + members` of `req` (global indices; at most
    /// [`Lockstep::slots`]) to the end of all their episodes, their networks stepped by
    /// `net`, and returns their outcomes in member order.
    pub fn run(
        &mut self,
        req: &GenerationRequest<'_>,
        offset: usize,
        members: usize,
        net: &mut dyn LockstepNet,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        assert!(
            members <= self.slots(),
            "{members} members in {} slots",
            self.slots()
        );
        let (d, a) = (self.obs_dim, self.act_dim);
        self.ledgers[..members]
            .iter_mut()
            .for_each(EpisodeLedger::begin_member);
        for e in 0..req.episodes_per_member as u32 {
            net.begin_episode(e)?;
            for (i, k) in self.keys.iter_mut().enumerate() {
                *k = (i < members).then_some(EpisodeKey {
                    seed: req.seed,
                    generation: req.generation,
                    member: (offset + i) as u32,
                    episode: e,
                });
            }
            self.task.reset(&self.keys, &mut self.obs)?;
            self.ledgers[..members]
                .iter_mut()
                .for_each(EpisodeLedger::begin_episode);
            for _ in 0..req.max_episode_steps {
                let mut live = 0;
                for (i, l) in self.ledgers[..members].iter_mut().enumerate() {
                    self.active[i] = !l.done();
                    if self.active[i] {
                        live += 1;
                        let rows = i * d..(i + 1) * d;
                        l.observe(&self.obs[rows.clone()], req.normalizer, &mut self.x[rows]);
                    }
                }
                if live == 0 {
                    break;
                }
                net.step(
                    &self.x[..members * d],
                    &self.active[..members],
                    &mut self.out[..members * a],
                )?;
                for (i, l) in self.ledgers[..members].iter_mut().enumerate() {
                    if !self.active[i] {
                        continue;
                    }
                    if l.ends_invalid() {
                        self.active[i] = false;
                        continue;
                    }
                    let out = &self.out[i * a..(i + 1) * a];
                    match action_from_output(&self.space, out, &mut self.scratch) {
                        Action::Discrete(k) => self.discrete[i] = k,
                        Action::Continuous(v) => {
                            self.continuous[i * a..(i + 1) * a].copy_from_slice(v)
                        }
                    }
                }
                self.active[members..].fill(false);
                let batch = match self.space {
                    ActionSpace::Discrete(_) => ActionBatch::Discrete(&self.discrete),
                    ActionSpace::Continuous { .. } => ActionBatch::Continuous {
                        values: &self.continuous,
                        dim: a,
                    },
                };
                if let Err(err) =
                    self.task
                        .step(&self.active, batch, &mut self.steps, &mut self.obs)
                {
                    for (l, &on) in self.ledgers.iter_mut().zip(&self.active) {
                        if on {
                            l.fail();
                        }
                    }
                    return Err(err.into());
                }
                for (i, l) in self.ledgers[..members].iter_mut().enumerate() {
                    if self.active[i] {
                        l.record(self.steps[i]);
                    }
                }
            }
            self.ledgers[..members]
                .iter_mut()
                .for_each(EpisodeLedger::end_episode);
        }
        Ok(self.ledgers[..members]
            .iter()
            .map(|l| l.outcome(req.episodes_per_member))
            .collect())
    }
}
