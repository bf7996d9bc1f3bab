//! Shader validation, host/WGSL struct layouts, and the flat kernels (sampling,
//! reductions) against the CPU definitions in `distribution`.

use satr::distribution::{mode_genome, reductions, sample_genome, thresholds, words_for};
use satr::gpu::device::{read_words, storage_buffer};
use satr::gpu::plan::{
    flat_header, NetOptions, NetParams, NetPlan, ReduceParams, SampleParams, UnpackParams,
};
use satr::gpu::reductions::Reducer;
use satr::gpu::sample_genomes::GenomeSampler;
use satr::gpu::shaders::{compose, validate, Kernel};
use satr::network::{Constants, NetworkConfig, Shape};
mod common;
use common::{context, require_gpu};

fn lavapipe_like_limits() -> wgpu::Limits {
    wgpu::Limits {
        max_compute_workgroup_storage_size: 32768,
        max_compute_invocations_per_workgroup: 1024,
        max_compute_workgroup_size_x: 1024,
        ..wgpu::Limits::default()
    }
}

fn shapes() -> Vec<Shape> {
    let mut v = Vec::new();
    for (n, d, a) in [(37, 4, 2), (100, 3, 1), (256, 4, 2), (64, 2, 3), (1, 1, 1)] {
        let cfg = NetworkConfig {
            neurons: n,
            ..Default::default()
        };
        v.push(Shape::new(&cfg, d, a));
    }
    // All excitatory, then all inhibitory: one of the spike word groups is empty.
    for ratio in [0.0, 1.0] {
        let cfg = NetworkConfig {
            neurons: 40,
            exc_ratio: ratio,
            ..Default::default()
        };
        v.push(Shape::new(&cfg, 3, 2));
    }
    v
}

#[test]
fn every_kernel_parses_and_validates_with_naga() {
    for kernel in Kernel::ALL {
        if kernel.needs_net_header() {
            for shape in shapes() {
                for cols in [true, false] {
                    for wg in [None, Some(32)] {
                        let opts = NetOptions {
                            workgroup_size: wg,
                            columns_in_workgroup: Some(cols),
                        };
                        let plan = NetPlan::new(&shape, &lavapipe_like_limits(), &opts).unwrap();
                        let src = compose(&plan.header(), kernel);
                        validate(&src, kernel.file()).unwrap_or_else(|e| panic!("{shape:?}: {e}"));
                    }
                }
            }
        } else {
            validate(&compose(&flat_header(), kernel), kernel.file()).unwrap();
        }
    }
}

#[test]
fn a_broken_shader_is_reported_not_panicked() {
    let e = validate("fn main( {", "broken.wgsl")
        .unwrap_err()
        .to_string();
    assert!(e.contains("broken.wgsl"), "{e}");
}

/// Size and member offsets of a WGSL struct as naga lays it out.
fn wgsl_layout(src: &str, name: &str) -> (u32, Vec<(String, u32)>) {
    let module = naga::front::wgsl::parse_str(src).unwrap();
    for (_, ty) in module.types.iter() {
        if ty.name.as_deref() == Some(name) {
            if let naga::TypeInner::Struct { members, span } = &ty.inner {
                return (
                    *span,
                    members
                        .iter()
                        .map(|m| (m.name.clone().unwrap_or_default(), m.offset))
                        .collect(),
                );
            }
        }
    }
    panic!("struct {name} not found");
}

#[test]
fn host_structs_match_wgsl_layouts() {
    use std::mem::{offset_of, size_of};
    let plan = NetPlan::new(
        &shapes()[0],
        &lavapipe_like_limits(),
        &NetOptions::default(),
    )
    .unwrap();
    let net_src = compose(&plan.header(), Kernel::RsnnStep);

    let (size, m) = wgsl_layout(&net_src, "Constants");
    assert_eq!(size as usize, size_of::<Constants>());
    let host = [
        ("r_in", offset_of!(Constants, r_in)),
        ("r_h", offset_of!(Constants, r_h)),
        ("r_out", offset_of!(Constants, r_out)),
        ("alpha_syn", offset_of!(Constants, alpha_syn)),
        ("alpha_v", offset_of!(Constants, alpha_v)),
        ("alpha_out", offset_of!(Constants, alpha_out)),
        ("v_reset", offset_of!(Constants, v_reset)),
        ("v_threshold", offset_of!(Constants, v_threshold)),
        ("spike_rate", offset_of!(Constants, spike_rate)),
        ("v_span", offset_of!(Constants, v_span)),
        ("_pad0", offset_of!(Constants, _pad0)),
        ("_pad1", offset_of!(Constants, _pad1)),
    ];
    assert_eq!(m.len(), host.len());
    for ((wname, woff), (hname, hoff)) in m.iter().zip(host) {
        assert_eq!((wname.as_str(), *woff as usize), (hname, hoff));
    }

    let (size, m) = wgsl_layout(&net_src, "NetParams");
    assert_eq!(size as usize, size_of::<NetParams>());
    let host = [
        offset_of!(NetParams, c),
        offset_of!(NetParams, members),
        offset_of!(NetParams, member_offset),
        offset_of!(NetParams, grid_x),
        offset_of!(NetParams, flags),
        offset_of!(NetParams, seed_lo),
        offset_of!(NetParams, seed_hi),
        offset_of!(NetParams, generation),
        offset_of!(NetParams, episode),
    ];
    assert_eq!(m.iter().map(|x| x.1 as usize).collect::<Vec<_>>(), host);

    let (size, m) = wgsl_layout(
        &compose(&flat_header(), Kernel::SampleGenomes),
        "SampleParams",
    );
    assert_eq!(size as usize, size_of::<SampleParams>());
    assert_eq!(
        m[8],
        (
            "grid_x".to_string(),
            offset_of!(SampleParams, grid_x) as u32
        )
    );
    assert_eq!(
        m[5],
        (
            "population".to_string(),
            offset_of!(SampleParams, population) as u32
        )
    );
    let (size, m) = wgsl_layout(&compose(&plan.header(), Kernel::UnpackNet), "UnpackParams");
    assert_eq!(size as usize, size_of::<UnpackParams>());
    assert_eq!(m[2].1 as usize, offset_of!(UnpackParams, grid_x));
    let (size, m) = wgsl_layout(&compose(&flat_header(), Kernel::Reductions), "ReduceParams");
    assert_eq!(size as usize, size_of::<ReduceParams>());
    assert_eq!(m[3].1 as usize, offset_of!(ReduceParams, grid_x));
}

