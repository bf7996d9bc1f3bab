//! The test kernels themselves: the adapter backend asked for, bad inputs rejected, and
//! every task's kernel validating and matching the host's layout.

use super::*;

#[test]
fn the_adapter_backend_is_the_requested_one() {
    let Some(ctx) = context() else { return };
    let got = ctx.adapter_info.backend;
    match std::env::var("WGPU_BACKEND") {
        Ok(want) => {
            let got = format!("{got:?}").to_lowercase();
            assert!(
                want.to_lowercase().contains(&got),
                "WGPU_BACKEND={want}, adapter {got}"
            );
        }
        // The crate builds wgpu with the Vulkan backend only.
        Err(_) => assert_eq!(got, wgpu::Backend::Vulkan),
    }
}

#[test]
fn bad_inputs_are_rejected() {
    let Some(ctx) = context() else { return };
    let kernels = TaskKernels::new(&ctx, "pendulum").unwrap();
    let st = HostTaskState {
        s: vec![0.0, 0.0],
        steps: 0,
        flags: 0,
    };
    assert!(kernels.step(std::slice::from_ref(&st), &[]).is_err());
    let short = HostTaskState { s: vec![0.0], ..st };
    assert!(kernels.step(&[short], &[0.0]).is_err());
    assert!(kernels.episodes(&[[0.5; 8]], &[1.0]).is_err());
    let empty = kernels.step(&[], &[]).unwrap();
    assert!(empty.states.is_empty() && empty.results.is_empty());
    assert!(TaskKernels::new(&ctx, "nope").is_err());
}

#[test]
fn the_test_kernels_validate_with_every_task_and_match_the_host() {
    use std::mem::{offset_of, size_of};
    for name in TASK_NAMES {
        let source = compose_kernel_source(name).unwrap();
        let module = validate(&source, name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            constant_u32(&module, "STEP_WORKGROUP"),
            Some(STEP_WORKGROUP),
            "{name}"
        );
        let (size, members) = struct_layout(&module, "StepResult").unwrap();
        assert_eq!(size as usize, size_of::<StepResult>());
        let host = [
            ("reward", offset_of!(StepResult, reward)),
            ("terminated", offset_of!(StepResult, terminated)),
            ("truncated", offset_of!(StepResult, truncated)),
            ("steps", offset_of!(StepResult, steps)),
        ];
        let wgsl: Vec<(&str, usize)> = members
            .iter()
            .map(|(n, o)| (n.as_str(), *o as usize))
            .collect();
        assert_eq!(wgsl, host, "{name}");
    }
    assert!(compose_kernel_source("nope").is_none());
}
