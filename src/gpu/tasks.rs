//! The built-in control tasks in WGSL (`shaders/task_<name>.wgsl`) and the interface
//! they share with the kernels that step them (`episodes.wgsl`, the tests' kernels).
//!
//! # The task interface
//!
//! Every task source is composed under the task header (`TASK_RESET_LEN`, from
//! [`super::plan::task_header`]) and `shaders/task_interface.wgsl`, which declare:
//!
//! ```text
//! const TASK_RESET_LEN: u32 = 8u;  // generated from plan::RESET_UNIFORMS_LEN
//! struct TaskState { s: array<f32, TASK_STATE_DIM>, steps: u32, flags: u32 }
//! struct TaskStep { reward: f32, terminated: bool, truncated: bool }
//! ```
//!
//! A task file needs nothing from `common.wgsl` and declares at top level only these
//! names, plus private helpers prefixed with the task's name (`cartpole_`, `acrobot_`,
//! `pendulum_`, `mountaincar_`), named after their CPU twins where they have one:
//!
//! ```text
//! const TASK_STATE_DIM: u32;       // f32 values in TaskState.s
//! const TASK_OBS_DIM: u32;
//! const TASK_ACT_DIM: u32;         // network outputs: discrete actions, or continuous dims
//! const TASK_DISCRETE: bool;
//! const TASK_MAX_STEPS: u32;       // Gymnasium's TimeLimit
//! const TASK_RESET_UNIFORMS: u32;  // how many of task_reset's uniforms it reads (<= 4)
//! fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState
//! fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM>
//! fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep
//! ```
//!
//! * `TaskState` has the same members for every task and only `f32`/`u32` ones, so it is
//!   host-shareable: kernels may keep it in storage buffers (`array<TaskState>`, stride
//!   `4 * (TASK_STATE_DIM + 2)` bytes, [`TaskLayout::state_words`]). `s` is the
//!   Gymnasium state in the CPU task's order ([`crate::tasks::Task::state`]); `steps`
//!   counts steps since the reset; `flags` bit 0 is CartPole's "a terminal step already
//!   happened" (0 for the other tasks).
//! * `task_reset` reads `u[0..TASK_RESET_UNIFORMS]`, uniforms in `[0, 1)`, in the order
//!   the CPU reset calls its `uniform()` ([`crate::cpu`]'s `run_member`: word `j` of the
//!   stream `StreamReader::new(seed, generation, member, stream_word(STREAM_RESET, episode))`,
//!   `u = word * 2^-32`). No task needs more than 4, so one Philox block per episode is
//!   enough; the length 8 leaves room. On the GPU, round `u` to f32 and keep it below 1
//!   (a word above `2^32 - 2^7` rounds to 1.0): the reset then matches the CPU to f32
//!   rounding.
//! * `task_step` takes the raw network outputs and maps them as
//!   [`crate::evaluation::action_from_output`] does (discrete: argmax, lowest index on
//!   ties; continuous: `clip(out, -1, 1)` scaled onto `[low, high]`), steps, counts the
//!   step and reports `truncated` when `steps >= TASK_MAX_STEPS`, as the CPU tasks do.
//!
//! Everything is f32. The math keeps the CPU's expressions and order; the places where
//! f32 needs care (angle wraps, the pendulum's floored modulo) are commented in the
//! shaders.

use super::shaders::{compose_task, constant, validate};
use crate::evaluation::EngineError;

/// The WGSL source of a task: its registry row's port (`None` for tasks without one,
/// such as the MuJoCo tasks, and for unknown names).
pub fn task_wgsl(name: &str) -> Option<&'static str> {
    crate::tasks::registry::lookup(name).ok()?.wgsl()
}

/// The interface constants of a task, read from its shader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskLayout {
    pub state_dim: usize,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub discrete: bool,
    pub max_steps: u32,
    pub reset_uniforms: usize,
}

impl TaskLayout {
    /// 32-bit words per `TaskState` (`s`, `steps`, `flags`).
    pub fn state_words(&self) -> usize {
        self.state_dim + 2
    }
}

/// Validates a task source composed with the interface and reads its `TASK_*`
/// constants.
pub fn source_layout(name: &str, task_source: &str) -> Result<TaskLayout, EngineError> {
    let module = validate(&compose_task(task_source), name)?;
    let missing =
        |what: &str| EngineError::Gpu(format!("{name}: missing or non-literal constant {what}"));
    let uint = |what: &str| match constant(&module, what) {
        Some(naga::Literal::U32(v)) => Ok(v),
        _ => Err(missing(what)),
    };
    let discrete = match constant(&module, "TASK_DISCRETE") {
        Some(naga::Literal::Bool(b)) => b,
        _ => return Err(missing("TASK_DISCRETE")),
    };
    Ok(TaskLayout {
        state_dim: uint("TASK_STATE_DIM")? as usize,
        obs_dim: uint("TASK_OBS_DIM")? as usize,
        act_dim: uint("TASK_ACT_DIM")? as usize,
        discrete,
        max_steps: uint("TASK_MAX_STEPS")?,
        reset_uniforms: uint("TASK_RESET_UNIFORMS")? as usize,
    })
}

