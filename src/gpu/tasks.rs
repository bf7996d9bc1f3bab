//! The built-in control tasks in WGSL (`shaders/task_<name>.wgsl`), and test kernels
//! that step, reset and roll them out in batches (`shaders/task_step.wgsl`).
//!
//! # The task interface
//!
//! Each task file is self-contained (it needs nothing from `common.wgsl`) and declares
//! at top level only these names, plus private helpers prefixed with the task's name
//! (`cartpole_`, `acrobot_`, `pendulum_`, `mountaincar_`):
//!
//! ```text
//! const TASK_STATE_DIM: u32;       // f32 values in TaskState.s
//! const TASK_OBS_DIM: u32;
//! const TASK_ACT_DIM: u32;         // network outputs: discrete actions, or continuous dims
//! const TASK_DISCRETE: bool;
//! const TASK_MAX_STEPS: u32;       // Gymnasium's TimeLimit
//! const TASK_RESET_UNIFORMS: u32;  // how many of task_reset's 8 uniforms it reads (<= 4)
//! struct TaskState { s: array<f32, TASK_STATE_DIM>, steps: u32, flags: u32 }
//! struct TaskStep { reward: f32, terminated: bool, truncated: bool }
//! fn task_reset(u: array<f32, 8>) -> TaskState
//! fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM>
//! fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep
//! ```
//!
//! * `TaskState` has the same members for every task and only `f32`/`u32` ones, so it is
//!   host-shareable: kernels may keep it in storage buffers (`array<TaskState>`, stride
//!   `4 * (TASK_STATE_DIM + 2)` bytes). `s` is the Gymnasium state in the CPU task's order
//!   ([`crate::tasks::Task::state`]); `steps` counts steps since the reset; `flags` bit 0
//!   is CartPole's "a terminal step already happened" (0 for the other tasks).
//! * `task_reset` reads `u[0..TASK_RESET_UNIFORMS]`, uniforms in `[0, 1)`, in the order the
//!   CPU reset calls its `uniform()` ([`crate::cpu`]'s `run_member`: word `j` of the
//!   stream `StreamReader::new(seed, generation, member, stream_word(STREAM_RESET, episode))`,
//!   `u = word * 2^-32`). No task needs more than 4, so one Philox block per episode is
//!   enough; the fixed length 8 leaves room. On the GPU, round `u` to f32 and keep it
//!   below 1 (a word above `2^32 - 2^7` rounds to 1.0): the reset then matches the CPU to
//!   f32 rounding.
//! * `task_step` takes the raw network outputs and maps them as
//!   [`crate::evaluation::action_from_output`] does (discrete: argmax, lowest index on
//!   ties; continuous: `clip(out, -1, 1)` scaled onto `[low, high]`), steps, counts the
//!   step and reports `truncated` when `steps >= TASK_MAX_STEPS`, as the CPU tasks do.
//!
//! Everything is f32. The math keeps the CPU's expressions and order; the places where
//! f32 needs care (angle wraps, the pendulum's floored modulo) are commented in the
//! shaders.

use std::borrow::Cow;
use std::sync::mpsc;

use bytemuck::{Pod, Zeroable};
use thiserror::Error;

use crate::tasks::TASK_NAMES;

/// The step/reset/episode test kernels, appended to a task's source.
pub const TASK_KERNEL_WGSL: &str = include_str!("../../shaders/task_step.wgsl");

/// Invocations per workgroup of the test kernels (`STEP_WORKGROUP` in the shader).
pub const TASK_KERNEL_WORKGROUP: u32 = 64;

/// Length of `task_reset`'s uniform array.
pub const RESET_UNIFORMS_LEN: usize = 8;

/// The value every output word is set to before a run (a NaN as f32, not 0 or 1 as a
/// flag), so that anything a kernel fails to write shows.
pub const POISON: u32 = 0xFFFF_FFFF;

