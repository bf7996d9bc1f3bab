//! The episode protocol of SPEC 5 on the host, written once: one member's task, its
//! reset stream, its return and its observation statistics. The CPU evaluator drives
//! it member by member and the GPU evaluator's host-task mode drives it in lockstep
//! over a chunk; both call the same steps in the same order, so a member's outcome
//! does not depend on the backend that ran its network. (Full-generation mode runs
//! the same protocol in WGSL: `shaders/episodes.wgsl`.)

use super::{MemberOutcome, Normalizer, ObsStats};
use crate::tasks::{Action, ActionSpace, EpisodeKey, Step, Task, TaskError};

/// Maps network outputs to an action (SPEC 1): discrete = argmax (lowest index on ties);
/// continuous = `clip(out, -1, 1)` scaled affinely onto `[low, high]`.
pub fn action_from_output<'a>(
    space: &ActionSpace,
    out: &[f32],
    buf: &'a mut Vec<f64>,
) -> Action<'a> {
    match space {
        ActionSpace::Discrete(n) => {
            let mut best = 0;
            for k in 1..*n {
                if out[k] > out[best] {
                    best = k;
                }
            }
            Action::Discrete(best)
        }
        ActionSpace::Continuous { low, high } => {
            buf.clear();
            for ((&o, &lo), &hi) in out.iter().zip(low).zip(high) {
                let a = (o as f64).clamp(-1.0, 1.0);
                buf.push(lo + (a + 1.0) * 0.5 * (hi - lo));
            }
            Action::Continuous(buf)
        }
    }
}

/// One member's bookkeeping over its episodes, apart from the task that produces the
/// observations and rewards: the observation statistics, returns, steps, and the
/// validity rule below. [`MemberEpisodes`] pairs it with one task instance; the
/// lockstep driver keeps one per member beside a batched task. Both feed it the same
/// values in the same order, so a member's outcome does not depend on the path.
///
/// A non-finite observation or reward (a broken task or model) invalidates the member:
/// its episode ends at that step, the value is kept out of the observation statistics
/// and the return, the network is fed 0 in its place for the one step it still sees,
/// and the member's fitness is NaN, which fitness shaping ranks below every number.
#[derive(Debug, Clone)]
pub struct EpisodeLedger {
    stats: ObsStats,
    total: f64,
    ret: f64,
    /// The reward of the last step (0 before the first).
    reward: f64,
    steps: u64,
    done: bool,
    /// A non-finite observation or reward was seen.
    invalid: bool,
}

impl EpisodeLedger {
    /// A ledger for observations of `obs_dim` values.
    pub fn new(obs_dim: usize) -> Self {
        EpisodeLedger {
            stats: ObsStats::new(obs_dim),
            total: 0.0,
            ret: 0.0,
            reward: 0.0,
            steps: 0,
            done: true,
            invalid: false,
        }
    }

    /// Forgets the previous member's returns, steps and statistics.
    pub fn begin_member(&mut self) {
        self.stats = ObsStats::new(self.stats.mean.len());
        self.total = 0.0;
        self.steps = 0;
        self.invalid = false;
    }

    /// An episode starts (its task was just reset).
    pub fn begin_episode(&mut self) {
        self.ret = 0.0;
        self.reward = 0.0;
        self.done = false;
    }

    /// True once the episode has terminated or been truncated.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Counts the observation `obs` into the statistics and writes its normalised form
    /// into `x` (the network's input).
    pub fn observe(&mut self, obs: &[f64], normalizer: &Normalizer, x: &mut [f32]) {
        if obs.iter().all(|o| o.is_finite()) {
            self.stats.push(obs);
            normalizer.apply(obs, x);
        } else {
            self.invalid = true;
            x.fill(0.0);
        }
    }

    /// Before the task steps: an invalidated member's episode ends here instead
    /// (returns true, and the task must not be stepped).
    pub fn ends_invalid(&mut self) -> bool {
        if self.invalid {
            self.done = true;
        }
        self.invalid
    }

    /// The task failed: the episode ends (the caller reports the error).
    pub fn fail(&mut self) {
        self.done = true;
    }

    /// Counts the task's step; returns whether the episode ended.
    pub fn record(&mut self, step: Step) -> bool {
        self.steps += 1;
        self.reward = step.reward;
        if !step.reward.is_finite() {
            self.invalid = true;
            self.done = true;
            return true;
        }
        self.ret += step.reward;
        self.done = step.terminated || step.truncated;
        self.done
    }