/// The layout of a built-in task ([`task_wgsl`]).
pub fn task_layout(name: &str) -> Result<TaskLayout, EngineError> {
    let source = task_wgsl(name)
        .ok_or_else(|| EngineError::Gpu(format!("no WGSL port of task `{name}`")))?;
    source_layout(name, source)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::plan::RESET_UNIFORMS_LEN;
    use crate::gpu::shaders::{constant_u32, struct_layout, TASK_INTERFACE};
    use crate::tasks::TASK_NAMES;

    fn module(name: &str) -> naga::Module {
        validate(&compose_task(task_wgsl(name).unwrap()), name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_task_shader_validates_with_the_interface() {
        for name in TASK_NAMES {
            module(name);
        }
        assert!(task_wgsl("nope").is_none());
        assert!(matches!(task_layout("nope"), Err(EngineError::Gpu(_))));
    }

    #[test]
    fn a_broken_shader_is_reported_with_naga_diagnostics() {
        let err = validate("fn f() -> u32 { return 1.5; }", "broken").unwrap_err();
        assert!(matches!(err, EngineError::Gpu(_)));
        assert!(err.to_string().contains("broken"), "{err}");
    }

    #[test]
    fn layouts_match_the_cpu_tasks() {
        for name in TASK_NAMES {
            let l = task_layout(name).unwrap();
            let task = crate::tasks::make_task(name).unwrap();
            assert_eq!(l.state_dim, task.state().len(), "{name}");
            assert_eq!(l.obs_dim, task.obs_dim(), "{name}");
            assert_eq!(l.act_dim, task.action_space().outputs(), "{name}");
            assert_eq!(
                l.discrete,
                matches!(task.action_space(), crate::tasks::ActionSpace::Discrete(_)),
                "{name}"
            );
            assert_eq!(l.max_steps as usize, task.max_episode_steps(), "{name}");
            // Count the CPU reset's draws.
            let mut task = crate::tasks::make_task(name).unwrap();
            let mut draws = 0;
            task.reset(&mut || {
                draws += 1;
                0.5
            });
            assert_eq!(l.reset_uniforms, draws, "{name}");
            assert!(l.reset_uniforms <= RESET_UNIFORMS_LEN);
        }
    }

    /// The interface the host relies on: `TaskState` is `state_words` u32 words (the
    /// stride of `array<TaskState>`), and the reset array has the host's length.
    #[test]
    fn the_interface_matches_the_host() {
        for name in TASK_NAMES {
            let m = module(name);
            let l = task_layout(name).unwrap();
            let (span, members) = struct_layout(&m, "TaskState").unwrap();
            assert_eq!(span as usize, 4 * l.state_words(), "{name}");
            let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["s", "steps", "flags"], "{name}");
            assert_eq!(members[1].1 as usize, 4 * l.state_dim, "{name}");
            assert_eq!(
                constant_u32(&m, "TASK_RESET_LEN"),
                Some(RESET_UNIFORMS_LEN as u32)
            );
        }
    }

    fn f32_constant(module: &naga::Module, name: &str) -> f32 {
        match constant(module, name) {
            Some(naga::Literal::F32(v)) => v,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// Every physical constant of the shaders is the CPU's f64 constant rounded once to
    /// f32 (naga folds abstract expressions such as `12.0 * 2.0 * pi / 360.0` in f64).
    #[test]
    fn shader_constants_are_the_cpu_constants_rounded_to_f32() {
        use crate::tasks::{acrobot as a, cartpole as c, mountain_car as m, pendulum as p};
        let pi = std::f64::consts::PI;
        let check = |task: &str, pairs: &[(&str, f64)]| {
            let module = module(task);
            for &(name, cpu) in pairs {
                assert_eq!(f32_constant(&module, name), cpu as f32, "{task}: {name}");
            }
        };
        let cartpole = [
            ("CARTPOLE_GRAVITY", c::GRAVITY),
            ("CARTPOLE_MASS_CART", c::MASS_CART),
            ("CARTPOLE_MASS_POLE", c::MASS_POLE),
            ("CARTPOLE_TOTAL_MASS", c::TOTAL_MASS),
            ("CARTPOLE_HALF_LENGTH", c::HALF_LENGTH),
            ("CARTPOLE_POLEMASS_LENGTH", c::POLEMASS_LENGTH),
            ("CARTPOLE_FORCE_MAG", c::FORCE_MAG),
            ("CARTPOLE_TAU", c::TAU),
            ("CARTPOLE_THETA_THRESHOLD", c::THETA_THRESHOLD),
            ("CARTPOLE_X_THRESHOLD", c::X_THRESHOLD),
            ("CARTPOLE_RESET_BOUND", c::RESET_BOUND),
        ];
        check("cartpole", &cartpole);
        check("cartpole-pos", &cartpole);
        check(
            "acrobot",
            &[
                ("ACROBOT_PI", pi),
                ("ACROBOT_DT", a::DT),
                ("ACROBOT_L1", a::LINK_LENGTH_1),
                ("ACROBOT_M1", a::LINK_MASS_1),
                ("ACROBOT_M2", a::LINK_MASS_2),
                ("ACROBOT_LC1", a::LINK_COM_POS_1),
                ("ACROBOT_LC2", a::LINK_COM_POS_2),
                ("ACROBOT_I1", a::LINK_MOI),
                ("ACROBOT_I2", a::LINK_MOI),
                ("ACROBOT_G", a::GRAVITY),
                ("ACROBOT_MAX_VEL_1", a::MAX_VEL_1),
                ("ACROBOT_MAX_VEL_2", a::MAX_VEL_2),
                ("ACROBOT_RESET_BOUND", a::RESET_BOUND),
            ],
        );
        check(
            "pendulum",
            &[
                ("PENDULUM_PI", pi),
                ("PENDULUM_G", p::GRAVITY),
                ("PENDULUM_M", p::MASS),
                ("PENDULUM_L", p::LENGTH),
                ("PENDULUM_DT", p::DT),
                ("PENDULUM_MAX_TORQUE", p::MAX_TORQUE),
                ("PENDULUM_MAX_SPEED", p::MAX_SPEED),
                ("PENDULUM_RESET_THETADOT", p::RESET_THETADOT),
                ("PENDULUM_TWO_PI_HI", 6.28125),
                ("PENDULUM_TWO_PI_LO", 2.0 * pi - 6.28125),
            ],
        );
        assert_eq!(p::RESET_THETA, pi);
        check(
            "mountaincar-continuous",
            &[
                ("MOUNTAINCAR_MIN_ACTION", m::MIN_ACTION),
                ("MOUNTAINCAR_MAX_ACTION", m::MAX_ACTION),
                ("MOUNTAINCAR_MIN_POSITION", m::MIN_POSITION),
                ("MOUNTAINCAR_MAX_POSITION", m::MAX_POSITION),
                ("MOUNTAINCAR_MAX_SPEED", m::MAX_SPEED),
                ("MOUNTAINCAR_GOAL_POSITION", m::GOAL_POSITION),
                ("MOUNTAINCAR_GOAL_VELOCITY", m::GOAL_VELOCITY),
                ("MOUNTAINCAR_POWER", m::POWER),
                ("MOUNTAINCAR_GRAVITY_COEF", m::GRAVITY_COEF),
                ("MOUNTAINCAR_GOAL_REWARD", m::GOAL_REWARD),
                ("MOUNTAINCAR_ACTION_COST", m::ACTION_COST),
                ("MOUNTAINCAR_RESET_LOW", m::RESET_LOW),
                ("MOUNTAINCAR_RESET_HIGH", m::RESET_HIGH),
            ],
        );
        // HI is exact in 8 bits, so k * HI is exact for |k| < 2^16.
        assert_eq!(6.28125f32.to_bits() & 0xFFFF, 0);
    }

    #[test]
    fn cartpole_variants_share_their_dynamics() {
        let block = |src: &'static str| {
            let begin = src.find("// --- cartpole dynamics (begin) ---").unwrap();
            let end = src.find("// --- cartpole dynamics (end) ---").unwrap();
            &src[begin..end]
        };
        assert_eq!(
            block(task_wgsl("cartpole").unwrap()),
            block(task_wgsl("cartpole-pos").unwrap())
        );
    }

    /// A task file declares the interface names, helpers prefixed with its name, and
    /// nothing that `task_interface.wgsl` or the task header already declare.
    #[test]
    fn task_files_declare_only_the_interface_and_prefixed_helpers() {
        let interface = [
            "TASK_STATE_DIM",
            "TASK_OBS_DIM",
            "TASK_ACT_DIM",
            "TASK_DISCRETE",
            "TASK_MAX_STEPS",
            "TASK_RESET_UNIFORMS",
            "task_reset",
            "task_observe",
            "task_step",
        ];
        let shared = ["TASK_RESET_LEN", "TaskState", "TaskStep"];
        for shared_name in &shared[1..] {
            assert!(TASK_INTERFACE.contains(&format!("struct {shared_name} {{")));
        }
        for name in TASK_NAMES {
            let prefix = match *name {
                "cartpole" | "cartpole-pos" => "cartpole",
                "mountaincar-continuous" => "mountaincar",
                other => other,
            };
            let source = task_wgsl(name).unwrap();
            for shared_name in shared {
                for decl in ["struct", "const", "fn"] {
                    let copy = format!("{decl} {shared_name} ");
                    assert!(!source.contains(&copy), "{name}: declares `{copy}` again");
                }
            }
            let module = module(name);
            let names = module
                .constants
                .iter()
                .filter_map(|(_, c)| c.name.clone())
                .chain(module.functions.iter().filter_map(|(_, f)| f.name.clone()))
                .chain(module.types.iter().filter_map(|(_, t)| t.name.clone()));
            for n in names {
                let ok = interface.contains(&n.as_str())
                    || shared.contains(&n.as_str())
                    || n.to_lowercase().starts_with(prefix);
                assert!(ok, "{name}: top-level name `{n}` is not namespaced");
            }
        }
    }
}