/// Errors from building or running the task kernels.
#[derive(Debug, Error)]
pub enum GpuTaskError {
    /// No task has this name.
    #[error("unknown task `{0}`")]
    UnknownTask(String),
    /// A shader failed to parse or validate (the message has naga's diagnostic).
    #[error("shader `{name}`: {message}")]
    Shader { name: String, message: String },
    /// The host passed inputs of the wrong shape.
    #[error("bad input: {0}")]
    Input(String),
    /// Waiting for or mapping a buffer failed.
    #[error("device: {0}")]
    Device(String),
}

/// The WGSL source of a task (one of [`TASK_NAMES`]).
pub fn task_wgsl(name: &str) -> Option<&'static str> {
    Some(match name {
        "cartpole" => concat!(
            include_str!("../../shaders/task_cartpole.wgsl"),
            include_str!("../../shaders/cartpole_dynamics.wgsl")
        ),
        "cartpole-pos" => concat!(
            include_str!("../../shaders/task_cartpole_pos.wgsl"),
            include_str!("../../shaders/cartpole_dynamics.wgsl")
        ),
        "acrobot" => include_str!("../../shaders/task_acrobot.wgsl"),
        "pendulum" => include_str!("../../shaders/task_pendulum.wgsl"),
        "mountaincar-continuous" => include_str!("../../shaders/task_mountaincar_continuous.wgsl"),
        _ => return None,
    })
}

/// The task's source followed by the test kernels.
pub fn compose_kernel_source(name: &str) -> Result<String, GpuTaskError> {
    let task = task_wgsl(name).ok_or_else(|| GpuTaskError::UnknownTask(name.to_string()))?;
    Ok(format!("{task}\n{TASK_KERNEL_WGSL}"))
}

/// Parses and validates WGSL with naga; errors carry naga's rendered diagnostic.
pub fn validate_wgsl(name: &str, source: &str) -> Result<naga::Module, GpuTaskError> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| GpuTaskError::Shader {
        name: name.to_string(),
        message: e.emit_to_string(source),
    })?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .map_err(|e| GpuTaskError::Shader {
        name: name.to_string(),
        message: e.emit_to_string(source),
    })?;
    Ok(module)
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

fn constant_literal(module: &naga::Module, name: &str) -> Option<naga::Literal> {
    let (_, c) = module
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))?;
    match module.global_expressions[c.init] {
        naga::Expression::Literal(lit) => Some(lit),
        _ => None,
    }
}

