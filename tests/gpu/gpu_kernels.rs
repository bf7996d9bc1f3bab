//! Shader validation, host/WGSL struct layouts and mirrored constants, and the flat
//! kernels (sampling, reductions) against the CPU definitions in `distribution`.

use crate::common;
use common::{assert_poisoned, context, require_gpu};
use satr::distribution::{mode_genome, reductions, sample_genome, thresholds, words_for};
use satr::gpu::device::{poison, read_words, storage_buffer};
use satr::gpu::plan::{
    episode_result_words, flat_header, EpisodeParams, NetOptions, NetParams, NetPlan, ReduceParams,
    SampleParams, UnpackParams, CARRY_HEAD_WORDS, CARRY_TASK_MAX, FLAT_WORKGROUP,
};
use satr::gpu::reductions::Reducer;
use satr::gpu::sample_genomes::GenomeSampler;
use satr::gpu::shaders::{
    compose, compose_episodes, constant_u32, struct_layout, validate, Kernel,
};
use satr::network::{Constants, NetworkConfig, Shape};

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
                            ..Default::default()
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

/// `(member, byte offset)` of a `#[repr(C)]` host struct, in declaration order.
macro_rules! host_layout {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        (
            std::mem::size_of::<$ty>(),
            vec![$((stringify!($field), std::mem::offset_of!($ty, $field))),*],
        )
    };
}

/// Holds a host mirror to the WGSL struct `name` of `source`: the same size and the
/// same members (by name) at the same offsets, in the same order.
fn assert_mirrors(source: &str, name: &str, (size, host): (usize, Vec<(&str, usize)>)) {
    let module = validate(source, name).unwrap_or_else(|e| panic!("{e}"));
    let (span, members) =
        struct_layout(&module, name).unwrap_or_else(|| panic!("struct {name} not found"));
    let wgsl: Vec<(&str, usize)> = members
        .iter()
        .map(|(n, o)| (n.as_str(), *o as usize))
        .collect();
    assert_eq!((span as usize, wgsl), (size, host), "{name}");
}

fn net_plan() -> NetPlan {
    NetPlan::new(
        &shapes()[0],
        &lavapipe_like_limits(),
        &NetOptions::default(),
    )
    .unwrap()
}

/// A minimal task for composing `episodes.wgsl` (obs and act dims of `shapes()[0]`).
const TASK_STUB: &str = "
const TASK_STATE_DIM: u32 = 3u;
const TASK_OBS_DIM: u32 = 4u;
const TASK_ACT_DIM: u32 = 2u;
const TASK_DISCRETE: bool = true;
const TASK_MAX_STEPS: u32 = 10u;
const TASK_RESET_UNIFORMS: u32 = 1u;
fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    st.s[0] = u[0];
    return st;
}
fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[1], st.s[2], 0.0);
}
fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    (*st).steps += 1u;
    return TaskStep(out[0], false, (*st).steps >= TASK_MAX_STEPS);
}
";

