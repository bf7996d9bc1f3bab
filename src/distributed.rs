//! Training over several processes with MPI (`mpirun -n R satr train ...`).
//!
//! Every rank holds the whole state (`p`, optimizer, normaliser) and computes the same
//! update in the same order; only the members' evaluation is split. Rank `r` runs the
//! contiguous slice [`share`] of members `0..P+E`, then all ranks all-gather the
//! per-member outcomes as raw `f64`/`u64` bits and merge them in member order, so each
//! rank sees exactly what one process would have computed. Genomes never cross the
//! network: any rank regenerates any genome from `(seed, generation, member)`. The
//! reductions `A`, `B` are split by coordinates instead: each rank samples its words of
//! every train genome, sums over all members in member order, and the ranks all-gather
//! the sums, which are then bit-identical to one process's.

use std::ops::Range;
use std::time::Instant;

use mpi::datatype::PartitionMut;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;
use rayon::prelude::*;
use thiserror::Error;

use crate::distribution::Reductions;
use crate::distribution::{self, words_for};
use crate::evaluation::{
    EngineError, GenerationFitness, GenerationRequest, MemberOutcome, ObsStats, PopulationEvaluator,
};

/// Errors setting up the MPI world.
#[derive(Debug, Error)]
pub enum DistributedError {
    /// `MPI_Init` had already run in this process (MPI initialises once per process).
    #[error("MPI was already initialised in this process")]
    AlreadyInitialized,
}

/// Environment variables set by the launchers this binary may run under; without one
/// of them the process is alone and MPI is not initialised at all, so that a plain
/// `satr train` neither needs nor touches an MPI runtime.
const LAUNCHER_VARS: &[&str] = &[
    // Open MPI's mpirun.
    "OMPI_COMM_WORLD_SIZE",
    // PMIx launchers: `srun --mpi=pmix`, prterun, Open MPI 5.
    "PMIX_RANK",
    // PMI-1/PMI-2: MPICH's hydra, `srun --mpi=pmi2`.
    "PMI_RANK",
    "PMI_SIZE",
    // MVAPICH.
    "MV2_COMM_WORLD_SIZE",
];

/// Whether this process was started by an MPI launcher. `SATR_MPI=1` forces MPI on
/// (a singleton world) and `SATR_MPI=0` forces it off.
pub fn launched_by_mpi() -> bool {
    match std::env::var("SATR_MPI").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => LAUNCHER_VARS.iter().any(|v| std::env::var_os(v).is_some()),
    }
}

/// This process's place in the job. Holding it keeps MPI initialised; dropping it
/// finalises MPI (the launcher reports a rank that exits without finalising as failed).
pub struct World {
    universe: Option<Universe>,
    rank: usize,
    size: usize,
    local_rank: usize,
    local_size: usize,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("mpi", &self.universe.is_some())
            .field("rank", &self.rank)
            .field("size", &self.size)
            .field("local_rank", &self.local_rank)
            .field("local_size", &self.local_size)
            .finish()
    }
}