/// Reads the `TASK_*` constants of a task's shader.
pub fn task_layout(name: &str) -> Result<TaskLayout, GpuTaskError> {
    let source = task_wgsl(name).ok_or_else(|| GpuTaskError::UnknownTask(name.to_string()))?;
    let module = validate_wgsl(name, source)?;
    let missing = |what: &str| GpuTaskError::Shader {
        name: name.to_string(),
        message: format!("missing or non-literal constant {what}"),
    };
    let uint = |what: &str| match constant_literal(&module, what) {
        Some(naga::Literal::U32(v)) => Ok(v),
        _ => Err(missing(what)),
    };
    let discrete = match constant_literal(&module, "TASK_DISCRETE") {
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

/// A `TaskState` on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTaskState {
    /// The simulator state (`TASK_STATE_DIM` values).
    pub s: Vec<f32>,
    /// Steps since the reset.
    pub steps: u32,
    /// Task flags (CartPole: bit 0 = a terminal step already happened).
    pub flags: u32,
}

/// One entry of the kernels' result buffer (`StepResult` in the shader).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Pod, Zeroable)]
pub struct StepResult {
    /// The step's reward, or the episode's return (summed in f32).
    pub reward: f32,
    /// 1 if the (last) step terminated, else 0.
    pub terminated: u32,
    /// 1 if the (last) step truncated, else 0.
    pub truncated: u32,
    /// Steps of the episode (`episodes` only; 0 otherwise).
    pub steps: u32,
}

/// What a batch run reads back.
#[derive(Debug, Clone)]
pub struct TaskBatch {
    /// The new (or final) states.
    pub states: Vec<HostTaskState>,
    /// Observations of those states, `obs_dim` per entry.
    pub obs: Vec<f32>,
    /// One result per entry.
    pub results: Vec<StepResult>,
}

#[derive(Clone, Copy)]
enum Mode {
    Step,
    Reset,
    Episode,
}

/// Compiled test kernels of one task.
pub struct TaskKernels {
    name: &'static str,
    layout: TaskLayout,
    bind_group_layout: wgpu::BindGroupLayout,
    step: wgpu::ComputePipeline,
    reset: wgpu::ComputePipeline,
    episode: wgpu::ComputePipeline,
}

fn storage_entry(binding: u32, read_only: bool) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl TaskKernels {
    /// Validates the task's kernels with naga and builds the three pipelines.
    pub fn new(device: &wgpu::Device, name: &str) -> Result<Self, GpuTaskError> {
        let name = *TASK_NAMES
            .iter()
            .find(|n| **n == name)
            .ok_or_else(|| GpuTaskError::UnknownTask(name.to_string()))?;
        let layout = task_layout(name)?;
        let source = compose_kernel_source(name)?;
        validate_wgsl(name, &source)?;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&format!("task_step[{name}]")),
            source: wgpu::ShaderSource::Wgsl(Cow::Owned(source)),
        });
        let uniform = wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&format!("task_step[{name}] bind group layout")),
            entries: &[
                uniform,
                storage_entry(1, false),
                storage_entry(2, true),
                storage_entry(3, false),
                storage_entry(4, false),
                storage_entry(5, true),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(&format!("task_step[{name}] pipeline layout")),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&format!("task_step[{name}] {entry}")),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Ok(TaskKernels {
            name,
            layout,
            step: pipeline("step_main"),
            reset: pipeline("reset_main"),
            episode: pipeline("episode_main"),
            bind_group_layout,
        })
    }

    /// The task's interface constants.
    pub fn layout(&self) -> TaskLayout {
        self.layout
    }

    /// One `task_step` per entry: `states[i]` under the network outputs
    /// `outputs[i * act_dim..][..act_dim]`.
    pub fn step(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        states: &[HostTaskState],
        outputs: &[f32],
    ) -> Result<TaskBatch, GpuTaskError> {
        let l = self.layout;
        if outputs.len() != states.len() * l.act_dim {
            return Err(GpuTaskError::Input(format!(
                "{} states need {} outputs, got {}",
                states.len(),
                states.len() * l.act_dim,
                outputs.len()
            )));
        }
        let mut words = Vec::with_capacity(states.len() * l.state_words());
        for (i, st) in states.iter().enumerate() {
            if st.s.len() != l.state_dim {
                return Err(GpuTaskError::Input(format!(
                    "state {i} has {} values, the task {}",
                    st.s.len(),
                    l.state_dim
                )));
            }
            words.extend(st.s.iter().map(|v| v.to_bits()));
            words.extend([st.steps, st.flags]);
        }
        self.run(
            device,
            queue,
            Mode::Step,
            states.len(),
            &words,
            outputs,
            &[],
        )
    }

    /// One `task_reset` per entry, from `uniforms[i]`.
    pub fn reset(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        uniforms: &[[f32; RESET_UNIFORMS_LEN]],
    ) -> Result<TaskBatch, GpuTaskError> {
        let flat: Vec<f32> = uniforms.iter().flatten().copied().collect();
        self.run(device, queue, Mode::Reset, uniforms.len(), &[], &flat, &[])
    }

    /// One whole episode per entry: reset from `uniforms[i]`, then step until terminated
    /// or truncated under the linear policy `out[k] = policy[k * (obs_dim + 1) + obs_dim]
    /// + sum_j policy[k * (obs_dim + 1) + j] * obs[j]` (accumulated in `j` order, in f32).
    pub fn episodes(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        uniforms: &[[f32; RESET_UNIFORMS_LEN]],
        policy: &[f32],
    ) -> Result<TaskBatch, GpuTaskError> {
        let l = self.layout;
        let want = l.act_dim * (l.obs_dim + 1);
        if policy.len() != want {
            return Err(GpuTaskError::Input(format!(
                "the policy needs {want} values, got {}",
                policy.len()
            )));
        }
        let flat: Vec<f32> = uniforms.iter().flatten().copied().collect();
        self.run(
            device,
            queue,
            Mode::Episode,
            uniforms.len(),
            &[],
            &flat,
            policy,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        mode: Mode,
        batch: usize,
        state_words: &[u32],
        inputs: &[f32],
        policy: &[f32],
    ) -> Result<TaskBatch, GpuTaskError> {
        let l = self.layout;
        if batch == 0 {
            return Ok(TaskBatch {
                states: Vec::new(),
                obs: Vec::new(),
                results: Vec::new(),
            });
        }
        let workgroups = (batch as u64).div_ceil(TASK_KERNEL_WORKGROUP as u64);
        let max_groups = device.limits().max_compute_workgroups_per_dimension as u64;
        if workgroups > max_groups {
            return Err(GpuTaskError::Input(format!(
                "batch {batch} needs {workgroups} workgroups, the device allows {max_groups}"
            )));
        }
        let name = self.name;
        let label = |what: &str| format!("task_step[{name}] {what}");
        let usage_out = wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_SRC
            | wgpu::BufferUsages::COPY_DST;
        let state_bytes = (batch * l.state_words() * 4) as u64;
        let obs_bytes = (batch * l.obs_dim * 4) as u64;
        let result_bytes = (batch * std::mem::size_of::<StepResult>()) as u64;
        let buffer = |what: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&label(what)),
                // Zero-sized bindings are invalid: keep at least one word.
                size: size.max(4),
                usage,
                mapped_at_creation: false,
            })
        };
        let params = buffer(
            "params",
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        );
        queue.write_buffer(&params, 0, bytemuck::cast_slice(&[batch as u32, 0, 0, 0]));
        let states = buffer("states", state_bytes, usage_out);
        let input_buf = buffer(
            "inputs",
            (inputs.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        let obs = buffer("obs", obs_bytes, usage_out);
        let results = buffer("results", result_bytes, usage_out);
        let policy_buf = buffer(
            "policy",
            (policy.len() * 4) as u64,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        );
        // Poison every output, then write the inputs (step mode's states are both).
        let poison = |buf: &wgpu::Buffer, bytes: u64| {
            let words = vec![POISON; (bytes / 4) as usize];
            queue.write_buffer(buf, 0, bytemuck::cast_slice(&words));
        };
        poison(&states, state_bytes);
        poison(&obs, obs_bytes);
        poison(&results, result_bytes);
        if !state_words.is_empty() {
            queue.write_buffer(&states, 0, bytemuck::cast_slice(state_words));
        }
        if !inputs.is_empty() {
            queue.write_buffer(&input_buf, 0, bytemuck::cast_slice(inputs));
        }
        if !policy.is_empty() {
            queue.write_buffer(&policy_buf, 0, bytemuck::cast_slice(policy));
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&label("bind group")),
            layout: &self.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: states.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: input_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: obs.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: results.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: policy_buf.as_entire_binding(),
                },
            ],
        });
        let (pipeline, entry) = match mode {
            Mode::Step => (&self.step, "step_main"),
            Mode::Reset => (&self.reset, "reset_main"),
            Mode::Episode => (&self.episode, "episode_main"),
        };
        let readback = buffer(
            "readback",
            state_bytes + obs_bytes + result_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some(&label(entry)),
        });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(&label(entry)),
                timestamp_writes: None,
            });
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(workgroups as u32, 1, 1);
        }
        encoder.copy_buffer_to_buffer(&states, 0, &readback, 0, state_bytes);
        encoder.copy_buffer_to_buffer(&obs, 0, &readback, state_bytes, obs_bytes);
        encoder.copy_buffer_to_buffer(
            &results,
            0,
            &readback,
            state_bytes + obs_bytes,
            result_bytes,
        );
        queue.submit([encoder.finish()]);
        let words = read_words(device, &readback)?;
        let (state_part, rest) = words.split_at(batch * l.state_words());
        let (obs_part, result_part) = rest.split_at(batch * l.obs_dim);
        let states = state_part
            .chunks_exact(l.state_words())
            .map(|w| HostTaskState {
                s: w[..l.state_dim]
                    .iter()
                    .map(|&b| f32::from_bits(b))
                    .collect(),
                steps: w[l.state_dim],
                flags: w[l.state_dim + 1],
            })
            .collect();
        Ok(TaskBatch {
            states,
            obs: obs_part.iter().map(|&b| f32::from_bits(b)).collect(),
            results: bytemuck::cast_slice(&result_part[..batch * 4]).to_vec(),
        })
    }
}

