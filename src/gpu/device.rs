//! The device layer every driver builds on: labelled buffers, pipelines, bind groups,
//! dispatches and read-backs. Every resource gets a label so validation errors and
//! captures name it.

use wgpu::util::DeviceExt;

use super::context::GpuContext;
use super::shaders::validate;
use crate::evaluation::EngineError;

/// The value tests write over every output word before a run (a NaN as f32, -1 as a
/// count, all spikes set), so that a word a kernel fails to write shows as a mismatch.
pub const POISON: u32 = 0xFFFF_FFFF;

pub(crate) fn gpu_err(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::Gpu(format!("{what}: {e}"))
}

/// Compiles a composed WGSL `source` (entry point `main`, bind group layout taken from
/// the shader). The source is validated by naga first, and pipeline creation runs in a
/// validation error scope so a rejected shader is an error, not a panic.
pub fn create_pipeline(
    device: &wgpu::Device,
    label: &str,
    source: String,
) -> Result<wgpu::ComputePipeline, EngineError> {
    validate(&source, label)?;
    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(gpu_err(label, e));
    }
    Ok(pipeline)
}

/// A storage buffer of at least `bytes` bytes (never empty: wgpu rejects zero-size
/// bindings), readable back and writable from the host.
pub fn storage_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// A uniform buffer holding `value`, rewritten from the host before each dispatch.
pub fn uniform_buffer<T: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    value: &T,
) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

/// A host-mappable buffer of at least `bytes` bytes that read-backs copy into.
pub fn staging_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(4).div_ceil(4) * 4,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// Binds `buffers` to bindings `0..` of group 0 of `pipeline`.
pub fn bind_group(
    device: &wgpu::Device,
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// Records and submits one dispatch of a `(x, y)` grid of workgroups. Each dispatch is
/// its own submission so the uniform written just before it is the one it reads.
pub fn dispatch(
    ctx: (&wgpu::Device, &wgpu::Queue),
    label: &str,
    pipeline: &wgpu::ComputePipeline,
    group: &wgpu::BindGroup,
    (x, y): (u32, u32),
) {
    let (device, queue) = ctx;
    let mut enc =
        device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(label),
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, group, &[]);
        if x > 0 && y > 0 {
            pass.dispatch_workgroups(x, y, 1);
        }
    }
    queue.submit(Some(enc.finish()));
}

/// Waits until the queue is idle.
pub fn wait_idle(device: &wgpu::Device) -> Result<(), EngineError> {
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map(|_| ())
        .map_err(|e| gpu_err("poll", e))
}

/// Copies `bytes` bytes at `offset` of `src` back to the host through `staging`
/// (MAP_READ, at least `bytes` long), waiting for the queue.
pub fn read_with(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    src: &wgpu::Buffer,
    offset: u64,
    bytes: u64,
    staging: &wgpu::Buffer,
) -> Result<Vec<u8>, EngineError> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("satr read-back"),
    });
    enc.copy_buffer_to_buffer(src, offset, staging, 0, bytes);
    queue.submit(Some(enc.finish()));
    let slice = staging.slice(..bytes);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    wait_idle(device)?;
    rx.recv()
        .map_err(|e| gpu_err("map_async", e))?
        .map_err(|e| gpu_err("map_async", e))?;
    let data = slice
        .get_mapped_range()
        .map_err(|e| gpu_err("get_mapped_range", e))?
        .to_vec();
    staging.unmap();
    Ok(data)
}

/// Reads `words` u32 words of a storage buffer (debug and test path).
pub fn read_words(
    ctx: &GpuContext,
    src: &wgpu::Buffer,
    offset_words: u64,
    words: u64,
) -> Result<Vec<u32>, EngineError> {
    let staging = staging_buffer(&ctx.device, "satr debug staging", 4 * words);
    let bytes = read_with(
        &ctx.device,
        &ctx.queue,
        src,
        4 * offset_words,
        4 * words,
        &staging,
    )?;
    Ok(bytemuck::pod_collect_to_vec(&bytes))
}

/// Writes [`POISON`] over all of `buffer` through the queue (ordered before any later
/// submission), so that tests see every word a kernel leaves unwritten.
pub fn poison(queue: &wgpu::Queue, buffer: &wgpu::Buffer) {
    let words = vec![POISON; (buffer.size() / 4) as usize];
    queue.write_buffer(buffer, 0, bytemuck::cast_slice(&words));
}
