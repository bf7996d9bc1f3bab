//! The network kernels against the CPU bitset engine (`satr::cpu`), substep by
//! substep: integer counts, spike trains, every f32 state variable and the outputs
//! must be identical, and the packed nets must hold the genome's bits where
//! `unpack_net.wgsl` puts them. Every run is poisoned ([`NetOptions::poison`]): each
//! buffer a kernel writes starts as all ones, so a word it skips is a mismatch.

use crate::common;
use common::xorshift::Rng;
use common::{assert_poisoned, context};
use satr::cpu::{self, NetState, PackedNet};
use satr::distribution::{sample_genome, thresholds, words_for};
use satr::evaluation::EngineError;
use satr::gpu::network::{GpuNetwork, MemberState};
use satr::gpu::plan::{NetOptions, NetPlan};
use satr::gpu::GpuContext;
use satr::network::{Constants, NetworkConfig, Shape};

/// The packed nets of `unpack_net.wgsl`, built on the host from the genome bits: per
/// member `w_in [2d][NW]`, `h_exc [WE][N]`, `h_inh [WI][N]`, `w_out [A][NW]` u32 words.
fn host_nets(shape: &Shape, plan: &NetPlan, genomes: &[u64], members: usize) -> Vec<u32> {
    let layout = shape.layout();
    let (n, d, a) = (shape.neurons, shape.obs_dim, shape.act_dim);
    let (nw, we) = (plan.nw as usize, plan.we as usize);
    let [_, h_exc, h_inh, w_out] = plan.net_offsets().map(|o| o as usize);
    let words = words_for(layout.len());
    let mut out = vec![0u32; members * plan.net_words as usize];
    for m in 0..members {
        let g = &genomes[m * words..(m + 1) * words];
        let bit = |i: usize| (g[i / 64] >> (i % 64)) & 1 == 1;
        let net = &mut out[m * plan.net_words as usize..][..plan.net_words as usize];
        for j in 0..2 * d {
            for post in 0..n {
                if bit(layout.w_in(j, post)) {
                    net[j * nw + post / 32] |= 1 << (post % 32);
                }
            }
        }
        for pre in 0..n {
            for post in 0..n {
                if bit(layout.w_h(pre, post)) {
                    if pre < shape.n_exc {
                        net[h_exc + (pre / 32) * n + post] |= 1 << (pre % 32);
                    } else {
                        let q = pre - shape.n_exc;
                        net[h_inh + (q / 32) * n + post] |= 1 << (q % 32);
                    }
                }
            }
        }
        for post in 0..n {
            for k in 0..a {
                if bit(layout.w_out(post, k)) {
                    net[w_out + k * nw + post / 32] |= 1 << (post % 32);
                }
            }
        }
        assert_eq!(h_inh, h_exc + we * n);
    }
    out
}

