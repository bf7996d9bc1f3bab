//! Workarounds that only some drivers need, read from the adapter: software
//! rasterisers (llvmpipe/lavapipe) get them, hardware GPUs do not.

/// Smallest workgroup the network kernels use on a software rasteriser. On Mesa's
/// lavapipe (22.3) the network kernel gives wrong spikes with workgroups of 16 to 48 invocations and exact ones
/// with 64 to 256 (found by `tests/gpu/gpu_network.rs`); with 1 substep the outputs come
/// out as if the barrier before the output projection did not wait for the other
/// invocations, so barriers in small workgroups appear not to synchronise there.
/// The kernels therefore only run the configurations the tests cover.
pub const MIN_NET_WORKGROUP: u32 = 64;

/// Workarounds a driver needs, read from the adapter ([`DriverQuirks::of`]): software
/// rasterisers (llvmpipe/lavapipe) end every loop of an invocation after a fixed
/// budget of iterations, so whole-generation episodes are sliced over dispatches, and
/// compute wrong spikes in workgroups under [`MIN_NET_WORKGROUP`] invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverQuirks {
    /// Loop iterations per invocation before the driver silently stops the loop.
    pub loop_budget: Option<u64>,
    /// Fewest invocations per workgroup that compute correctly.
    pub min_workgroup: u32,
}

impl DriverQuirks {
    /// llvmpipe's: `LP_MAX_TGSI_LOOP_ITERATIONS` loop iterations, workgroups of 64 or more.
    pub const SOFTWARE: DriverQuirks = DriverQuirks {
        loop_budget: Some(65_535),
        min_workgroup: MIN_NET_WORKGROUP,
    };
    /// A hardware GPU: none.
    pub const HARDWARE: DriverQuirks = DriverQuirks {
        loop_budget: None,
        min_workgroup: 1,
    };

    /// The quirks of an adapter: a CPU-type adapter or a llvmpipe driver is treated as
    /// the software rasteriser it is.
    pub fn of(info: &wgpu::AdapterInfo) -> DriverQuirks {
        let software = info.device_type == wgpu::DeviceType::Cpu
            || [&info.name, &info.driver, &info.driver_info]
                .iter()
                .any(|s| s.to_lowercase().contains("llvmpipe"));
        if software {
            DriverQuirks::SOFTWARE
        } else {
            DriverQuirks::HARDWARE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(name: &str, driver: &str, device_type: wgpu::DeviceType) -> wgpu::AdapterInfo {
        wgpu::AdapterInfo {
            name: name.into(),
            driver: driver.into(),
            ..wgpu::AdapterInfo::new(device_type, wgpu::Backend::Vulkan)
        }
    }

    #[test]
    fn quirks_are_read_from_the_adapter() {
        use wgpu::DeviceType::*;
        let lavapipe = adapter("llvmpipe (LLVM 15.0.6, 256 bits)", "llvmpipe", Cpu);
        assert_eq!(DriverQuirks::of(&lavapipe), DriverQuirks::SOFTWARE);
        let odd = adapter("virtual", "llvmpipe Mesa 23", Other);
        assert_eq!(DriverQuirks::of(&odd), DriverQuirks::SOFTWARE);
        let card = adapter("NVIDIA H200", "NVIDIA", DiscreteGpu);
        assert_eq!(DriverQuirks::of(&card), DriverQuirks::HARDWARE);
    }
}
