//! The GPU half of `tests/engine/cpu_twins.rs`: each kernel's output against its CPU twin's,
//! exactly. Every use of the GPU driver API sits in the helpers at the top.

use satr::cpu::episodes::{run_episodes, EpisodeCarry, EpisodeParams};
use satr::cpu::reductions::fixed_point_reductions;
use satr::cpu::{reset_state, rsnn_step, unpack_net, NetState, PackedNet};
use satr::distribution::words_for;
use satr::gpu::device::{read_words, storage_buffer};
use satr::gpu::episodes::{EpisodeKernel, EpisodeResult};
use satr::gpu::network::{GpuNetwork, MemberState};
use satr::gpu::plan::NetOptions;
use satr::gpu::reductions::Reducer;
use satr::gpu::sample_genomes::GenomeSampler;
use satr::gpu::GpuContext;
use satr::network::{Constants, Shape};

use super::{genomes, norm_f32, normalizer, sample_range, shape, Ring, Rng};
use crate::common::context;

// ---- the GPU driver API, in one place ----

/// Writes u32::MAX over a whole buffer, so a word the kernel fails to write shows.
fn poison(ctx: &GpuContext, buf: &wgpu::Buffer) {
    ctx.queue
        .write_buffer(buf, 0, &vec![0xFF; buf.size() as usize]);
}

/// A network of `members` on the device with `genomes` uploaded.
fn network(
    ctx: &GpuContext,
    s: &Shape,
    c: Constants,
    genomes: &[u64],
    opts: NetOptions,
) -> GpuNetwork {
    let members = genomes.len() / words_for(s.layout().len());
    let net = GpuNetwork::new(ctx, s, c, members, &opts, false).unwrap();
    net.upload_genomes(genomes, members).unwrap();
    net
}

/// The packed nets after `unpack_net.wgsl`, the net buffer poisoned first.
fn gpu_unpack(ctx: &GpuContext, net: &GpuNetwork, members: usize) -> Vec<u32> {
    poison(ctx, net.net_buffer());
    net.unpack(members).unwrap();
    net.read_nets(members).unwrap()
}

/// `sample_genomes.wgsl` into a poisoned buffer.
fn gpu_sample(
    ctx: &GpuContext,
    dim: usize,
    th: &[u32],
    mode: &[u64],
    range: (usize, usize, usize),
) -> Vec<u32> {
    let (population, offset, members) = range;
    let sampler = GenomeSampler::new(ctx, dim).unwrap();
    sampler.set_distribution(th, mode).unwrap();
    let words = sampler.words();
    let out = storage_buffer(&ctx.device, "twin genomes", (4 * words * members) as u64);
    poison(ctx, &out);
    sampler
        .sample_into(&out, 42, 7, population, offset, members)
        .unwrap();
    read_words(ctx, &out, 0, (words * members) as u64).unwrap()
}

/// `reductions.wgsl` through the `Reducer`, in chunks of `chunk` members.
fn gpu_reduce(
    ctx: &GpuContext,
    genomes: &[u64],
    dim: usize,
    u: &[f64],
    chunk: usize,
) -> (Vec<f64>, Vec<f64>) {
    let words = words_for(dim);
    let buf = storage_buffer(&ctx.device, "twin genomes", (8 * words * chunk) as u64);
    let mut reducer = Reducer::new(ctx, dim, chunk).unwrap();
    reducer.begin(u).unwrap();
    for (k, uk) in u.chunks(chunk).enumerate() {
        let g = &genomes[k * chunk * words..(k * chunk + uk.len()) * words];
        ctx.queue.write_buffer(&buf, 0, bytemuck::cast_slice(g));
        reducer.add(&buf, uk).unwrap();
    }
    reducer.finish().unwrap()
}

/// `episodes.wgsl` composed with the ring task, and its units per dispatch.
fn episode_kernel(ctx: &GpuContext, net: &GpuNetwork, members: usize) -> (EpisodeKernel, u32) {
    let kernel = EpisodeKernel::new(ctx, &net.plan, RING_WGSL, members).unwrap();
    let units = kernel.units_per_dispatch();
    (kernel, units)
}

