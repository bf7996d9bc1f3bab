//! The wgpu device every kernel runs on, created once per process (or per test).

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::evaluation::EngineError;

/// What the driver reported outside any call: a lost device, or an error no error
/// scope caught. wgpu's defaults would panic on the latter; satr records both and
/// returns them as errors from the next evaluation ([`GpuContext::classify`]).
#[derive(Debug, Default)]
pub struct DeviceHealth {
    lost: Mutex<Option<String>>,
    uncaptured: Mutex<Option<String>>,
}

impl DeviceHealth {
    fn record(slot: &Mutex<Option<String>>, what: String) {
        let mut s = slot.lock().unwrap_or_else(|e| e.into_inner());
        s.get_or_insert(what);
    }

    /// Why the device was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first error no error scope caught, if any.
    pub fn uncaptured(&self) -> Option<String> {
        self.uncaptured
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A device and queue with the adapter's description and the limits the device was
/// created with (the adapter's own limits, so real GPUs are not held to WebGPU's
/// defaults and nothing is hard-coded for lavapipe).
#[derive(Debug, Clone)]
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// Name, backend, device type and driver of the adapter.
    pub adapter_info: wgpu::AdapterInfo,
    /// The limits in force on `device`.
    pub limits: wgpu::Limits,
    /// Device loss and uncaught errors, as the driver reported them.
    pub health: Arc<DeviceHealth>,
}

/// One adapter as `satr info` reports it: identity plus the limits that bound the
/// population size and the network size.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterReport {
    /// Position in the enumeration order (what `SATR_ADAPTER=<index>` selects).
    pub index: usize,
    /// Adapter name (what `SATR_ADAPTER=<substring>` matches).
    pub name: String,
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`, ...
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `Cpu`, ...
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version details.
    pub driver_info: String,
    /// Bytes one storage binding may span: bounds the members per chunk.
    pub max_storage_buffer_binding_size: u64,
    /// Bytes one buffer may hold.
    pub max_buffer_size: u64,
    /// Bytes of workgroup memory: bounds the neurons whose columns stay on chip.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations per workgroup: bounds the network kernels' workgroup size.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroups per grid dimension: bounds the members per dispatch.
    pub max_compute_workgroups_per_dimension: u32,
    /// Storage buffers per shader stage (the kernels bind at most 7).
    pub max_storage_buffers_per_shader_stage: u32,
}

fn instance() -> wgpu::Instance {
    // From the environment so WGPU_BACKEND (e.g. `vulkan`) is honoured: without it a
    // missing Vulkan ICD would silently fall back to GL.
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

fn report(index: usize, adapter: &wgpu::Adapter) -> AdapterReport {
    let info = adapter.get_info();
    let l = adapter.limits();
    AdapterReport {
        index,
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver,
        driver_info: info.driver_info,
        max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
        max_buffer_size: l.max_buffer_size,
        max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
        max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
        max_storage_buffers_per_shader_stage: l.max_storage_buffers_per_shader_stage,
    }
}

/// Every adapter the instance can see, in enumeration order.
pub fn list_adapters() -> Vec<AdapterReport> {
    let adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
    adapters
        .iter()
        .enumerate()
        .map(|(i, a)| report(i, a))
        .collect()
}

/// Picks the adapter named by `selector` (an index into the enumeration, or a
/// case-insensitive substring of the adapter name).
fn select(adapters: Vec<wgpu::Adapter>, selector: &str) -> Result<wgpu::Adapter, EngineError> {
    let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
    if let Ok(i) = selector.trim().parse::<usize>() {
        return adapters.into_iter().nth(i).ok_or_else(|| {
            EngineError::Gpu(format!(
                "SATR_ADAPTER={selector}: no adapter with that index (have {names:?})"
            ))
        });
    }
    let needle = selector.to_lowercase();
    adapters
        .into_iter()
        .find(|a| a.get_info().name.to_lowercase().contains(&needle))
        .ok_or_else(|| {
            EngineError::Gpu(format!(
                "SATR_ADAPTER={selector}: no adapter name contains it (have {names:?})"
            ))
        })
}

impl GpuContext {
    /// The workarounds this adapter's driver needs.
    pub fn quirks(&self) -> super::quirks::DriverQuirks {
        super::quirks::DriverQuirks::of(&self.adapter_info)
    }

    /// Opens the adapter chosen by env `SATR_ADAPTER` (index or name substring), else
    /// the high-performance preference. `Ok(None)` when the machine has no adapter at
    /// all; an error when the named adapter is missing or the device cannot be created.
    pub fn new() -> Result<Option<Self>, EngineError> {
        let instance = instance();
        let adapter = match std::env::var("SATR_ADAPTER") {
            Ok(sel) if !sel.trim().is_empty() => {
                let all = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
                if all.is_empty() {
                    return Ok(None);
                }
                select(all, &sel)?
            }
            _ => {
                let opts = wgpu::RequestAdapterOptions {
                    power_preference: wgpu::PowerPreference::HighPerformance,
                    ..Default::default()
                };
                match pollster::block_on(instance.request_adapter(&opts)) {
                    Ok(a) => a,
                    Err(_) => return Ok(None),
                }
            }
        };
        Self::from_adapter(&adapter).map(Some)
    }

    /// Creates the device on `adapter` with the adapter's own limits and no optional
    /// features (the kernels use none).
    pub fn from_adapter(adapter: &wgpu::Adapter) -> Result<Self, EngineError> {
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("satr device"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| EngineError::Gpu(format!("request_device: {e}")))?;
        let limits = device.limits();
        let health = Arc::new(DeviceHealth::default());
        let h = health.clone();
        device.set_device_lost_callback(move |reason, message| {
            tracing::error!(?reason, %message, "GPU device lost");
            DeviceHealth::record(&h.lost, format!("{reason:?}: {message}"));
        });
        let h = health.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::error!(error = %e, "GPU error");
            DeviceHealth::record(&h.uncaptured, e.to_string());
        }));
        Ok(GpuContext {
            device,
            queue,
            adapter_info: adapter.get_info(),
            limits,
            health,
        })
    }

    /// `e` as the caller should see it: [`EngineError::DeviceLost`] once the device is
    /// lost, the first uncaught driver error when there was one, else `e` itself.
    pub fn classify(&self, e: EngineError) -> EngineError {
        if let Some(why) = self.health.lost() {
            return EngineError::DeviceLost(why);
        }
        match self.health.uncaptured() {
            Some(first) => EngineError::Gpu(format!("{e} (first driver error: {first})")),
            None => e,
        }
    }

    /// An error for work that returned normally on a device that has since been lost
    /// or reported an uncaught error (so results computed meanwhile are not trusted).
    pub fn check(&self) -> Result<(), EngineError> {
        if let Some(why) = self.health.lost() {
            return Err(EngineError::DeviceLost(why));
        }
        match self.health.uncaptured() {
            Some(first) => Err(EngineError::Gpu(first)),
            None => Ok(()),
        }
    }

    /// `name (backend, device type)`, for logs and bench records.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.adapter_info.name, self.adapter_info.backend, self.adapter_info.device_type
        )
    }
}
