//! Every kernel, and the whole-generation kernel with every built-in task's WGSL,
//! translates with naga to SPIR-V (Vulkan), MSL (Metal) and HLSL (DX12): a kernel that
//! one backend cannot express fails here, on a machine that has none of those GPUs.

use satr::gpu::plan::{flat_header, NetOptions, NetPlan};
use satr::gpu::shaders::{compose, compose_episodes, validate, Kernel};
use satr::network::{NetworkConfig, Shape};
use satr::tasks::registry;

/// Translates one composed source to the three shading languages.
fn translate(source: &str, name: &str) {
    let module = validate(source, name).unwrap_or_else(|e| panic!("{e}"));
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap();
    let spv = naga::back::spv::write_vec(&module, &info, &Default::default(), None)
        .unwrap_or_else(|e| panic!("{name} to SPIR-V: {e}"));
    assert_eq!(spv[0], 0x0723_0203, "{name}: SPIR-V magic");
    let (msl, _) =
        naga::back::msl::write_string(&module, &info, &Default::default(), &Default::default())
            .unwrap_or_else(|e| panic!("{name} to MSL: {e}"));
    assert!(msl.contains("kernel"), "{name}: no MSL kernel");
    let mut hlsl = String::new();
    let options = naga::back::hlsl::Options::default();
    let pipeline = naga::back::hlsl::PipelineOptions::default();
    naga::back::hlsl::Writer::new(&mut hlsl, &options, &pipeline)
        .write(&module, &info, None)
        .unwrap_or_else(|e| panic!("{name} to HLSL: {e}"));
    assert!(
        hlsl.contains("[numthreads("),
        "{name}: no HLSL compute entry point"
    );
}

fn limits() -> wgpu::Limits {
    satr::gpu::memory_plan::preset("lavapipe").unwrap().0
}

#[test]
fn every_kernel_translates_to_spirv_msl_and_hlsl() {
    let shape = Shape::new(
        &NetworkConfig {
            neurons: 100,
            ..Default::default()
        },
        3,
        2,
    );
    for kernel in Kernel::ALL {
        if kernel.needs_net_header() {
            for cols in [true, false] {
                let opts = NetOptions {
                    columns_in_workgroup: Some(cols),
                    ..Default::default()
                };
                let plan = NetPlan::new(&shape, &limits(), &opts).unwrap();
                translate(&compose(&plan.header(), kernel), kernel.file());
            }
        } else {
            translate(&compose(&flat_header(), kernel), kernel.file());
        }
    }
}

#[test]
fn the_generation_kernel_translates_with_every_task() {
    let mut tasks = 0;
    for info in registry::builtins().into_iter().filter(|t| t.available()) {
        let Some(wgsl) = info.wgsl() else { continue };
        let cfg = NetworkConfig::default();
        let shape = Shape::new(&cfg, info.obs_dim(), info.action().outputs());
        let plan = NetPlan::new(&shape, &limits(), &NetOptions::default()).unwrap();
        translate(&compose_episodes(&plan.episode_header(), wgsl), info.name());
        tasks += 1;
    }
    assert!(tasks >= 5, "{tasks} tasks with WGSL");
}
