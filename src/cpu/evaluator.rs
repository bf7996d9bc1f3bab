//! The CPU backend: [`CpuEvaluator`] runs members in parallel with rayon, each member's
//! episodes out of L1 with its packed network (no shader twin: the host loop that the
//! GPU evaluator's host-task mode and `episodes.wgsl` also follow, through the shared
//! episode state machine [`MemberEpisodes`]). Nothing a member computes depends on the
//! thread it runs on. For batched tasks it runs in lockstep instead ([`Lockstep`]):
//! every member's network steps in parallel, then one task call steps them all.

use rayon::prelude::*;

use super::{fast_path_available, net_step, sample_genomes, NetState, PackedNet, Propagation};
use crate::distribution::Reductions;
use crate::distribution::{self, words_for};
use crate::evaluation::{
    EngineError, GenerationRequest, Lockstep, LockstepNet, MemberEpisodes, MemberOutcome,
    PopulationEvaluator, Stepping, TaskFactory,
};
use crate::network::{Constants, NetworkConfig, Shape};
use crate::tasks::TaskSpec;

/// Most members per lockstep chunk: their packed nets and states (about 20 KB each at
/// N 256) stay in memory together, and the batched task holds this many slots. A
/// chunk runs until its longest episode ends, and a native vector env's step costs
/// about the same however few members are still live, so fewer chunks mean fewer
/// calls: CartPole P 1024 with 16 eval members makes about 310 calls per generation
/// in one chunk of 1040 and about 620 in two of 520.
pub const LOCKSTEP_CHUNK: usize = 4096;

/// Members per lockstep chunk for a range of `members`: the fewest chunks of at most
/// [`LOCKSTEP_CHUNK`], as equal as they can be, since a chunk's every step costs a
/// whole native vector env step however few of its members are live.
pub fn lockstep_chunk(members: usize) -> usize {
    let chunks = members.div_ceil(LOCKSTEP_CHUNK).max(1);
    members.div_ceil(chunks).max(1)
}

/// Per-thread scratch for running members: the packed weights, the state, the episodes.
struct Worker {
    net: PackedNet,
    state: NetState,
    episodes: MemberEpisodes,
    genome: Vec<u64>,
    x: Vec<f32>,
    out: Vec<f32>,
}

/// Runs the episodes of one member with its packed network (SPEC 5).
fn run_member(
    w: &mut Worker,
    c: &Constants,
    req: &GenerationRequest<'_>,
    member: u32,
) -> Result<MemberOutcome, EngineError> {
    let m = &mut w.episodes;
    m.begin_member();
    for e in 0..req.episodes_per_member as u32 {
        w.state.reset(c, req.seed, req.generation, member, e);
        m.begin_episode(req.seed, req.generation, member, e);
        for _ in 0..req.max_episode_steps {
            m.observe(req.normalizer, &mut w.x);
            net_step(&w.net, c, &w.x, &mut w.state, &mut w.out);
            if m.act(&w.out)? {
                break;
            }
        }
        m.end_episode();
    }
    Ok(m.outcome(req.episodes_per_member))
}

/// The networks of one lockstep chunk, stepped in parallel on rayon's pool.
struct ChunkNets<'a> {
    nets: &'a mut [(PackedNet, NetState)],
    constants: &'a Constants,
    seed: u64,
    generation: u32,
    offset: usize,
    obs_dim: usize,
    act_dim: usize,
}

impl LockstepNet for ChunkNets<'_> {
    fn begin_episode(&mut self, episode: u32) -> Result<(), EngineError> {
        let (c, seed, generation, offset) =
            (self.constants, self.seed, self.generation, self.offset);
        self.nets
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, (_, state))| {
                state.reset(c, seed, generation, (offset + i) as u32, episode)
            });
        Ok(())
    }

    fn step(&mut self, x: &[f32], active: &[bool], out: &mut [f32]) -> Result<(), EngineError> {
        let c = self.constants;
        self.nets
            .par_iter_mut()
            .zip(x.par_chunks(self.obs_dim))
            .zip(out.par_chunks_mut(self.act_dim))
            .zip(active.par_iter())
            .for_each(|(((net, x), out), &on)| {
                if on {
                    net_step(&net.0, c, x, &mut net.1, out);
                }
            });
        Ok(())
    }
}

