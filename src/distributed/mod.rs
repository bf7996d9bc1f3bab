//! Training over several processes with MPI (`mpirun -n R satr train ...`).
//!
//! Every rank holds the whole state (`p`, optimizer, normaliser) and computes the same
//! update in the same order; only the members' evaluation is split. Rank `r` runs the
//! contiguous slice [`share`] of members `0..P+E`, then all ranks all-gather the
//! per-member outcomes as raw `f64`/`u64` bits and merge them in member order, so each
//! rank sees exactly what one process would have computed. Genomes never cross the
//! network: any rank regenerates any genome from `(seed, generation, member)`. The
//! reductions `A`, `B` are split by coordinates instead: each rank reduces its genome
//! words over all members with the wrapped backend's own arithmetic
//! ([`PopulationEvaluator::reductions_of_words`]: the CPU's f64 sums in member order,
//! the GPU's exact fixed-point sums), and the ranks all-gather the sums, which are then
//! bit-identical to one process's on the same backend.
//!
//! [`PopulationEvaluator::reductions_of_words`]: crate::evaluation::PopulationEvaluator::reductions_of_words

mod evaluator;
mod wire;
mod world;

pub use self::evaluator::DistributedEvaluator;
pub use self::wire::{decode, encode, share, words_per_member};
pub use self::world::{any_rank, launched_by_mpi, DistributedError, World};
