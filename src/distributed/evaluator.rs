//! [`DistributedEvaluator`]: one population over the ranks, bit-identical to one process.

use std::ops::Range;
use std::time::Instant;

use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Count;

use super::wire::{decode, encode, share, words_per_member};
use super::world::World;
use crate::distribution::{coordinates_of_words, words_for, Reductions};
use crate::evaluation::{
    EngineError, GenerationFitness, GenerationRequest, MemberOutcome, PopulationEvaluator,
};

/// Spreads each generation's members over the ranks of `MPI_COMM_WORLD`; every rank
/// gets the whole generation's fitness back.
pub struct DistributedEvaluator {
    inner: Box<dyn PopulationEvaluator>,
    obs_dim: usize,
    rank: usize,
    size: usize,
    send: Vec<u64>,
    recv: Vec<u64>,
}

/// All-gathers `mine` (this rank's coordinates of [`coordinates_of_words`] for its
/// share of the words `0..words`) into `out`, in coordinate order (`dim` values).
fn gather_coordinates(mine: &[f64], words: usize, dim: usize, size: usize, out: &mut Vec<f64>) {
    assert!(
        dim <= Count::MAX as usize,
        "genome too long for one MPI message"
    );
    let coords = |r| coordinates_of_words(&share(words, r, size), dim);
    let counts: Vec<Count> = (0..size).map(|r| coords(r).len() as Count).collect();
    let displs: Vec<Count> = (0..size).map(|r| coords(r).start as Count).collect();
    out.clear();
    out.resize(dim, 0.0);
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
        // Split by coordinates, not by members: each rank reduces its words of every
        // train genome over all members with the wrapped backend's own arithmetic
        // (the CPU's f64 sums in member order, the GPU's exact fixed-point sums), so the
        // gathered A and B are bit-identical to one process on the same backend
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
        // Deterministic on every rank, so a refusal happens on all of them before the
        // collective.
        let part = self
            .inner
            .reductions_of_words(req, utilities, mine.clone())?;
        let coords = coordinates_of_words(&mine, dim);
        assert!(
            part.a.len() == coords.len() && part.b.len() == coords.len(),
            "{}: reductions of words {mine:?} gave {} and {} coordinates, not {}",
            self.inner.describe(),
            part.a.len(),
            part.b.len(),
            coords.len()
        );
        let computed = Instant::now();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        gather_coordinates(&part.a, words, dim, self.size, &mut a);
        gather_coordinates(&part.b, words, dim, self.size, &mut b);
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

    /// This rank's words alone, by the wrapped backend.
    fn reductions_of_words(
        &mut self,
        req: &GenerationRequest<'_>,
        utilities: &[f64],
        words: Range<usize>,
    ) -> Result<Reductions, EngineError> {
        self.inner.reductions_of_words(req, utilities, words)
    }
}