impl World {
    /// Initialises MPI when a launcher started this process (see [`launched_by_mpi`]),
    /// else returns a world of one process. Call once, from the main thread, before
    /// any other thread exists.
    pub fn init() -> Result<World, DistributedError> {
        if !launched_by_mpi() {
            return Ok(World::single());
        }
        // Funneled: rayon's threads exist but only the main thread calls MPI.
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)
            .ok_or(DistributedError::AlreadyInitialized)?;
        let world = universe.world();
        // Ranks sharing a node (and so its GPUs) form one shared-memory communicator;
        // this works under every launcher, unlike launcher-specific variables.
        let node = world.split_shared(world.rank());
        Ok(World {
            rank: world.rank() as usize,
            size: world.size() as usize,
            local_rank: node.rank() as usize,
            local_size: node.size() as usize,
            universe: Some(universe),
        })
    }

    /// A world of one process, without MPI.
    pub fn single() -> World {
        World {
            universe: None,
            rank: 0,
            size: 1,
            local_rank: 0,
            local_size: 1,
        }
    }

    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of processes in the job.
    pub fn size(&self) -> usize {
        self.size
    }

    /// This process's rank among those on the same node.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }

    /// Number of processes on this node.
    pub fn local_size(&self) -> usize {
        self.local_size
    }

    /// Whether MPI was initialised (false for a plain, launcher-less start).
    pub fn is_mpi(&self) -> bool {
        self.universe.is_some()
    }

    /// True on some rank => true on all: the ranks agree on stopping, so none is left
    /// waiting in a collective that the others never enter.
    pub fn any(&self, flag: bool) -> bool {
        if self.universe.is_none() {
            return flag;
        }
        any_rank(flag)
    }

    /// Ends every process of the job (after an error on one rank, the others would
    /// wait forever in the next collective). Returns only without MPI.
    pub fn abort(&self, code: i32) {
        if self.universe.is_some() {
            SimpleCommunicator::world().abort(code);
        }
    }

    /// With several processes on this node and several hardware GPU adapters, points
    /// `SATR_ADAPTER` at adapter `local_rank mod count` so ranks do not share a GPU;
    /// leaves an explicit `SATR_ADAPTER` alone. Must run before the GPU context is made.
    /// Returns the adapter index chosen.
    pub fn assign_gpu_adapter(&self) -> Option<usize> {
        if self.local_size <= 1 || std::env::var_os("SATR_ADAPTER").is_some() {
            return None;
        }
        #[cfg(feature = "gpu")]
        {
            let hardware: Vec<usize> = crate::gpu::list_adapters()
                .into_iter()
                .filter(|a| a.device_type != "Cpu")
                .map(|a| a.index)
                .collect();
            if hardware.len() < 2 {
                return None;
            }
            let pick = hardware[self.local_rank % hardware.len()];
            std::env::set_var("SATR_ADAPTER", pick.to_string());
            tracing::info!(
                rank = self.rank,
                local_rank = self.local_rank,
                adapter = pick,
                "GPU adapter chosen by local rank"
            );
            Some(pick)
        }
        #[cfg(not(feature = "gpu"))]
        None
    }
}

/// Logical OR of `flag` over all ranks of `MPI_COMM_WORLD` (a collective: every rank
/// must call it). MPI must be initialised.
pub fn any_rank(flag: bool) -> bool {
    let mut out = 0u32;
    SimpleCommunicator::world().all_reduce_into(
        &(flag as u32),
        &mut out,
        mpi::collective::SystemOperation::max(),
    );
    out != 0
}

/// The members rank `rank` of `size` evaluates: contiguous slices in rank order that
/// cover `0..total` exactly once; the first `total % size` ranks get one extra, and
/// ranks past `total` get an empty range.
pub fn share(total: usize, rank: usize, size: usize) -> Range<usize> {
    assert!(size > 0 && rank < size, "rank {rank} of {size}");
    let base = total / size;
    let extra = total % size;
    let start = rank * base + rank.min(extra);
    start..start + base + usize::from(rank < extra)
}

/// `u64` words one member's outcome takes on the wire.
pub fn words_per_member(obs_dim: usize) -> usize {
    3 + 2 * obs_dim
}

/// Appends outcomes as raw bits (fitness, steps, count, mean, m2): bit-exact, unlike
/// any text or reduced form.
pub fn encode(outcomes: &[MemberOutcome], obs_dim: usize, out: &mut Vec<u64>) {
    for o in outcomes {
        assert!(
            o.obs_stats.mean.len() == obs_dim && o.obs_stats.m2.len() == obs_dim,
            "member outcome has {} observation dimensions, expected {obs_dim}",
            o.obs_stats.mean.len()
        );
        out.push(o.fitness.to_bits());
        out.push(o.env_steps);
        out.push(o.obs_stats.count);
        out.extend(o.obs_stats.mean.iter().map(|x| x.to_bits()));
        out.extend(o.obs_stats.m2.iter().map(|x| x.to_bits()));
    }
}

/// Inverse of [`encode`].
pub fn decode(words: &[u64], obs_dim: usize) -> Vec<MemberOutcome> {
    let w = words_per_member(obs_dim);
    assert!(words.len().is_multiple_of(w), "truncated outcome payload");
    words
        .chunks_exact(w)
        .map(|c| {
            let floats = |s: &[u64]| s.iter().map(|&b| f64::from_bits(b)).collect();
            MemberOutcome {
                fitness: f64::from_bits(c[0]),
                env_steps: c[1],
                obs_stats: ObsStats {
                    count: c[2],
                    mean: floats(&c[3..3 + obs_dim]),
                    m2: floats(&c[3 + obs_dim..]),
                },
            }
        })
        .collect()
}

/// Spreads each generation's members over the ranks of `MPI_COMM_WORLD`; every rank
/// gets the whole generation's fitness back.
pub struct DistributedEvaluator {
    inner: Box<dyn PopulationEvaluator>,
    obs_dim: usize,
    rank: usize,
    size: usize,
    send: Vec<u64>,
    recv: Vec<u64>,
    /// This rank's words of every train genome, member-major, for the reductions.
    block: Vec<u64>,
}

