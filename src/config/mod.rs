//! Run configuration: TOML files, `--set key=value` overrides, validation.

pub mod error;
mod overrides;
mod python_tasks;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use self::error::ConfigError;
use self::overrides::apply_override;
pub use self::python_tasks::{
    BraxBackend, BraxConfig, GymConfig, GymVectorization, MAX_STEP_THREADS,
};
use crate::evaluation::Stepping;
use crate::network::{NetworkConfig, Shape};
use crate::optimizer::OptimizerConfig;
use crate::tasks::registry;
use crate::tasks::{available_tasks, TaskError, TaskSpec};

/// Which engine evaluates populations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// A hardware GPU adapter if there is one (software rasterisers such as lavapipe do
    /// not count), else the CPU path with a warning.
    Auto,
    /// The wgpu backend on whatever adapter is selected (lavapipe included); an error
    /// if there is none.
    Gpu,
    /// The CPU bitset engine.
    Cpu,
}

impl std::str::FromStr for Backend {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "gpu" => Ok(Backend::Gpu),
            "cpu" => Ok(Backend::Cpu),
            other => Err(ConfigError::range(
                "backend",
                format!("\"{other}\""),
                "\"auto\", \"gpu\" or \"cpu\"",
            )),
        }
    }
}

/// The evaluation protocol (SPEC 5), the `[evaluation]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvaluationConfig {
    /// Eval members `E` running the mode genome each generation.
    pub eval_members: usize,
    /// Episodes averaged into one member's fitness.
    pub episodes_per_member: usize,
    /// Cap on episode length; 0 means the task's own limit.
    pub max_episode_steps: usize,
    /// Normalised observations are clipped to `[-clip_obs, clip_obs]`.
    pub clip_obs: f64,
    /// How the CPU backend steps tasks: `auto`, `per_member` or `lockstep` (the same
    /// results either way; the GPU's host-task mode always runs in lockstep).
    pub stepping: Stepping,
    /// Replay the first eval member's episodes each generation to measure the cost
    /// figures (`spikes_per_step`, ...). Off, those fields are null: for environments
    /// whose step costs the same for one member as for a batch (JAX, Brax), the replay
    /// costs as much as the whole population's episodes.
    pub cost_figures: bool,
}

impl Default for EvaluationConfig {
    fn default() -> Self {
        EvaluationConfig {
            eval_members: 16,
            episodes_per_member: 1,
            max_episode_steps: 0,
            clip_obs: 5.0,
            stepping: Stepping::Auto,
            cost_figures: true,
        }
    }
}

/// Where the GPU backend runs the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuMode {
    /// Whole episodes on the GPU, task included (in f32), one dispatch per chunk;
    /// falls back to `host` for tasks without a WGSL version.
    Generation,
    /// The network on the GPU, the task on CPU threads (f64), one round trip per
    /// environment step: the same fitness as the CPU backend, bit for bit.
    Host,
}

/// GPU backend options, the `[gpu]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuConfig {
    pub mode: GpuMode,
}

impl Default for GpuConfig {
    fn default() -> Self {
        GpuConfig {
            mode: GpuMode::Generation,
        }
    }
}

/// Where and how a run writes its outputs, the `[run]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Parent folder of run directories.
    pub out_dir: String,
    /// Run directory name; empty means `<task>-<seed>-<timestamp>`.
    pub name: String,
    /// Write a checkpoint every this many generations (0 = only at the end).
    pub checkpoint_every: usize,
    /// Stop early once the eval return reaches this value (unset = run all generations).
    pub target_return: Option<f64>,
    /// Stop once the run has taken this many env steps, train and eval members
    /// together (unset = run all generations, which stay the cap): runs of different
    /// rules then compare at equal environment steps.
    pub max_env_steps: Option<u64>,
    /// Also write every generation's numeric metrics as TensorBoard scalars, into
    /// `<run>/tensorboard/` (a new events file each time the run starts or resumes).
    pub tensorboard: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            out_dir: "runs".into(),
            name: String::new(),
            checkpoint_every: 10,
            target_return: None,
            max_env_steps: None,
            tensorboard: false,
        }
    }
}

/// A complete run configuration: what `config.toml` in a run directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Run seed: every random draw derives from it (SPEC 3).
    pub seed: u64,
    /// Task name (see `satr info`).
    pub task: String,
    pub backend: Backend,
    /// Generations to run.
    pub generations: usize,
    /// Train members `P` per generation.
    pub population: usize,
    pub network: NetworkConfig,
    pub optimizer: OptimizerConfig,
    pub evaluation: EvaluationConfig,
    pub gpu: GpuConfig,
    pub run: RunConfig,
    pub gym: GymConfig,
    pub brax: BraxConfig,
}