    /// The reward the last step received.
    pub fn reward(&self) -> f64 {
        self.reward
    }

    /// The return of the open (or just ended) episode so far.
    pub fn episode_return(&self) -> f64 {
        self.ret
    }

    /// Adds the episode's return to the member's total.
    pub fn end_episode(&mut self) {
        self.total += self.ret;
    }

    /// The member's outcome over `episodes` episodes (fitness NaN if it was invalidated).
    pub fn outcome(&self, episodes: usize) -> MemberOutcome {
        MemberOutcome {
            fitness: if self.invalid {
                f64::NAN
            } else {
                self.total / episodes.max(1) as f64
            },
            env_steps: self.steps,
            obs_stats: self.stats.clone(),
        }
    }
}

/// One member's episodes on one task instance: `begin_member`, then per episode
/// `begin_episode`, steps of (`observe`, network, `act`) until `act` reports the end or
/// the step cap, and `end_episode`; `outcome` averages the returns.
pub struct MemberEpisodes {
    task: Box<dyn Task>,
    space: ActionSpace,
    obs: Vec<f64>,
    action: Vec<f64>,
    ledger: EpisodeLedger,
}

impl MemberEpisodes {
    /// Episodes of `task` (one instance per member being run, so members run in parallel).
    pub fn new(task: Box<dyn Task>) -> Self {
        let space = task.action_space();
        let d = task.obs_dim();
        MemberEpisodes {
            obs: vec![0.0; d],
            action: Vec::with_capacity(space.outputs()),
            ledger: EpisodeLedger::new(d),
            space,
            task,
        }
    }

    /// Forgets the previous member's returns, steps and statistics.
    pub fn begin_member(&mut self) {
        self.ledger.begin_member();
    }

    /// Resets the task from the reset stream of `(seed, generation, member, episode)`.
    pub fn begin_episode(&mut self, seed: u64, generation: u32, member: u32, episode: u32) {
        let key = EpisodeKey {
            seed,
            generation,
            member,
            episode,
        };
        let mut reader = key.reset_stream();
        self.task.reset(&mut || reader.next_f64());
        self.ledger.begin_episode();
    }

    /// True once the episode has terminated or been truncated.
    pub fn done(&self) -> bool {
        self.ledger.done()
    }

    /// Reads the observation, counts it into the statistics and writes its normalised
    /// form into `x` (the network's input).
    pub fn observe(&mut self, normalizer: &Normalizer, x: &mut [f32]) {
        self.task.observe(&mut self.obs);
        self.ledger.observe(&self.obs, normalizer, x);
    }

    /// Maps the network's outputs to an action and steps the task; returns whether the
    /// episode ended. A task error ends the episode too.
    pub fn act(&mut self, out: &[f32]) -> Result<bool, TaskError> {
        if self.ledger.ends_invalid() {
            return Ok(true);
        }
        let action = action_from_output(&self.space, out, &mut self.action);
        match self.task.step(action) {
            Ok(step) => Ok(self.ledger.record(step)),
            Err(e) => {
                self.ledger.fail();
                Err(e)
            }
        }
    }

    /// The raw observation the last [`MemberEpisodes::observe`] read.
    pub fn observation(&self) -> &[f64] {
        &self.obs
    }

    /// The reward the last [`MemberEpisodes::act`] received.
    pub fn reward(&self) -> f64 {
        self.ledger.reward()
    }

    /// The return of the open (or just ended) episode so far.
    pub fn episode_return(&self) -> f64 {
        self.ledger.episode_return()
    }

    /// Adds the episode's return to the member's total.
    pub fn end_episode(&mut self) {
        self.ledger.end_episode();
    }

    /// The member's outcome over `episodes` episodes (fitness NaN if it was invalidated).
    pub fn outcome(&self, episodes: usize) -> MemberOutcome {
        self.ledger.outcome(episodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::ActionSpace;

    #[test]
    fn actions() {
        let mut buf = Vec::new();
        assert_eq!(
            action_from_output(&ActionSpace::Discrete(3), &[0.5, 0.7, 0.7], &mut buf),
            Action::Discrete(1)
        );
        let space = ActionSpace::Continuous {
            low: vec![-2.0],
            high: vec![2.0],
        };
        assert_eq!(
            action_from_output(&space, &[3.0], &mut buf),
            Action::Continuous(&[2.0])
        );
        assert_eq!(
            action_from_output(&space, &[-0.25], &mut buf),
            Action::Continuous(&[-0.5])
        );
    }
}