fn bits_eq(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

fn assert_state(gpu: &MemberState, cpu: &NetState, what: &str) {
    assert_eq!(gpu.counts, cpu.counts, "{what}: counts");
    assert_eq!(gpu.z_exc, cpu.z_exc, "{what}: z_exc");
    assert_eq!(gpu.z_inh, cpu.z_inh, "{what}: z_inh");
    for (name, g, c) in [
        ("v", &gpu.v, &cpu.v),
        ("i_syn", &gpu.i_syn, &cpu.i_syn),
        ("rate", &gpu.rate, &cpu.rate),
        ("i_in", &gpu.i_in, &cpu.i_in),
    ] {
        if !bits_eq(g, c) {
            let worst = g
                .iter()
                .zip(c.iter())
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            panic!("{what}: {name} differs (max abs diff {worst:e})");
        }
    }
}

/// Runs `members` random networks for `env_steps` steps on both engines and compares
/// everything after every substep.
#[allow(clippy::too_many_arguments)]
fn compare(
    ctx: &GpuContext,
    neurons: usize,
    exc_ratio: f64,
    obs_dim: usize,
    act_dim: usize,
    members: usize,
    env_steps: usize,
    opts: NetOptions,
) {
    let cfg = NetworkConfig {
        neurons,
        exc_ratio,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, obs_dim, act_dim);
    let c = Constants::new(&cfg, &shape);
    let dim = shape.layout().len();
    let words = words_for(dim);
    let mut rng = Rng(0x5EED ^ neurons as u64);
    // Dense enough recurrent weights that activity spreads, sparse enough to vary.
    let p: Vec<f64> = (0..dim).map(|_| 0.2 + 0.6 * rng.unit()).collect();
    let th = thresholds(&p);
    let mut genomes = vec![0u64; words * members];
    for m in 0..members {
        sample_genome(
            &th,
            11,
            2,
            m as u32,
            &mut genomes[m * words..(m + 1) * words],
        );
    }
    let opts = NetOptions {
        poison: true,
        ..opts
    };
    let net = GpuNetwork::new(ctx, &shape, c, members, &opts, true).unwrap();
    let plan = net.plan;
    let what = format!(
        "N={neurons} exc={exc_ratio} d={obs_dim} a={act_dim} P={members} wg={} cols_in_wg={}",
        plan.wg, plan.cols_in_wg
    );
    // The poison reaches every word the comparisons below read.
    net.poison();
    let state_words = members * plan.state_words as usize;
    let trace_words = members * shape.substeps * plan.zw() as usize;
    assert_poisoned(
        ctx,
        net.net_buffer(),
        members * plan.net_words as usize,
        "nets",
    );
    assert_poisoned(ctx, net.state_buffer(), state_words, "state");
    assert_poisoned(ctx, net.output_buffer(), members * act_dim, "outputs");
    assert_poisoned(ctx, net.trace_buffer(), trace_words, "trace");
    net.upload_genomes(&genomes, members).unwrap();
    net.unpack(members).unwrap();
    assert_eq!(
        net.read_nets(members).unwrap(),
        host_nets(&shape, &plan, &genomes, members),
        "{what}: packed nets"
    );
    let offset = 5;
    net.reset(77, 3, offset, members, 1).unwrap();
    let packed: Vec<PackedNet> = (0..members)
        .map(|m| PackedNet::from_genome(shape, &genomes[m * words..(m + 1) * words]))
        .collect();
    let mut states: Vec<NetState> = (0..members)
        .map(|m| {
            let mut s = NetState::new(&shape);
            s.reset(&c, 77, 3, (offset + m) as u32, 1);
            s
        })
        .collect();
    for (m, g) in net.read_state(members).unwrap().iter().enumerate() {
        assert_state(g, &states[m], &format!("{what} member {m} after reset"));
    }
    let mut spikes = 0u64;
    let mut out = vec![0.0f32; act_dim];
    for step in 0..env_steps {
        let obs: Vec<f32> = (0..members * obs_dim)
            .map(|_| (rng.unit() * 6.0 - 3.0) as f32)
            .collect();
        net.step(&obs, None, members, true).unwrap();
        let gpu_out = net.read_outputs(members).unwrap();
        let trace = net.read_trace(members).unwrap();
        for m in 0..members {
            let (s, pn) = (&mut states[m], &packed[m]);
            cpu::input_projection(pn, &c, &obs[m * obs_dim..(m + 1) * obs_dim], s);
            for (k, (ze, zi)) in trace[m].iter().enumerate() {
                cpu::substep(pn, &c, s);
                spikes += s.spike_count() as u64;
                assert_eq!(
                    (ze, zi),
                    (&s.z_exc, &s.z_inh),
                    "{what}: member {m} env step {step} substep {k} spikes"
                );
            }
            cpu::output_projection(pn, &c, s, &mut out);
            assert!(
                bits_eq(&gpu_out[m * act_dim..(m + 1) * act_dim], &out),
                "{what}: member {m} step {step} outputs {:?} vs {:?}",
                &gpu_out[m * act_dim..(m + 1) * act_dim],
                out
            );
        }
        for (m, g) in net.read_state(members).unwrap().iter().enumerate() {
            assert_state(g, &states[m], &format!("{what} member {m} env step {step}"));
        }
    }
    let substeps = (members * env_steps * shape.substeps * neurons) as f64;
    eprintln!("{what}: spike fraction {:.3}", spikes as f64 / substeps);
    assert!(spikes > 0, "{what}: no spikes, the comparison is vacuous");

    // A masked member keeps its state; the others advance exactly as on the CPU.
    if members > 1 {
        let before = net.read_state(members).unwrap();
        let obs = vec![0.5f32; members * obs_dim];
        let active: Vec<u32> = (0..members).map(|m| (m % 2 == 0) as u32).collect();
        net.step(&obs, Some(&active), members, false).unwrap();
        let after = net.read_state(members).unwrap();
        for m in 0..members {
            if m % 2 == 1 {
                assert_eq!(after[m], before[m], "{what}: masked member {m} changed");
            } else {
                let s = &mut states[m];
                cpu::net_step(
                    &packed[m],
                    &c,
                    &obs[m * obs_dim..(m + 1) * obs_dim],
                    s,
                    &mut out,
                );
                assert_state(&after[m], s, &format!("{what} member {m} masked step"));
            }
        }
    }
}

#[test]
fn n37_three_members_matches_cpu() {
    let Some(ctx) = context() else { return };
    compare(&ctx, 37, 0.5, 4, 2, 3, 4, NetOptions::default());
}

#[test]
fn n100_thirteen_members_several_neurons_per_invocation() {
    let Some(ctx) = context() else { return };
    // 64 invocations for 100 neurons: 2 neurons per invocation, the second partial;
    // for 256 neurons: 4 per invocation.
    let opts = NetOptions {
        workgroup_size: Some(64),
        ..Default::default()
    };
    compare(&ctx, 100, 0.5, 3, 1, 13, 4, opts);
    compare(&ctx, 256, 0.5, 2, 2, 3, 2, opts);
}

#[test]
fn n256_matches_cpu() {
    let Some(ctx) = context() else { return };
    compare(&ctx, 256, 0.5, 4, 2, 3, 4, NetOptions::default());
}

#[test]
fn columns_read_from_global_memory_match_cpu() {
    let Some(ctx) = context() else { return };
    let opts = NetOptions {
        columns_in_workgroup: Some(false),
        ..Default::default()
    };
    compare(&ctx, 70, 0.3, 2, 3, 5, 4, opts);
}

#[test]
fn all_excitatory_and_all_inhibitory_match_cpu() {
    let Some(ctx) = context() else { return };
    compare(&ctx, 40, 1.0, 3, 2, 3, 3, NetOptions::default());
    compare(&ctx, 40, 0.0, 3, 2, 3, 3, NetOptions::default());
}

#[test]
fn impossible_sizes_are_refused_before_allocation() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 16384,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 4, 2);
    // Spikes and rates alone overflow any adapter's workgroup memory at this N
    // (unless it has more than 70 KB).
    if ctx.limits.max_compute_workgroup_storage_size < 70_000 {
        match NetPlan::new(&shape, &ctx.limits, &NetOptions::default()) {
            Err(EngineError::TooLarge(msg)) => {
                assert!(msg.contains("max_compute_workgroup_storage_size"), "{msg}")
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
    // Columns forced on chip for a network whose columns cannot fit.
    let cfg = NetworkConfig {
        neurons: 1024,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 4, 2);
    let opts = NetOptions {
        columns_in_workgroup: Some(true),
        ..Default::default()
    };
    match GpuNetwork::new(&ctx, &shape, Constants::new(&cfg, &shape), 1, &opts, false) {
        Err(EngineError::TooLarge(msg)) => assert!(msg.contains("workgroup"), "{msg}"),
        Err(e) => panic!("expected TooLarge, got {e}"),
        Ok(_) => assert!(ctx.limits.max_compute_workgroup_storage_size as usize >= 4 * 32 * 1024),
    }
    // More members than one binding can hold.
    let cfg = NetworkConfig::default();
    let shape = Shape::new(&cfg, 4, 2);
    let plan = NetPlan::new(&shape, &ctx.limits, &NetOptions::default()).unwrap();
    let max = plan.max_chunk(&ctx.limits).unwrap();
    match GpuNetwork::new(
        &ctx,
        &shape,
        Constants::new(&cfg, &shape),
        max + 1,
        &NetOptions::default(),
        false,
    ) {
        Err(EngineError::TooLarge(msg)) => {
            assert!(msg.contains("max_storage_buffer_binding_size"), "{msg}")
        }
        Err(e) => panic!("expected TooLarge, got {e}"),
        Ok(_) => panic!("expected TooLarge"),
    }
}

#[test]
fn bench_network_times_the_steps() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 64,
        ..Default::default()
    };
    let s = satr::gpu::bench_network(&ctx, &cfg, 4, 2, 13, 2, 5).unwrap();
    assert!(s > 0.0 && s.is_finite(), "{s}");
    let members = 13.0 * 2.0 * 33.0 * 64.0 * 64.0;
    eprintln!(
        "{}: {:.3e} synapse-substeps/s (N 64, P 13)",
        ctx.describe(),
        members / s
    );
}

