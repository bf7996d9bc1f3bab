//! The processes of a run: with the `distributed` feature, the MPI world (see
//! [`crate::distributed`]); without it, always one process.

#[cfg(feature = "distributed")]
pub use crate::distributed::World;

/// Without the `distributed` feature every process is alone.
#[cfg(not(feature = "distributed"))]
#[derive(Debug)]
pub struct World;

#[cfg(not(feature = "distributed"))]
impl World {
    /// The world of this process: itself.
    pub fn init() -> Result<World, std::convert::Infallible> {
        Ok(World)
    }
    /// Always 0.
    pub fn rank(&self) -> usize {
        0
    }
    /// Always 1.
    pub fn size(&self) -> usize {
        1
    }
    /// Nothing to abort.
    pub fn abort(&self, _code: i32) {}
}

/// How the processes of a run agree to stop together (none needed when alone).
pub fn stop_vote(world: &World) -> Option<fn(bool) -> bool> {
    #[cfg(feature = "distributed")]
    if world.size() > 1 {
        return Some(crate::distributed::any_rank as fn(bool) -> bool);
    }
    let _ = world;
    None
}