/// Where a CPU evaluator's tasks come from.
enum Tasks {
    /// One instance per worker thread, members run start to end.
    PerMember(TaskFactory),
    /// A batched task, members in lockstep.
    Lockstep(Box<TaskSpec>),
}

/// The CPU backend: members in parallel on rayon's pool, each episode out of L1.
pub struct CpuEvaluator {
    shape: Shape,
    constants: Constants,
    tasks: Tasks,
    /// The lockstep driver and its chunk's networks, built on first use.
    lockstep: Option<(Lockstep, Vec<(PackedNet, NetState)>)>,
    /// Train genomes of the last evaluated generation (member-major), for the reductions.
    genomes: Vec<u64>,
    genomes_of: Option<(u64, u32)>,
    propagation: Propagation,
}

impl CpuEvaluator {
    /// A CPU evaluator for a network config and a task, member by member.
    pub fn new(cfg: &NetworkConfig, factory: TaskFactory) -> Self {
        let task = factory();
        let space = task.action_space();
        let shape = Shape::new(cfg, task.obs_dim(), space.outputs());
        Self::with_tasks(cfg, shape, Tasks::PerMember(factory))
    }

    /// A CPU evaluator for a resolved task, stepping it as `stepping` asks (`Auto`:
    /// lockstep for a task with its own batched constructor or no per-member one).
    pub fn for_task(
        cfg: &NetworkConfig,
        task: &TaskSpec,
        stepping: Stepping,
    ) -> Result<Self, EngineError> {
        let shape = Shape::new(cfg, task.obs_dim(), task.action().outputs());
        let lockstep = match stepping {
            Stepping::Auto => task.native_vector() || !task.per_member(),
            Stepping::PerMember => false,
            Stepping::Lockstep => true,
        };
        let tasks = if lockstep {
            task.check()?;
            Tasks::Lockstep(Box::new(task.clone()))
        } else {
            Tasks::PerMember(task.factory()?)
        };
        Ok(Self::with_tasks(cfg, shape, tasks))
    }

    fn with_tasks(cfg: &NetworkConfig, shape: Shape, tasks: Tasks) -> Self {
        CpuEvaluator {
            shape,
            constants: Constants::new(cfg, &shape),
            tasks,
            lockstep: None,
            genomes: Vec::new(),
            genomes_of: None,
            propagation: Propagation::Auto,
        }
    }

    /// Whether members step in lockstep.
    pub fn lockstep(&self) -> bool {
        matches!(self.tasks, Tasks::Lockstep(_))
    }

    /// The same evaluator propagating spikes one way (results are identical; `satr
    /// bench` times the ways side by side).
    pub fn with_propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// The network shape for the task.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Samples train genomes `train` of the request into the cache; the cache serves the
    /// reductions only when it holds the whole population.
    fn sample_train(&mut self, req: &GenerationRequest<'_>, train: std::ops::Range<usize>) {
        let words = words_for(self.shape.layout().len());
        self.genomes.resize(words * train.len(), 0);
        // Train members only: the mode genome is never copied.
        let mode = vec![0; words];
        sample_genomes(
            req.thresholds,
            &mode,
            req.seed,
            req.generation,
            req.population,
            train.start,
            &mut self.genomes,
        );
        self.genomes_of = (train.len() == req.population).then_some((req.seed, req.generation));
    }
}

/// A worker thread's scratch for members of `s`.
fn worker(s: Shape, propagation: Propagation, factory: &TaskFactory) -> Worker {
    Worker {
        net: PackedNet::new(s).with_propagation(propagation),
        state: NetState::new(&s),
        episodes: MemberEpisodes::new(factory()),
        genome: vec![0; words_for(s.layout().len())],
        x: vec![0.0; s.obs_dim],
        out: vec![0.0; s.act_dim],
    }
}

impl PopulationEvaluator for CpuEvaluator {
    fn describe(&self) -> String {
        format!(
            "cpu ({} threads, {}{})",
            rayon::current_num_threads(),
            if fast_path_available() {
                "popcnt+avx2"
            } else {
                "portable"
            },
            if self.lockstep() { ", lockstep" } else { "" }
        )
    }

