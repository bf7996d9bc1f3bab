//! Test kernels that step, reset and roll out a WGSL task in batches
//! (`tests/common/task_step.wgsl`, composed after the task), for `tests/gpu/gpu_tasks/`.
//! Built on the library's device layer; every output is poisoned before a run.

use bytemuck::{Pod, Zeroable};
use satr::evaluation::EngineError;
use satr::gpu::device::{bind_group, dispatch, poison, read_words, storage_buffer, uniform_buffer};
use satr::gpu::plan::RESET_UNIFORMS_LEN;
use satr::gpu::shaders::{compose_task, validate};
use satr::gpu::tasks::{task_layout, task_wgsl, TaskLayout};
use satr::gpu::GpuContext;
use satr::tasks::TASK_NAMES;

/// The step/reset/episode test kernels, composed after a task.
pub const TASK_STEP_WGSL: &str = include_str!("task_step.wgsl");

/// Invocations per workgroup of the test kernels (generated as `STEP_WORKGROUP`).
pub const STEP_WORKGROUP: u32 = 64;

/// The test kernels over the built-in task `name`: a header with `STEP_WORKGROUP`,
/// the task with the interface, then `task_step.wgsl`.
pub fn compose_kernel_source(name: &str) -> Option<String> {
    let task = task_wgsl(name)?;
    Some(format!(
        "const STEP_WORKGROUP: u32 = {STEP_WORKGROUP}u;\n{}\n// ---- task_step.wgsl ----\n{TASK_STEP_WGSL}",
        compose_task(task)
    ))
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

/// One entry of the kernels' result buffer; mirrors `StepResult` in the shader.
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
    ctx: GpuContext,
    name: &'static str,
    layout: TaskLayout,
    step: wgpu::ComputePipeline,
    reset: wgpu::ComputePipeline,
    episode: wgpu::ComputePipeline,
}

fn layout_entry(binding: u32, ty: wgpu::BufferBindingType) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