/// Every `#[repr(C)]` host struct that a kernel mirrors.
#[test]
fn host_structs_match_wgsl_layouts() {
    let plan = net_plan();
    let net_src = compose(&plan.header(), Kernel::RsnnStep);
    assert_mirrors(
        &net_src,
        "Constants",
        host_layout!(Constants {
            r_in,
            r_h,
            r_out,
            alpha_syn,
            alpha_v,
            alpha_out,
            v_reset,
            v_threshold,
            spike_rate,
            v_span,
            _pad0,
            _pad1,
        }),
    );
    let net_params = || {
        host_layout!(NetParams {
            c,
            members,
            member_offset,
            grid_x,
            flags,
            seed_lo,
            seed_hi,
            generation,
            episode,
        })
    };
    assert_mirrors(&net_src, "NetParams", net_params());
    assert_mirrors(
        &compose(&flat_header(), Kernel::SampleGenomes),
        "SampleParams",
        host_layout!(SampleParams {
            seed_lo,
            seed_hi,
            generation,
            dim,
            words,
            population,
            member_offset,
            members,
            grid_x,
            _pad0,
            _pad1,
            _pad2,
        }),
    );
    assert_mirrors(
        &compose(&plan.header(), Kernel::UnpackNet),
        "UnpackParams",
        host_layout!(UnpackParams {
            members,
            genome_words,
            grid_x,
            _pad0
        }),
    );
    assert_mirrors(
        &compose(&flat_header(), Kernel::Reductions),
        "ReduceParams",
        host_layout!(ReduceParams {
            dim,
            words,
            members,
            grid_x
        }),
    );
    let episodes = compose_episodes(&plan.episode_header(), TASK_STUB);
    assert_mirrors(
        &episodes,
        "EpisodeParams",
        host_layout!(EpisodeParams {
            episodes,
            max_steps,
            clip,
            units
        }),
    );
    assert_mirrors(&episodes, "NetParams", net_params());
}

/// Constants the host and the kernels share: generated into the headers (checked here
/// to be the ones the kernels see) or written on both sides (checked to agree).
#[test]
fn mirrored_constants_agree() {
    for shape in shapes() {
        for cols in [true, false] {
            let opts = NetOptions {
                columns_in_workgroup: Some(cols),
                ..Default::default()
            };
            let plan = NetPlan::new(&shape, &lavapipe_like_limits(), &opts).unwrap();
            let stub = TASK_STUB
                .replace(
                    "TASK_OBS_DIM: u32 = 4u",
                    &format!("TASK_OBS_DIM: u32 = {}u", shape.obs_dim),
                )
                .replace(
                    "TASK_ACT_DIM: u32 = 2u",
                    &format!("TASK_ACT_DIM: u32 = {}u", shape.act_dim),
                )
                .replace(
                    "array<f32, TASK_OBS_DIM>(st.s[0], st.s[1], st.s[2], 0.0)",
                    "array<f32, TASK_OBS_DIM>()",
                );
            let src = compose_episodes(&plan.episode_header(), &stub);
            let m = validate(&src, "episodes.wgsl").unwrap_or_else(|e| panic!("{shape:?}: {e}"));
            let c = |name: &str| constant_u32(&m, name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(c("RES_WORDS") as usize, episode_result_words(shape.obs_dim));
            assert_eq!(c("CARRY_WORDS"), plan.carry_words());
            assert_eq!(c("CARRY_TASK_S"), CARRY_HEAD_WORDS);
            assert_eq!(c("CARRY_TASK_MAX"), CARRY_TASK_MAX);
            assert_eq!(c("CARRY_NEURONS"), CARRY_HEAD_WORDS + CARRY_TASK_MAX);
            assert_eq!(c("STATE_WORDS"), plan.state_words);
            assert_eq!(c("NET_WORDS"), plan.net_words);
            assert_eq!(c("WG"), plan.wg);
            assert_eq!(
                c("TASK_RESET_LEN") as usize,
                satr::gpu::plan::RESET_UNIFORMS_LEN
            );
        }
    }
    let flat = validate(&compose(&flat_header(), Kernel::SampleGenomes), "flat").unwrap();
    assert_eq!(constant_u32(&flat, "WG"), Some(FLAT_WORKGROUP));
    // Stream tags of src/rng.rs, written out in common.wgsl.
    for (name, host) in [
        ("STREAM_GENOME", satr::rng::STREAM_GENOME),
        ("STREAM_POTENTIAL", satr::rng::STREAM_POTENTIAL),
        ("STREAM_RESET", satr::rng::STREAM_RESET),
    ] {
        assert_eq!(constant_u32(&flat, name), Some(host), "{name}");
    }
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
        poison(&ctx.queue, &out);
        assert_poisoned(&ctx, &out, words * members, "genomes");
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
        poison(&ctx.queue, &buf);
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