/// All episodes of `members` (global indices from `offset`) on the device.
fn gpu_episodes(
    kernel: &EpisodeKernel,
    net: &GpuNetwork,
    offset: usize,
    members: usize,
    episodes: usize,
    max_steps: usize,
) -> Vec<EpisodeResult> {
    net.unpack(members).unwrap();
    kernel
        .run(
            net,
            &normalizer(),
            21,
            3,
            offset,
            members,
            episodes,
            max_steps,
        )
        .unwrap()
}

// ---- the comparisons ----

/// The carried state as `episodes.wgsl` leaves it (head, then from `CARRY_NEURONS` =
/// head + task room: v, syn, rate, then the spike words, excitatory then inhibitory)
/// against the CPU twin's final carry, word for word.
fn assert_carry(gpu: &[u32], cpu: &EpisodeCarry<Ring>, s: &Shape, what: &str) {
    use satr::gpu::plan::{CARRY_HEAD_WORDS, CARRY_TASK_MAX};
    let head = [cpu.episode, cpu.step, cpu.open as u32, cpu.ret.to_bits()];
    assert_eq!(
        &gpu[..4],
        &head,
        "{what}: carry head (episode, step, open, return)"
    );
    let n = s.neurons;
    let at = (CARRY_HEAD_WORDS + CARRY_TASK_MAX) as usize;
    let st = &cpu.state;
    for (k, (name, x)) in [("v", &st.v), ("syn", &st.i_syn), ("rate", &st.rate)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            &gpu[at + k * n..at + (k + 1) * n],
            bits(&x[..n]).as_slice(),
            "{what}: carried {name}"
        );
    }
    let words32 = |z: &[u64], count: usize| -> Vec<u32> {
        (0..count.div_ceil(32))
            .map(|w| (z[w / 2] >> (32 * (w % 2))) as u32)
            .collect()
    };
    let spikes = [words32(&st.z_exc, s.n_exc), words32(&st.z_inh, s.n_inh())].concat();
    assert_eq!(
        &gpu[at + 3 * n..],
        spikes.as_slice(),
        "{what}: carried spikes"
    );
}