/// The built-in default is the CartPole preset (`configs/cartpole.toml`); the network
/// keys not set there keep SPEC 1's defaults.
impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            task: "cartpole".into(),
            backend: Backend::Auto,
            generations: 50,
            population: 128,
            network: NetworkConfig {
                neurons: 64,
                ..NetworkConfig::default()
            },
            optimizer: OptimizerConfig {
                epsilon: 30.0,
                ..OptimizerConfig::default()
            },
            evaluation: EvaluationConfig::default(),
            gpu: GpuConfig::default(),
            run: RunConfig::default(),
            gym: GymConfig::default(),
            brax: BraxConfig::default(),
        }
    }
}

/// Largest population a run accepts (member indices are u32 counter words, and the
/// CPU path keeps every train genome in memory for the reductions).
pub const MAX_POPULATION: usize = 1 << 24;

impl Config {
    /// Parses a TOML document, applies `key=value` overrides (dotted keys, TOML values;
    /// a bare word is taken as a string), and validates the result.
    pub fn from_toml_with_overrides(text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let cfg = Self::parse_with_overrides(text, overrides)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`Config::from_toml_with_overrides`] without the validation (for a caller
    /// that validates otherwise, as [`crate::app::strategy::Strategy`] does without a
    /// task).
    pub fn parse_with_overrides(text: &str, overrides: &[String]) -> Result<Self, ConfigError> {
        let base: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        let mut table = base.clone();
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let cfg = match Self::from_table(&table) {
            Ok(cfg) => cfg,
            Err(e) => return Err(Self::blame(base, overrides).unwrap_or(e)),
        };
        Ok(cfg)
    }

    /// Round-trips through text so errors carry the key and a snippet of the line.
    fn from_table(table: &toml::Table) -> Result<Self, ConfigError> {
        let resolved = toml::to_string(table).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        toml::from_str(&resolved).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// The error of the first override that breaks a config the base alone parses
    /// into, prefixed with that `--set` (the snippet of a table value alone would not
    /// name its key); `None` if the base itself is at fault.
    fn blame(mut table: toml::Table, overrides: &[String]) -> Option<ConfigError> {
        Self::from_table(&table).ok()?;
        for o in overrides {
            apply_override(&mut table, o).ok()?;
            if let Err(e) = Self::from_table(&table) {
                return Some(ConfigError::Invalid(format!("--set `{o}`: {e}")));
            }
        }
        None
    }

    /// Reads a config file (or the defaults when `path` is `None`) with overrides.
    pub fn load(path: Option<&Path>, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|e| {
                ConfigError::Invalid(format!("cannot read config {}: {e}", p.display()))
            })?,
            None => String::new(),
        };
        Self::from_toml_with_overrides(&text, overrides).map_err(|e| match (path, e) {
            (Some(p), ConfigError::Invalid(m)) => {
                ConfigError::Invalid(format!("{}: {m}", p.display()))
            }
            (_, e) => e,
        })
    }

    /// Resolves the config's task in the registry: a run does this once and passes
    /// the spec to everything that needs the task.
    pub fn resolve_task(&self) -> Result<Arc<TaskSpec>, TaskError> {
        registry::find(&self.task)
    }

    /// The episode step cap: `evaluation.max_episode_steps`, or the task's own limit when 0.
    pub fn episode_step_limit(&self, task: &TaskSpec) -> usize {
        match self.evaluation.max_episode_steps {
            0 => task.max_episode_steps(),
            n => n,
        }
    }

    /// The network shape for `task` (the config's resolved task).
    pub fn shape_for(&self, task: &TaskSpec) -> Shape {
        Shape::new(&self.network, task.obs_dim(), task.action().outputs())
    }

    /// The network shape for the config's task, resolving it (for callers that hold
    /// no resolved task, such as tests and one-off tools).
    pub fn shape(&self) -> Result<Shape, TaskError> {
        Ok(self.shape_for(&*self.resolve_task()?))
    }