/// Maps a `MAP_READ` buffer (after the submission that fills it) and copies it out.
fn read_words(device: &wgpu::Device, buffer: &wgpu::Buffer) -> Result<Vec<u32>, GpuTaskError> {
    let (tx, rx) = mpsc::channel();
    buffer.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuTaskError::Device(format!("poll: {e}")))?;
    rx.recv()
        .map_err(|e| GpuTaskError::Device(format!("map callback: {e}")))?
        .map_err(|e| GpuTaskError::Device(format!("map: {e}")))?;
    let words = {
        let view = buffer
            .get_mapped_range(..)
            .map_err(|e| GpuTaskError::Device(format!("mapped range: {e}")))?;
        bytemuck::cast_slice::<u8, u32>(&view).to_vec()
    };
    buffer.unmap();
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_shader_validates_alone_and_with_the_kernels() {
        for name in TASK_NAMES {
            let source = task_wgsl(name).unwrap();
            if let Err(e) = validate_wgsl(name, source) {
                panic!("{e}");
            }
            if let Err(e) = validate_wgsl(name, &compose_kernel_source(name).unwrap()) {
                panic!("{e}");
            }
        }
        assert!(task_wgsl("nope").is_none());
        assert!(matches!(
            compose_kernel_source("nope"),
            Err(GpuTaskError::UnknownTask(_))
        ));
    }

    #[test]
    fn a_broken_shader_is_reported_with_naga_diagnostics() {
        let err = validate_wgsl("broken", "fn f() -> u32 { return 1.5; }").unwrap_err();
        assert!(matches!(err, GpuTaskError::Shader { .. }));
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

    fn f32_constant(module: &naga::Module, name: &str) -> f32 {
        match constant_literal(module, name) {
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
            let module = validate_wgsl(task, task_wgsl(task).unwrap()).unwrap();
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
    fn the_kernel_workgroup_size_matches_the_shader() {
        let module = validate_wgsl("kernel", &compose_kernel_source("pendulum").unwrap()).unwrap();
        assert_eq!(
            constant_literal(&module, "STEP_WORKGROUP"),
            Some(naga::Literal::U32(TASK_KERNEL_WORKGROUP))
        );
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

    #[test]
    fn task_files_declare_only_the_interface_and_prefixed_helpers() {
        let interface = [
            "TASK_STATE_DIM",
            "TASK_OBS_DIM",
            "TASK_ACT_DIM",
            "TASK_DISCRETE",
            "TASK_MAX_STEPS",
            "TASK_RESET_UNIFORMS",
            "TaskState",
            "TaskStep",
            "task_reset",
            "task_observe",
            "task_step",
        ];
        for name in TASK_NAMES {
            let prefix = match *name {
                "cartpole" | "cartpole-pos" => "cartpole_",
                "mountaincar-continuous" => "mountaincar_",
                other => other,
            };
            let module = validate_wgsl(name, task_wgsl(name).unwrap()).unwrap();
            let names = module
                .constants
                .iter()
                .filter_map(|(_, c)| c.name.clone())
                .chain(module.functions.iter().filter_map(|(_, f)| f.name.clone()))
                .chain(module.types.iter().filter_map(|(_, t)| t.name.clone()));
            for n in names {
                let ok = interface.contains(&n.as_str())
                    || n.to_lowercase().starts_with(prefix.trim_end_matches('_'));
                assert!(ok, "{name}: top-level name `{n}` is not namespaced");
            }
        }
    }
}
