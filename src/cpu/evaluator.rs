//! The CPU backend: [`CpuEvaluator`] runs members in parallel with rayon, each member's
//! episodes out of L1 with its packed network (no shader twin: the host loop that the
//! GPU evaluator's host-task mode and `episodes.wgsl` also follow, through the shared
//! episode state machine [`MemberEpisodes`]). Nothing a member computes depends on the
//! thread it runs on.

use rayon::prelude::*;

use super::{fast_path_available, net_step, sample_genomes, NetState, PackedNet, Propagation};
use crate::distribution::Reductions;
use crate::distribution::{self, words_for};
use crate::evaluation::{
    EngineError, GenerationRequest, MemberEpisodes, MemberOutcome, PopulationEvaluator, TaskFactory,
};
use crate::network::{Constants, NetworkConfig, Shape};

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

/// The CPU backend: members in parallel on rayon's pool, each episode out of L1.
pub struct CpuEvaluator {
    shape: Shape,
    constants: Constants,
    factory: TaskFactory,
    /// Train genomes of the last evaluated generation (member-major), for the reductions.
    genomes: Vec<u64>,
    genomes_of: Option<(u64, u32)>,
    propagation: Propagation,
}

impl CpuEvaluator {
    /// A CPU evaluator for a network config and a task.
    pub fn new(cfg: &NetworkConfig, factory: TaskFactory) -> Self {
        let task = factory();
        let space = task.action_space();
        let shape = Shape::new(cfg, task.obs_dim(), space.outputs());
        CpuEvaluator {
            shape,
            constants: Constants::new(cfg, &shape),
            factory,
            genomes: Vec::new(),
            genomes_of: None,
            propagation: Propagation::Auto,
        }
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

    fn worker(&self) -> Worker {
        let s = self.shape;
        Worker {
            net: PackedNet::new(s).with_propagation(self.propagation),
            state: NetState::new(&s),
            episodes: MemberEpisodes::new((self.factory)()),
            genome: vec![0; words_for(s.layout().len())],
            x: vec![0.0; s.obs_dim],
            out: vec![0.0; s.act_dim],
        }
    }
}

impl PopulationEvaluator for CpuEvaluator {
    fn describe(&self) -> String {
        format!(
            "cpu ({} threads, {})",
            rayon::current_num_threads(),
            if fast_path_available() {
                "popcnt+avx2"
            } else {
                "portable"
            }
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
        assert_eq!(req.thresholds.len(), dim, "thresholds length");
        let total = req.population + req.eval_members;
        assert!(
            members.end <= total,
            "members {members:?} outside 0..{total}"
        );
        // Train genomes of this range, cached for the reductions when the range is whole.
        let train = members.start.min(req.population)..members.end.min(req.population);
        self.sample_train(req, train.clone());
        let mode = distribution::mode_genome(req.p);
        let (c, genomes) = (&self.constants, &self.genomes);
        members
            .into_par_iter()
            .map_init(
                || self.worker(),
                |w, m| {
                    if m < req.population {
                        let k = m - train.start;
                        w.genome
                            .copy_from_slice(&genomes[k * words..(k + 1) * words]);
                    } else {
                        w.genome.copy_from_slice(&mode);
                    }
                    w.net.load(&w.genome);
                    run_member(w, c, req, m as u32)
                },
            )
            .collect()
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
