//! The device memory plan: chunks fit the device's memory where it is known, a network
//! of which not even one member fits is refused before any allocation, a chunked
//! generation computes what an unchunked one does, and `satr bench --plan` prints the
//! plan for a stated set of limits without a GPU.

use crate::common;

use std::sync::Arc;

use common::cli::{ok, satr};
use common::context;
use satr::distribution::thresholds;
use satr::evaluation::{GenerationRequest, Normalizer, PopulationEvaluator, TaskFactory};
use satr::gpu::memory_plan::{self, preset, Workload, DEVICE_MEMORY_SHARE};
use satr::gpu::{GpuEvaluator, GpuOptions};
use satr::network::{NetworkConfig, Shape};

fn work(members: usize) -> Workload {
    Workload {
        members,
        episodes_per_member: 1,
        max_episode_steps: 500,
        generation_mode: true,
    }
}

#[test]
fn chunks_shrink_to_the_device_memory_and_hopeless_networks_are_refused() {
    let (limits, memory) = preset("nvidia-80gb").unwrap();
    let shape = Shape::new(&NetworkConfig::default(), 4, 2);
    let opts = Default::default();
    let big = memory_plan::plan(&shape, &limits, &opts, &work(1_000_000), memory).unwrap();
    assert!(
        big.chunks * big.chunk >= big.members && big.chunks >= 2,
        "{big:?}"
    );
    assert!(big.device_bytes as f64 <= memory.unwrap() as f64 * DEVICE_MEMORY_SHARE);
    assert_eq!(
        big.device_bytes,
        big.fixed_bytes + big.chunk as u64 * big.bytes_per_member
    );
    // A 1 GiB device: the memory, not the binding, bounds the chunk.
    let small = memory_plan::plan(&shape, &limits, &opts, &work(1_000_000), Some(1 << 30)).unwrap();
    assert_eq!(small.chunk_limited_by, "device memory");
    assert!(small.chunk < big.chunk);
    assert!(small.device_bytes as f64 <= (1u64 << 30) as f64 * DEVICE_MEMORY_SHARE);
    // A population smaller than a chunk is one chunk of itself.
    let few = memory_plan::plan(&shape, &limits, &opts, &work(300), memory).unwrap();
    assert_eq!(
        (few.chunk, few.chunks, few.chunk_limited_by),
        (300, 1, "population")
    );
    // Not even one N 8192 member fits 64 MiB.
    let huge = Shape::new(
        &NetworkConfig {
            neurons: 8192,
            ..Default::default()
        },
        4,
        2,
    );
    let e = memory_plan::plan(&huge, &limits, &opts, &work(10), Some(64 << 20))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("device memory") && e.contains("network.neurons"),
        "{e}"
    );
}

#[test]
fn a_generation_chunked_by_device_memory_computes_the_same() {
    let Some(ctx) = context() else { return };
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let factory: TaskFactory = Arc::new(|| satr::tasks::make_task("cartpole").unwrap());
    let shape = Shape::new(&cfg, 4, 2);
    let dim = shape.layout().len();
    let p = vec![0.45; dim];
    let th = thresholds(&p);
    let norm = Normalizer {
        mean: vec![0.0; 4],
        inv_std: vec![1.0; 4],
        clip: 5.0,
    };
    let req = GenerationRequest::new(3, 0, &p, &th, &norm, 11, 30).with_eval(2, 1);
    // Room for 3 members beside the genome-sized buffers (host-task mode).
    let host = Workload {
        generation_mode: false,
        ..work(13)
    };
    let plan = memory_plan::plan(&shape, &ctx.limits, &Default::default(), &host, None).unwrap();
    let tight =
        ((plan.fixed_bytes + 3 * plan.bytes_per_member) as f64 / DEVICE_MEMORY_SHARE) as u64 + 1;
    let mut fitness = Vec::new();
    for device_memory in [None, Some(tight)] {
        let opts = GpuOptions {
            device_memory,
            ..Default::default()
        };
        let mut gpu = GpuEvaluator::with_options(&ctx, &cfg, factory.clone(), opts).unwrap();
        if device_memory.is_some() {
            assert_eq!(gpu.chunk(), 3);
        }
        let f = gpu.evaluate(&req).unwrap();
        fitness.push((f.train, f.eval));
    }
    assert_eq!(fitness[0], fitness[1]);
}

#[test]
fn bench_plan_prints_the_plan_for_stated_limits() {
    let o = satr(&[
        "bench",
        "--plan",
        "--population",
        "1000000",
        "--limits",
        "nvidia-80gb",
        "--json",
    ]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["neurons"], 256);
    assert!(v["chunks"].as_u64().unwrap() >= 2, "{v}");
    assert!(v["dispatches_per_chunk"].as_u64().is_some(), "{v}");
    let e = satr(&["bench", "--plan", "--limits", "a-card-we-never-heard-of"]);
    assert!(!e.status.success());
    assert!(String::from_utf8_lossy(&e.stderr).contains("nvidia-80gb"));
    let e = satr(&[
        "bench",
        "--plan",
        "--neurons",
        "16384",
        "--limits",
        "nvidia-24gb",
    ]);
    assert!(!e.status.success());
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("max_compute_workgroup_storage_size"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
}