/// All-gathers `mine` (this rank's share of the words `0..words`, 64 values each) into
/// `out`, in word order.
fn gather_words(mine: &[f64], words: usize, size: usize, out: &mut Vec<f64>) {
    assert!(
        words * 64 <= Count::MAX as usize,
        "genome too long for one MPI message"
    );
    let counts: Vec<Count> = (0..size)
        .map(|r| (share(words, r, size).len() * 64) as Count)
        .collect();
    let displs: Vec<Count> = (0..size)
        .map(|r| (share(words, r, size).start * 64) as Count)
        .collect();
    out.clear();
    out.resize(words * 64, 0.0);
    let mut partition = PartitionMut::new(&mut out[..], counts, displs);
    SimpleCommunicator::world().all_gather_varcount_into(mine, &mut partition);
}

impl DistributedEvaluator {
    /// Wraps the evaluator of this rank. `obs_dim` is the task's observation size (a
    /// rank with no members this generation still has to size the merged statistics).
    pub fn new(inner: Box<dyn PopulationEvaluator>, world: &World, obs_dim: usize) -> Self {
        assert!(
            world.is_mpi() || world.size() == 1,
            "a world without MPI has one process"
        );
        DistributedEvaluator {
            inner,
            obs_dim,
            rank: world.rank(),
            size: world.size(),
            send: Vec::new(),
            recv: Vec::new(),
            block: Vec::new(),
        }
    }

    /// Gathers every rank's encoded outcomes into `self.recv`, in rank (= member) order.
    fn all_gather(&mut self, total: usize) -> Result<(), EngineError> {
        let w = words_per_member(self.obs_dim);
        let too_large = || {
            EngineError::TooLarge(format!(
                "{total} members x {w} words exceed one MPI message ({} elements)",
                Count::MAX
            ))
        };
        let count_of = |n: usize| Count::try_from(n * w).map_err(|_| too_large());
        Count::try_from(total * w).map_err(|_| too_large())?;
        let counts = (0..self.size)
            .map(|r| count_of(share(total, r, self.size).len()))
            .collect::<Result<Vec<Count>, _>>()?;
        let displs = (0..self.size)
            .map(|r| count_of(share(total, r, self.size).start))
            .collect::<Result<Vec<Count>, _>>()?;
        self.recv.clear();
        self.recv.resize(total * w, 0);
        let mut partition = PartitionMut::new(&mut self.recv[..], counts, displs);
        SimpleCommunicator::world().all_gather_varcount_into(&self.send[..], &mut partition);
        Ok(())
    }
}

impl PopulationEvaluator for DistributedEvaluator {
    fn describe(&self) -> String {
        format!(
            "mpi rank {}/{}: {}",
            self.rank,
            self.size,
            self.inner.describe()
        )
    }

    fn obs_dim(&self) -> usize {
        self.obs_dim
    }

    /// The members of `members` evaluated here, by this rank alone.
    fn evaluate_members(
        &mut self,
        req: &GenerationRequest<'_>,
        members: Range<usize>,
    ) -> Result<Vec<MemberOutcome>, EngineError> {
        self.inner.evaluate_members(req, members)
    }

    fn evaluate(&mut self, req: &GenerationRequest<'_>) -> Result<GenerationFitness, EngineError> {
        let total = req.members();
        let mine = share(total, self.rank, self.size);
        let start = Instant::now();
        // Deterministic on every rank (same backend, same request), so a refusal here
        // happens on all ranks before any of them enters the collective.
        let outcomes = self.inner.evaluate_members(req, mine.clone())?;
        assert_eq!(outcomes.len(), mine.len(), "outcomes of {mine:?}");
        self.send.clear();
        encode(&outcomes, self.obs_dim, &mut self.send);
        let evaluated = Instant::now();
        // A barrier first (microseconds), so that the time spent waiting for the slowest
        // rank (an uneven split, a busy node) is told apart from the exchange itself.
        SimpleCommunicator::world().barrier();
        let waited = Instant::now();
        self.all_gather(total)?;
        let gathered = Instant::now();
        let all = decode(&self.recv, self.obs_dim);
        let evaluate_s = (evaluated - start).as_secs_f64();
        let wait_s = (waited - evaluated).as_secs_f64();
        let allgather_s = (gathered - waited).as_secs_f64();
        let fraction = allgather_s / (gathered - start).as_secs_f64().max(1e-12);
        if self.rank == 0 {
            tracing::info!(
                generation = req.generation,
                members = mine.len(),
                evaluate_s,
                wait_s,
                allgather_s,
                allgather_fraction = fraction,
                "distributed evaluation"
            );
        } else {
            tracing::debug!(
                rank = self.rank,
                generation = req.generation,
                members = mine.len(),
                evaluate_s,
                wait_s,
                allgather_s,
                allgather_fraction = fraction,
                "distributed evaluation"
            );
        }
        Ok(GenerationFitness::from_members(
            req.population,
            self.obs_dim,
            &all,
        ))
    }

