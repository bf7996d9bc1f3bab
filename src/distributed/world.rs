//! This process's place in an MPI job: initialising MPI only under a launcher, the
//! ranks on this node, the collective stop vote, and the GPU adapter per local rank.

use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use thiserror::Error;

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

#[cfg(test)]
mod tests {
    use super::*;

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