    fn obs_dim(&self) -> usize {
        self.shape.obs_dim
    }

    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: std::ops::Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        let dim = self.shape.layout().len();
        let words = words_for(dim);
        let total = req.population + req.eval_members;
        if req.thresholds.len() != dim || members.end > total || members.start > members.end {
            return Err(EngineError::BadRequest(format!(
                "members {members:?} of 0..{total} with {} thresholds for a genome of {dim}",
                req.thresholds.len()
            )));
        }
        // Train genomes of this range, cached for the reductions when the range is whole.
        let train = members.start.min(req.population)..members.end.min(req.population);
        self.sample_train(req, train.clone());
        let mode = distribution::mode_genome(req.p);
        let genome_of = |m: usize| -> &[u64] {
            if m < req.population {
                let k = m - train.start;
                &self.genomes[k * words..(k + 1) * words]
            } else {
                &mode
            }
        };
        let c = &self.constants;
        match &self.tasks {
            Tasks::PerMember(factory) => members
                .into_par_iter()
                .map_init(
                    || worker(self.shape, self.propagation, factory),
                    |w, m| {
                        w.genome.copy_from_slice(genome_of(m));
                        w.net.load(&w.genome);
                        run_member(w, c, req, m as u32)
                    },
                )
                .collect(),
            Tasks::Lockstep(spec) => {
                let s = self.shape;
                let chunk = lockstep_chunk(members.len());
                let (driver, nets) = match self.lockstep.take() {
                    Some(l) if l.0.slots() >= chunk => l,
                    _ => (Lockstep::new(spec.make_vector(chunk)?), Vec::new()),
                };
                let mut nets = nets;
                let mut driver = driver;
                let mut out = Vec::with_capacity(members.len());
                let mut start = members.start;
                while start < members.end {
                    let n = chunk.min(members.end - start);
                    while nets.len() < n {
                        let net = PackedNet::new(s).with_propagation(self.propagation);
                        nets.push((net, NetState::new(&s)));
                    }
                    nets[..n]
                        .par_iter_mut()
                        .enumerate()
                        .for_each(|(i, (net, _))| {
                            net.load(genome_of(start + i));
                        });
                    let mut chunk_nets = ChunkNets {
                        nets: &mut nets[..n],
                        constants: c,
                        seed: req.seed,
                        generation: req.generation,
                        offset: start,
                        obs_dim: s.obs_dim,
                        act_dim: s.act_dim,
                    };
                    // Driven from a pool thread, so that each step's parallel loops fork
                    // inside the pool rather than hand over to it from outside (0.94 of
                    // the wall time on CartPole P 1024 in lockstep, farm-bench paired).
                    let run = rayon::scope(|_| driver.run(req, start, n, &mut chunk_nets));
                    out.extend(run?);
                    start += n;
                }
                self.lockstep = Some((driver, nets));
                Ok(out)
            }
        }
    }

    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError> {
        let dim = self.shape.layout().len();
        let words = words_for(dim);
        if self.genomes_of != Some((req.seed, req.generation))
            || self.genomes.len() != words * req.population
        {
            self.sample_train(req, 0..req.population);
        }
        Ok(distribution::reductions(&self.genomes, dim, utilities))
    }
}

#[cfg(test)]
mod tests {
    use super::{lockstep_chunk, LOCKSTEP_CHUNK};

    #[test]
    fn lockstep_chunks_are_the_fewest_and_as_equal_as_they_can_be() {
        let c = LOCKSTEP_CHUNK;
        let sizes = [0, 1, 7, 1040, c - 1, c, c + 1, c + 16, 2 * c + 1, 5 * c - 3];
        for members in sizes {
            let chunk = lockstep_chunk(members);
            assert!((1..=c).contains(&chunk), "{members}: {chunk}");
            let chunks = members.div_ceil(chunk);
            assert_eq!(chunks, members.div_ceil(c), "{members}: {chunk}");
            // The last chunk is less than one member per chunk short of the others.
            if chunks > 1 {
                let last = members - (chunks - 1) * chunk;
                assert!(chunk - last < chunks, "{members}: last {last} of {chunk}");
            }
        }
        assert_eq!(lockstep_chunk(1040), 1040);
        assert_eq!(lockstep_chunk(c + 16), c / 2 + 8);
    }
}