#[test]
fn decaying_state_is_flushed_on_the_gpu_as_on_the_cpu() {
    // A network with no connections: the initial potentials decay towards zero through
    // the smallest normal floats (about 1700 substeps); both engines store +0 from then
    // on (SPEC 1), whatever the driver does with subnormals.
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 70,
        ..Default::default()
    };
    let shape = Shape::new(&cfg, 2, 1);
    let c = Constants::new(&cfg, &shape);
    let members = 2;
    let words = words_for(shape.layout().len());
    let genomes = vec![0u64; words * members];
    let net = GpuNetwork::new(&ctx, &shape, c, members, &NetOptions::default(), false).unwrap();
    net.upload_genomes(&genomes, members).unwrap();
    net.unpack(members).unwrap();
    net.reset(5, 0, 0, members, 0).unwrap();
    let packed = PackedNet::from_genome(shape, &genomes[..words]);
    let mut states: Vec<NetState> = (0..members)
        .map(|m| {
            let mut s = NetState::new(&shape);
            s.reset(&c, 5, 0, m as u32, 0);
            s
        })
        .collect();
    let obs = vec![0.0f32; members * 2];
    let mut out = [0.0f32];
    for step in 0..60 {
        net.step(&obs, None, members, false).unwrap();
        for s in &mut states {
            cpu::net_step(&packed, &c, &obs[..2], s, &mut out);
        }
        if step % 10 == 9 {
            for (m, g) in net.read_state(members).unwrap().iter().enumerate() {
                assert_state(g, &states[m], &format!("silent member {m} env step {step}"));
            }
        }
    }
    for s in &states {
        assert!(
            s.v.iter().all(|&v| v == 0.0),
            "every potential flushed to zero"
        );
    }
}