    fn reductions(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
    ) -> Result<Reductions, EngineError> {
        // Split by coordinates, not by members: each rank samples its words of every
        // train genome and sums over all members in member order, exactly as one
        // process does for those coordinates, so the gathered A and B are bit-identical
        // (summing partial sums over members across ranks would not be).
        let start = Instant::now();
        let dim = req.thresholds.len();
        let words = words_for(dim);
        let mine = share(words, self.rank, self.size);
        assert_eq!(
            utilities.len(),
            req.population,
            "one utility per train member"
        );
        self.block.clear();
        self.block.resize(mine.len() * req.population, 0);
        if !mine.is_empty() {
            self.block
                .par_chunks_mut(mine.len())
                .enumerate()
                .for_each(|(k, out)| {
                    distribution::sample_words(
                        req.thresholds,
                        req.seed,
                        req.generation,
                        k as u32,
                        mine.start,
                        out,
                    )
                });
        }
        let part = distribution::reductions(&self.block, mine.len() * 64, utilities);
        let computed = Instant::now();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        gather_words(&part.a, words, self.size, &mut a);
        gather_words(&part.b, words, self.size, &mut b);
        a.truncate(dim);
        b.truncate(dim);
        tracing::debug!(
            rank = self.rank,
            generation = req.generation,
            words = mine.len(),
            reductions_s = (computed - start).as_secs_f64(),
            allgather_s = computed.elapsed().as_secs_f64(),
            "coordinate-split reductions"
        );
        Ok(Reductions {
            a,
            b,
            u1: part.u1,
            u2: part.u2,
            population: req.population,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_exactly_once_in_order() {
        for total in 0..40 {
            for size in 1..12 {
                let mut next = 0;
                let mut lens = Vec::new();
                for rank in 0..size {
                    let r = share(total, rank, size);
                    assert_eq!(r.start, next, "total {total} size {size} rank {rank}");
                    assert!(r.end >= r.start);
                    next = r.end;
                    lens.push(r.len());
                }
                assert_eq!(next, total, "total {total} size {size}");
                let (lo, hi) = (lens.iter().min().unwrap(), lens.iter().max().unwrap());
                assert!(hi - lo <= 1, "balanced: {lens:?}");
            }
        }
    }

    #[test]
    fn fewer_members_than_ranks_leaves_empty_shares() {
        assert_eq!(share(2, 0, 3), 0..1);
        assert_eq!(share(2, 1, 3), 1..2);
        assert_eq!(share(2, 2, 3), 2..2);
        assert_eq!(share(0, 1, 2), 0..0);
        assert_eq!(share(7, 2, 3), 5..7);
    }

    #[test]
    fn encoding_round_trips_bits() {
        let outcomes = vec![
            MemberOutcome {
                fitness: -0.0,
                env_steps: u64::MAX,
                obs_stats: ObsStats {
                    count: 3,
                    mean: vec![f64::NAN, 1e-310],
                    m2: vec![f64::INFINITY, -2.5],
                },
            },
            MemberOutcome {
                fitness: 0.1 + 0.2,
                env_steps: 0,
                obs_stats: ObsStats::new(2),
            },
        ];
        let mut words = Vec::new();
        encode(&outcomes, 2, &mut words);
        assert_eq!(words.len(), 2 * words_per_member(2));
        let back = decode(&words, 2);
        let bits = |o: &[MemberOutcome]| -> Vec<u64> {
            let mut w = Vec::new();
            encode(o, 2, &mut w);
            w
        };
        assert_eq!(bits(&back), words);
        assert_eq!(back[1], outcomes[1]);
        assert_eq!(back[0].fitness.to_bits(), (-0.0f64).to_bits());
    }

    #[test]
    fn no_launcher_means_one_process() {
        // The test harness is not started by mpirun (and must not initialise MPI:
        // that can happen once per process).
        if launched_by_mpi() {
            return;
        }
        let w = World::init().unwrap();
        assert_eq!((w.rank(), w.size(), w.is_mpi()), (0, 1, false));
        assert!(w.any(true) && !w.any(false));
    }
}