/// A CPU packed net in the GPU's 32-bit layout (`unpack_net.wgsl`'s header comment):
/// row words split in two, column word `[w][n]` from half `w % 2` of CPU word `[w / 2][n]`.
fn gpu_layout(net: &PackedNet) -> Vec<u32> {
    let s = net.shape;
    let (n, nw) = (s.neurons, net.row_words());
    let half = |w: u64, i: usize| (w >> (32 * (i % 2))) as u32;
    let nw32 = n.div_ceil(32);
    let rows = |rows: &[u64], count: usize| -> Vec<u32> {
        (0..count)
            .flat_map(|j| (0..nw32).map(move |q| (j, q)))
            .map(|(j, q)| half(rows[j * nw + q / 2], q))
            .collect()
    };
    let cols = |cols: &[u64], neurons: usize| -> Vec<u32> {
        (0..neurons.div_ceil(32))
            .flat_map(|w| (0..n).map(move |post| (w, post)))
            .map(|(w, post)| half(cols[(w / 2) * n + post], w))
            .collect()
    };
    [
        rows(net.w_in(), 2 * s.obs_dim),
        cols(net.h_exc(), s.n_exc),
        cols(net.h_inh(), s.n_inh()),
        rows(net.w_out(), s.act_dim),
    ]
    .concat()
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

fn assert_state(gpu: &MemberState, cpu: &NetState, what: &str) {
    assert_eq!(gpu.counts, cpu.counts, "{what}: counts");
    assert_eq!(
        (&gpu.z_exc, &gpu.z_inh),
        (&cpu.z_exc, &cpu.z_inh),
        "{what}: spikes"
    );
    for (name, g, c) in [
        ("v", &gpu.v, &cpu.v),
        ("i_syn", &gpu.i_syn, &cpu.i_syn),
        ("rate", &gpu.rate, &cpu.rate),
        ("i_in", &gpu.i_in, &cpu.i_in),
    ] {
        assert_eq!(bits(g), bits(c), "{what}: {name}");
    }
}

#[test]
fn unpack_net_matches_cpu() {
    let Some(ctx) = context() else { return };
    for (neurons, exc, d, a, members) in [
        (37, 0.5, 3, 2, 5),
        (70, 0.3, 5, 1, 13),
        (129, 0.8, 3, 3, 5),
        (70, 0.0, 5, 2, 5),
        (65, 1.0, 3, 2, 13),
    ] {
        let (s, c) = shape(neurons, exc, d, a);
        let g = genomes(&s, members, neurons as u64);
        let net = network(&ctx, &s, c, &g, NetOptions::default());
        let got = gpu_unpack(&ctx, &net, members);
        let words = words_for(s.layout().len());
        let nw = net.plan.net_words as usize;
        let mut cpu = PackedNet::new(s);
        for m in 0..members {
            unpack_net(&g[m * words..(m + 1) * words], &mut cpu);
            let expect = gpu_layout(&cpu);
            assert_eq!(expect.len(), nw, "layout size");
            assert_eq!(
                &got[m * nw..(m + 1) * nw],
                &expect[..],
                "N={neurons} d={d} a={a} member {m}"
            );
        }
    }
}

#[test]
fn reset_state_matches_cpu() {
    let Some(ctx) = context() else { return };
    for (neurons, d, members, opts) in [
        (37, 3, 5, NetOptions::default()),
        (
            129,
            5,
            13,
            NetOptions {
                workgroup_size: Some(64),
                columns_in_workgroup: None,
                // The state before each reset, the outputs before each step.
                poison: true,
                quirks: None,
            },
        ),
    ] {
        let (s, c) = shape(neurons, 0.5, d, 2);
        let g = genomes(&s, members, 7);
        let net = network(&ctx, &s, c, &g, opts);
        net.unpack(members).unwrap();
        // The state buffer is not exposed to poison: dirty every field with two strongly
        // driven steps instead, and check they are dirty.
        net.reset(5, 1, 0, members, 0).unwrap();
        let obs: Vec<f32> = (0..members * d)
            .map(|i| if i % 2 == 0 { 3.0 } else { -3.0 })
            .collect();
        net.step(&obs, None, members, false).unwrap();
        net.step(&obs, None, members, false).unwrap();
        let dirty = net.read_state(members).unwrap();
        assert!(
            dirty.iter().any(|m| m.counts.iter().any(|&x| x != 0)),
            "counts not dirtied"
        );
        assert!(
            dirty
                .iter()
                .any(|m| m.z_exc.iter().chain(&m.z_inh).any(|&z| z != 0)),
            "spikes not dirtied"
        );
        net.reset(77, 4, 9, members, 3).unwrap();
        let mut cpu = NetState::new(&s);
        for (m, gpu) in net.read_state(members).unwrap().iter().enumerate() {
            reset_state(&c, 77, 4, 9 + m as u32, 3, &mut cpu);
            assert_state(gpu, &cpu, &format!("N={neurons} member {m} after reset"));
        }
    }
}

#[test]
fn rsnn_step_with_a_mask_matches_cpu() {
    let Some(ctx) = context() else { return };
    let (s, c) = shape(129, 0.5, 3, 2);
    let members = 13;
    let g = genomes(&s, members, 11);
    let opts = NetOptions {
        workgroup_size: Some(64),
        columns_in_workgroup: None,
        poison: true,
        quirks: None,
    };
    let net = network(&ctx, &s, c, &g, opts);
    net.unpack(members).unwrap();
    net.reset(3, 0, 0, members, 0).unwrap();
    let words = words_for(s.layout().len());
    let nets: Vec<PackedNet> = g
        .chunks(words)
        .map(|g| PackedNet::from_genome(s, g))
        .collect();
    let mut states: Vec<NetState> = (0..members as u32)
        .map(|m| {
            let mut st = NetState::new(&s);
            reset_state(&c, 3, 0, m, 0, &mut st);
            st
        })
        .collect();
    let mut out = vec![0.0f32; members * 2];
    let mut rng = Rng(99);
    for step in 0..5 {
        let obs: Vec<f32> = (0..members * 3)
            .map(|_| (rng.unit() * 6.0 - 3.0) as f32)
            .collect();
        // All alive first, so every output has been written once.
        let alive: Vec<u32> = (0..members)
            .map(|_| (step == 0 || rng.unit() < 0.6) as u32)
            .collect();
        net.step(&obs, Some(&alive), members, false).unwrap();
        rsnn_step(&nets, &c, &obs, &alive, &mut states, &mut out);
        // Outputs are poisoned before each step: a live member's must equal the twin's,
        // a dead member's must stay unwritten.
        let (gpu_out, cpu_out) = (bits(&net.read_outputs(members).unwrap()), bits(&out));
        for (m, &a) in alive.iter().enumerate() {
            let g = &gpu_out[2 * m..2 * m + 2];
            if a == 1 {
                assert_eq!(
                    g,
                    &cpu_out[2 * m..2 * m + 2],
                    "outputs, step {step} member {m}"
                );
            } else {
                assert_eq!(g, [u32::MAX; 2], "dead member {m} written, step {step}");
            }
        }
        for (m, gpu) in net.read_state(members).unwrap().iter().enumerate() {
            assert_state(gpu, &states[m], &format!("member {m} step {step}"));
        }
    }
}

#[test]
fn sample_genomes_matches_cpu() {
    let Some(ctx) = context() else { return };
    for (dim, population, offset, members) in [(203, 9, 4, 7), (1665, 13, 0, 13), (70, 3, 2, 5)] {
        let (th, mode, cpu) = sample_range(dim, population, offset, members);
        let got = gpu_sample(&ctx, dim, &th, &mode, (population, offset, members));
        assert_eq!(
            &got[..],
            bytemuck::cast_slice::<u64, u32>(&cpu),
            "dim {dim}"
        );
    }
}

#[test]
fn reductions_match_the_fixed_point_twin_exactly() {
    let Some(ctx) = context() else { return };
    let (s, _) = shape(37, 0.5, 3, 2);
    for (dim, members, chunk) in [(s.layout().len(), 13, 5), (203, 5, 2), (301, 13, 13)] {
        let g = {
            let (_, _, g) = sample_range(dim, members, 0, members);
            g
        };
        let mut rng = Rng(dim as u64);
        let ranks: Vec<f64> = (0..members)
            .map(|k| ((k * 5) % members) as f64 / (members - 1) as f64 - 0.5)
            .collect();
        for (what, u) in [
            ("ranks", ranks.clone()),
            ("large", ranks.iter().map(|x| x * 1e3).collect()),
            ("tiny", ranks.iter().map(|x| x * 1e-9).collect()),
            (
                "random",
                (0..members).map(|_| rng.unit() * 2.0 - 1.0).collect(),
            ),
            ("zero", vec![0.0; members]),
        ] {
            let (a, b) = gpu_reduce(&ctx, &g, dim, &u, chunk);
            for cpu_chunk in [chunk, members] {
                let cpu = fixed_point_reductions(&g, dim, &u, cpu_chunk);
                let what = format!("{what} dim {dim} chunk {chunk}/{cpu_chunk}");
                assert_eq!(
                    a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    cpu.a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    "A, {what}"
                );
                assert_eq!(
                    b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    cpu.b.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    "B, {what}"
                );
            }
        }
    }
}

/// The ring of `tests/engine/cpu_twins.rs` in WGSL (the task interface of `src/gpu/tasks.rs`).
const RING_WGSL: &str = r#"
const TASK_STATE_DIM: u32 = 2u;
const TASK_OBS_DIM: u32 = 2u;
const TASK_ACT_DIM: u32 = 2u;
const TASK_DISCRETE: bool = true;
const TASK_MAX_STEPS: u32 = 37u;
const TASK_RESET_UNIFORMS: u32 = 2u;

fn task_reset(u: array<f32, TASK_RESET_LEN>) -> TaskState {
    var st: TaskState;
    st.s[0] = floor(u[0] * 8.0) * 0.25 - 1.0;
    st.s[1] = floor(u[1] * 4.0) * 0.25 - 0.5;
    st.steps = 0u;
    st.flags = 0u;
    return st;
}

fn task_observe(st: TaskState) -> array<f32, TASK_OBS_DIM> {
    return array<f32, TASK_OBS_DIM>(st.s[0], st.s[1]);
}

fn task_step(st: ptr<function, TaskState>, out: array<f32, TASK_ACT_DIM>) -> TaskStep {
    let vel = clamp((*st).s[1] + select(-0.25, 0.25, out[1] > out[0]), -1.0, 1.0);
    var pos = (*st).s[0] + vel;
    if (pos >= 2.0) {
        pos -= 4.0;
    }
    if (pos < -2.0) {
        pos += 4.0;
    }
    (*st).s[0] = pos;
    (*st).s[1] = vel;
    (*st).steps += 1u;
    var r: TaskStep;
    r.reward = 1.0 - 0.125 * abs(pos);
    r.terminated = false;
    r.truncated = (*st).steps >= TASK_MAX_STEPS;
    return r;
}
"#;

#[test]
fn sliced_episodes_match_cpu() {
    let Some(ctx) = context() else { return };
    let (s, c) = shape(37, 0.5, 2, 2);
    let (offset, members) = (3, 5);
    let g = genomes(&s, members, 21);
    let net = network(&ctx, &s, c, &g, NetOptions::default());
    let words = words_for(s.layout().len());
    let norm = norm_f32(&normalizer());
    let (kernel, units) = episode_kernel(&ctx, &net, members);
    // Enough episodes that a member's work spans at least two dispatches.
    let episodes = 2 * units as usize / 31 + 2;
    // Time's up at 30 (before the task's limit of 37), and truncation by the task.
    for max_steps in [30usize, 50] {
        let gpu = gpu_episodes(&kernel, &net, offset, members, episodes, max_steps);
        let p = EpisodeParams {
            episodes: episodes as u32,
            max_steps: max_steps as u32,
            clip: 3.0,
            units,
        };
        let mut sliced = false;
        let carry = kernel.read_carry(members).unwrap();
        let cw = net.plan.carry_words() as usize;
        for (m, gr) in gpu.iter().enumerate() {
            let cpu_net = PackedNet::from_genome(s, &g[m * words..(m + 1) * words]);
            let (r, cpu_carry) =
                run_episodes::<Ring>(&cpu_net, &c, &p, &norm, 21, 3, (offset + m) as u32);
            assert_carry(
                &carry[m * cw..(m + 1) * cw],
                &cpu_carry,
                &s,
                &format!("max_steps {max_steps} member {m}"),
            );
            let what = format!("max_steps {max_steps} member {m} (units {units})");
            assert_eq!(gr.total_return, r.total as f64, "{what}: return");
            assert_eq!(
                (gr.steps, gr.stats.count),
                (r.steps as u64, r.count as u64),
                "{what}: steps"
            );
            // Exact: the shader's Welford product goes through `rounded()`, so no driver
            // can fuse it; a driver whose f32 division is approximate would differ here.
            let f64s = |x: &[f32]| x.iter().map(|&v| v as f64).collect::<Vec<_>>();
            assert_eq!(gr.stats.mean, f64s(&r.mean), "{what}: mean");
            assert_eq!(gr.stats.m2, f64s(&r.m2), "{what}: m2");
            sliced |= r.steps + episodes as u32 > units;
        }
        assert!(
            sliced,
            "max_steps {max_steps}: every member fit one dispatch of {units} units"
        );
    }
}

/// Regression (the GPU half of `work_filling_the_last_dispatch_closes_the_last_episode`):
/// work that fills the last dispatch exactly used to leave the last episode open and
/// fail with "completed N-1 of N episodes".
#[test]
fn work_filling_the_last_dispatch_completes_on_the_gpu() {
    let Some(ctx) = context() else { return };
    let (s, c) = shape(37, 0.5, 2, 2);
    let g = genomes(&s, 1, 37);
    let net = network(&ctx, &s, c, &g, NetOptions::default());
    let (kernel, units) = episode_kernel(&ctx, &net, 1);
    // Every episode times out at 30 steps (the ring runs 37), and the work is
    // units * 31 = a multiple of the units per dispatch.
    let episodes = units as usize;
    net.unpack(1).unwrap();
    let gpu = kernel
        .run(&net, &normalizer(), 21, 3, 0, 1, episodes, 30)
        .expect("every episode completes");
    let p = EpisodeParams {
        episodes: units,
        max_steps: 30,
        clip: 3.0,
        units,
    };
    let (cpu, _) = run_episodes::<Ring>(
        &PackedNet::from_genome(s, &g),
        &c,
        &p,
        &norm_f32(&normalizer()),
        21,
        3,
        0,
    );
    assert_eq!(cpu.episodes, units);
    assert_eq!(gpu[0].total_return, cpu.total as f64);
    assert_eq!(
        (gpu[0].steps, gpu[0].stats.count),
        (cpu.steps as u64, cpu.count as u64)
    );
}
