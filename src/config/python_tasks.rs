//! The `[gym]` and `[brax]` sections: options of the tasks only the Python package
//! runs (`gym:<id>`, `brax:<env>`). The core reads them so that one config file
//! serves both the binary and the package.

use serde::{Deserialize, Serialize};

/// How a `gym:<id>` task builds its Gymnasium vector env (`gymnasium.make_vec`'s
/// `vectorization_mode`). Only the Python package runs such tasks; the core reads the
/// key so that one config file serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GymVectorization {
    /// `SyncVectorEnv`: one Python env per member, each reset from its own episode key.
    #[default]
    Sync,
    /// `AsyncVectorEnv`: one process per member, each reset from its own episode key.
    Async,
    /// The environment's own vector implementation (Gymnasium's numpy
    /// `CartPoleVectorEnv`, say): fast, but reset whole, one seed per chunk and
    /// episode, so a member's episode also depends on the chunk it is in.
    VectorEntryPoint,
}

impl GymVectorization {
    /// `gymnasium.make_vec`'s name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GymVectorization::Sync => "sync",
            GymVectorization::Async => "async",
            GymVectorization::VectorEntryPoint => "vector_entry_point",
        }
    }
}

/// Options of `gym:<id>` tasks, the `[gym]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GymConfig {
    /// How the vector env is built (default `sync`).
    pub vectorization: GymVectorization,
    /// Threads that step the live sub-environments of a plain `SyncVectorEnv`, each
    /// taking its share (default 1). A simulator that releases the GIL while it steps
    /// (MuJoCo) then runs on several cores; sub-environments must share no mutable
    /// state, or their episodes would depend on the threads' interleaving.
    pub step_threads: usize,
}

/// Most `gym.step_threads`.
pub const MAX_STEP_THREADS: usize = 256;

impl Default for GymConfig {
    fn default() -> Self {
        GymConfig {
            vectorization: GymVectorization::default(),
            step_threads: 1,
        }
    }
}

/// Brax's physics backend for a `brax:<env>` task (the Python package's JAX
/// adapter, `satr.brax`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BraxBackend {
    /// Brax's default: generalized coordinates.
    #[default]
    Generalized,
    /// Position-based dynamics.
    Positional,
    /// Spring-based contacts.
    Spring,
    /// MuJoCo XLA.
    Mjx,
}

impl BraxBackend {
    /// Brax's name for it (`brax.envs.get_environment(..., backend=...)`).
    pub fn as_str(self) -> &'static str {
        match self {
            BraxBackend::Generalized => "generalized",
            BraxBackend::Positional => "positional",
            BraxBackend::Spring => "spring",
            BraxBackend::Mjx => "mjx",
        }
    }
}

/// Options of `brax:<env>` tasks, the `[brax]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BraxConfig {
    /// The physics backend (default `generalized`).
    pub backend: BraxBackend,
}