    /// The fully resolved config as TOML (written to `config.toml` of a run).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    /// Checks every value; errors name the key and the allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let tasks = available_tasks();
        if !tasks.contains(&self.task) {
            let mut allowed = format!("one of {}", tasks.join(", "));
            if registry::lookup(&self.task).is_ok_and(|t| t.mujoco()) {
                allowed += " (MuJoCo tasks need satr built with `--features mujoco`, see README)";
            }
            return Err(ConfigError::range(
                "task",
                format!("\"{}\"", self.task),
                &allowed,
            ));
        }
        self.validate_settings()
    }

    /// Checks every value but `task` (which [`Config::validate`] also looks up in the
    /// registry): what a caller that brings its own environment needs
    /// ([`crate::app::strategy::Strategy`]).
    pub fn validate_settings(&self) -> Result<(), ConfigError> {
        if self.generations == 0 {
            return Err(ConfigError::range("generations", 0, ">= 1"));
        }
        if self.population < 2 || self.population > MAX_POPULATION {
            return Err(ConfigError::range(
                "population",
                self.population,
                &format!("2..={MAX_POPULATION}"),
            ));
        }
        let e = &self.evaluation;
        if e.eval_members > MAX_POPULATION {
            return Err(ConfigError::range(
                "evaluation.eval_members",
                e.eval_members,
                &format!("0..={MAX_POPULATION}"),
            ));
        }
        if e.episodes_per_member == 0 || e.episodes_per_member > 1 << 20 {
            return Err(ConfigError::range(
                "evaluation.episodes_per_member",
                e.episodes_per_member,
                "1..=1048576",
            ));
        }
        if !(e.clip_obs.is_finite() && e.clip_obs > 0.0) {
            return Err(ConfigError::range(
                "evaluation.clip_obs",
                e.clip_obs,
                "a finite number > 0",
            ));
        }
        if let Some(t) = self.run.target_return {
            if !t.is_finite() {
                return Err(ConfigError::range(
                    "run.target_return",
                    t,
                    "a finite number",
                ));
            }
        }
        if !(1..=MAX_STEP_THREADS).contains(&self.gym.step_threads) {
            return Err(ConfigError::range(
                "gym.step_threads",
                self.gym.step_threads,
                &format!("1..={MAX_STEP_THREADS}"),
            ));
        }
        if self.run.max_env_steps == Some(0) {
            return Err(ConfigError::range(
                "run.max_env_steps",
                0,
                "a number of steps >= 1 (or unset)",
            ));
        }
        self.network.validate()?;
        self.optimizer.validate()?;
        Ok(())
    }

    /// Whether a run that has completed `generation` generations and `env_steps`
    /// env steps has nothing left to run (the target return aside).
    pub fn run_complete(&self, generation: u32, env_steps: u64) -> bool {
        generation as usize >= self.generations
            || self.run.max_env_steps.is_some_and(|b| env_steps >= b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_roundtrip() {
        let c = Config::default();
        c.validate().unwrap();
        let back = Config::from_toml_with_overrides(&c.to_toml(), &[]).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn overrides_apply() {
        let c = Config::from_toml_with_overrides(
            "seed = 3\n[network]\nneurons = 64\n",
            &[
                "optimizer.epsilon=2.5".into(),
                "task=pendulum".into(),
                "network.neurons=32".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.seed, 3);
        assert_eq!(c.optimizer.epsilon, 2.5);
        assert_eq!(c.task, "pendulum");
        assert_eq!(c.network.neurons, 32);
    }

    #[test]
    fn errors_name_the_key() {
        let e = Config::from_toml_with_overrides("", &["network.nuerons=3".into()]).unwrap_err();
        assert!(e.to_string().contains("nuerons"), "{e}");
        let e = Config::from_toml_with_overrides("population = \"many\"", &[]).unwrap_err();
        assert!(e.to_string().contains("population"), "{e}");
        let e = Config::from_toml_with_overrides("population = 1", &[]).unwrap_err();
        assert!(
            e.to_string().contains("population") && e.to_string().contains("2.."),
            "{e}"
        );
        let e = Config::from_toml_with_overrides("task = \"nope\"", &[]).unwrap_err();
        assert!(e.to_string().contains("cartpole"), "{e}");
        let e = Config::from_toml_with_overrides("[evaluation]\nclip_obs = -1.0", &[]).unwrap_err();
        assert!(e.to_string().contains("evaluation.clip_obs"), "{e}");
        let e = Config::from_toml_with_overrides("[run]\ntensorboard = \"yes\"", &[]).unwrap_err();
        assert!(e.to_string().contains("tensorboard"), "{e}");
        let e = Config::from_toml_with_overrides("bogus = 1", &[]).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }
}