#[test]
fn vulkan_backend_when_gpu_required() {
    let Some(ctx) = context() else { return };
    eprintln!("adapter: {}", ctx.describe());
    if require_gpu() {
        assert_eq!(
            ctx.adapter_info.backend,
            wgpu::Backend::Vulkan,
            "{}",
            ctx.describe()
        );
    }
    let reports = satr::gpu::list_adapters();
    assert!(!reports.is_empty());
    let json = serde_json::to_string(&reports).unwrap();
    assert!(json.contains("max_storage_buffer_binding_size"), "{json}");
}

fn probabilities(dim: usize, salt: u64) -> Vec<f64> {
    // A spread of probabilities including the clip bounds and exact halves.
    (0..dim)
        .map(|i| {
            let h = (i as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
            match i % 7 {
                0 => 1e-3,
                1 => 1.0 - 1e-3,
                2 => 0.5,
                _ => h as f64 / (1u64 << 24) as f64,
            }
        })
        .collect()
}

#[test]
fn sampled_genomes_match_cpu_bit_for_bit() {
    let Some(ctx) = context() else { return };
    for (dim, members, offset, population) in [
        (203, 3, 0, 3),
        (1000, 13, 5, 15),
        (64, 70, 0, 66),
        (33, 1, 2, 1),
    ] {
        let p = probabilities(dim, dim as u64);
        let th = thresholds(&p);
        let mode = mode_genome(&p);
        let sampler = GenomeSampler::new(&ctx, dim).unwrap();
        sampler.set_distribution(&th, &mode).unwrap();
        let words = sampler.words();
        let out = storage_buffer(&ctx.device, "test genomes", (4 * words * members) as u64);
        ctx.queue
            .write_buffer(&out, 0, &vec![0xA5u8; 4 * words * members]);
        sampler
            .sample_into(&out, 42, 7, population, offset, members)
            .unwrap();
        let got = read_words(&ctx, &out, 0, (words * members) as u64).unwrap();
        for m in 0..members {
            let global = offset + m;
            let mut cpu = vec![0u64; words_for(dim)];
            if global < population {
                sample_genome(&th, 42, 7, global as u32, &mut cpu);
            } else {
                cpu.clone_from(&mode);
            }
            let cpu32: &[u32] = bytemuck::cast_slice(&cpu);
            assert_eq!(
                &got[m * words..(m + 1) * words],
                cpu32,
                "dim {dim} member {global}"
            );
        }
    }
}

#[test]
fn reductions_match_cpu() {
    let Some(ctx) = context() else { return };
    let dim = 301;
    let pop = 13;
    let p = probabilities(dim, 3);
    let th = thresholds(&p);
    let sampler = GenomeSampler::new(&ctx, dim).unwrap();
    sampler.set_distribution(&th, &mode_genome(&p)).unwrap();
    let words = sampler.words();
    let u: Vec<f64> = (0..pop)
        .map(|k| ((k * 5) % pop) as f64 / (pop - 1) as f64 - 0.5)
        .collect();
    let mut cpu_genomes = vec![0u64; words_for(dim) * pop];
    for k in 0..pop {
        sample_genome(
            &th,
            9,
            1,
            k as u32,
            &mut cpu_genomes[k * words_for(dim)..(k + 1) * words_for(dim)],
        );
    }
    let cpu = reductions(&cpu_genomes, dim, &u);
    // In chunks of 4 (uneven), through the same accumulators.
    let chunk = 4;
    let buf = storage_buffer(&ctx.device, "test genomes", (4 * words * chunk) as u64);
    let mut reducer = Reducer::new(&ctx, dim, chunk).unwrap();
    reducer.begin(&u).unwrap();
    let mut off = 0;
    while off < pop {
        let m = chunk.min(pop - off);
        sampler.sample_into(&buf, 9, 1, pop, off, m).unwrap();
        reducer.add(&buf, &u[off..off + m]).unwrap();
        off += m;
    }
    let (a, b) = reducer.finish().unwrap();
    let scale: f64 = u.iter().map(|x| x.abs()).sum();
    for i in 0..dim {
        assert!(
            (a[i] - cpu.a[i]).abs() <= 1e-12 * scale,
            "A[{i}] {} vs {}",
            a[i],
            cpu.a[i]
        );
        assert!(
            (b[i] - cpu.b[i]).abs() <= 1e-12 * scale,
            "B[{i}] {} vs {}",
            b[i],
            cpu.b[i]
        );
    }
}

#[test]
fn grids_turn_two_dimensional_past_the_limit() {
    use satr::gpu::plan::grid;
    assert_eq!(grid(0, 65535).unwrap(), (0, 1));
    assert_eq!(grid(65535, 65535).unwrap(), (65535, 1));
    assert_eq!(grid(65536, 65535).unwrap(), (65535, 2));
    assert_eq!(grid(10, 4).unwrap(), (4, 3));
    assert!(matches!(
        grid(17, 4),
        Err(satr::evaluation::EngineError::TooLarge(_))
    ));
}