impl TaskKernels {
    /// Validates the task's kernels with naga and builds the three pipelines (one
    /// explicit layout: the entry points do not all use every binding).
    pub fn new(ctx: &GpuContext, name: &str) -> Result<Self, EngineError> {
        let unknown = || EngineError::Gpu(format!("no WGSL port of task `{name}`"));
        let name = *TASK_NAMES
            .iter()
            .find(|n| **n == name)
            .ok_or_else(unknown)?;
        let layout = task_layout(name)?;
        let source = compose_kernel_source(name).ok_or_else(unknown)?;
        validate(&source, name)?;
        let device = &ctx.device;
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(&format!("task_step[{name}]")),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(&format!("task_step[{name}] bind group layout")),
            entries: &[
                layout_entry(0, wgpu::BufferBindingType::Uniform),
                layout_entry(1, storage(false)),
                layout_entry(2, storage(true)),
                layout_entry(3, storage(false)),
                layout_entry(4, storage(false)),
                layout_entry(5, storage(true)),
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
            ctx: ctx.clone(),
            name,
            layout,
            step: pipeline("step_main"),
            reset: pipeline("reset_main"),
            episode: pipeline("episode_main"),
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
        states: &[HostTaskState],
        outputs: &[f32],
    ) -> Result<TaskBatch, EngineError> {
        let l = self.layout;
        if outputs.len() != states.len() * l.act_dim {
            return Err(EngineError::Gpu(format!(
                "{} states need {} outputs, got {}",
                states.len(),
                states.len() * l.act_dim,
                outputs.len()
            )));
        }
        let mut words = Vec::with_capacity(states.len() * l.state_words());
        for (i, st) in states.iter().enumerate() {
            if st.s.len() != l.state_dim {
                return Err(EngineError::Gpu(format!(
                    "state {i} has {} values, the task {}",
                    st.s.len(),
                    l.state_dim
                )));
            }
            words.extend(st.s.iter().map(|v| v.to_bits()));
            words.extend([st.steps, st.flags]);
        }
        self.run(Mode::Step, states.len(), &words, outputs, &[])
    }

    /// One `task_reset` per entry, from `uniforms[i]`.
    pub fn reset(&self, uniforms: &[[f32; RESET_UNIFORMS_LEN]]) -> Result<TaskBatch, EngineError> {
        let flat: Vec<f32> = uniforms.iter().flatten().copied().collect();
        self.run(Mode::Reset, uniforms.len(), &[], &flat, &[])
    }

    /// One whole episode per entry: reset from `uniforms[i]`, then step until terminated
    /// or truncated under the linear policy `out[k] = policy[k * (obs_dim + 1) + obs_dim]
    /// + sum_j policy[k * (obs_dim + 1) + j] * obs[j]` (accumulated in `j` order, in f32).
    pub fn episodes(
        &self,
        uniforms: &[[f32; RESET_UNIFORMS_LEN]],
        policy: &[f32],
    ) -> Result<TaskBatch, EngineError> {
        let l = self.layout;
        let want = l.act_dim * (l.obs_dim + 1);
        if policy.len() != want {
            return Err(EngineError::Gpu(format!(
                "the policy needs {want} values, got {}",
                policy.len()
            )));
        }
        let flat: Vec<f32> = uniforms.iter().flatten().copied().collect();
        self.run(Mode::Episode, uniforms.len(), &[], &flat, policy)
    }

    fn run(
        &self,
        mode: Mode,
        batch: usize,
        state_words: &[u32],
        inputs: &[f32],
        policy: &[f32],
    ) -> Result<TaskBatch, EngineError> {
        let l = self.layout;
        if batch == 0 {
            return Ok(TaskBatch {
                states: Vec::new(),
                obs: Vec::new(),
                results: Vec::new(),
            });
        }
        let workgroups = (batch as u64).div_ceil(STEP_WORKGROUP as u64);
        let max_groups = self.ctx.limits.max_compute_workgroups_per_dimension as u64;
        if workgroups > max_groups {
            return Err(EngineError::TooLarge(format!(
                "batch {batch} needs {workgroups} workgroups, the device allows {max_groups}"
            )));
        }
        let (device, queue) = (&self.ctx.device, &self.ctx.queue);
        let name = self.name;
        let label = |what: &str| format!("task_step[{name}] {what}");
        let state_words_total = batch * l.state_words();
        let obs_words = batch * l.obs_dim;
        let result_words = batch * std::mem::size_of::<StepResult>() / 4;
        let params = uniform_buffer(device, &label("params"), &[batch as u32, 0, 0, 0]);
        let states = storage_buffer(device, &label("states"), 4 * state_words_total as u64);
        let input_buf = storage_buffer(device, &label("inputs"), 4 * inputs.len() as u64);
        let obs = storage_buffer(device, &label("obs"), 4 * obs_words as u64);
        let results = storage_buffer(device, &label("results"), 4 * result_words as u64);
        let policy_buf = storage_buffer(device, &label("policy"), 4 * policy.len() as u64);
        // Poison every output, then write the inputs (step mode's states are both).
        for (b, words, what) in [
            (&states, state_words_total, "states"),
            (&obs, obs_words, "obs"),
            (&results, result_words, "results"),
        ] {
            poison(queue, b);
            super::assert_poisoned(&self.ctx, b, words, &label(what));
        }
        if !state_words.is_empty() {
            queue.write_buffer(&states, 0, bytemuck::cast_slice(state_words));
        }
        if !inputs.is_empty() {
            queue.write_buffer(&input_buf, 0, bytemuck::cast_slice(inputs));
        }
        if !policy.is_empty() {
            queue.write_buffer(&policy_buf, 0, bytemuck::cast_slice(policy));
        }
        let (pipeline, entry) = match mode {
            Mode::Step => (&self.step, "step_main"),
            Mode::Reset => (&self.reset, "reset_main"),
            Mode::Episode => (&self.episode, "episode_main"),
        };
        let group = bind_group(
            device,
            &label("bind group"),
            pipeline,
            &[&params, &states, &input_buf, &obs, &results, &policy_buf],
        );
        dispatch(
            (device, queue),
            &label(entry),
            pipeline,
            &group,
            (workgroups as u32, 1),
        );
        let state_part = read_words(&self.ctx, &states, 0, state_words_total as u64)?;
        let obs_part = read_words(&self.ctx, &obs, 0, obs_words as u64)?;
        let result_part = read_words(&self.ctx, &results, 0, result_words as u64)?;
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
            results: bytemuck::cast_slice(&result_part).to_vec(),
        })
    }
}
