//! Multi-process training under `mpirun`: runs over 2 and 3 ranks must end with a `p`
//! bit-identical to one process on the same backend (CPU, or GPU in either mode), with
//! any split of the members (empty shares too), and resume under MPI must continue
//! bit-identically. MPI initialises once per process, so
//! everything goes through the built binary.
//!
//! Skipped with a notice when `mpirun` is not on PATH; `SATR_REQUIRE_MPI=1` turns a
//! missing `mpirun` into a failure (CI sets it).
#![cfg(feature = "distributed")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::cli::{checkpoint_p, gpu_adapter_or_skip, metrics_without_timing, BIN};

/// A tiny CartPole run (as tests/app/cli/'s) that still exercises every part of a generation.
const SMALL: &[&str] = &[
    "network.neurons=24",
    "population=12",
    "evaluation.eval_members=2",
    "evaluation.max_episode_steps=40",
    "run.checkpoint_every=1",
    "backend=\"cpu\"",
];

fn mpirun() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("mpirun"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("SATR_REQUIRE_MPI").as_deref() != Ok("1"),
            "SATR_REQUIRE_MPI=1 but mpirun is not on PATH (install openmpi-bin)"
        );
        eprintln!(
            "mpirun not found: skipping the MPI test (set SATR_REQUIRE_MPI=1 to fail instead)"
        );
    }
    found
}

/// `satr train` arguments for run `name` in `out`: SMALL, then `sets` (later keys win).
fn train_args(out: &Path, name: &str, sets: &[String]) -> Vec<String> {
    let mut args: Vec<String> = vec!["train".into(), "--quiet".into(), "--print-digest".into()];
    let keys = SMALL
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("run.out_dir=\"{}\"", out.display()),
            format!("run.name=\"{name}\""),
        ])
        .chain(sets.iter().cloned());
    for k in keys {
        args.push("--set".into());
        args.push(k);
    }
    args
}

/// Runs the binary as one process, without any launcher.
fn single(args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("OMPI_COMM_WORLD_SIZE")
        .env_remove("PMIX_RANK")
        .env_remove("PMI_RANK")
        .env_remove("PMI_SIZE")
        .output()
        .expect("run satr")
}

/// The binary over `ranks` processes on this machine (as root, more ranks than cores,
/// no pinning, and no cross-memory attach, which containers often forbid). One rayon
/// thread per rank keeps the test light on small CI machines (results do not depend
/// on thread counts).
fn mpirun_command(mpirun: &Path, ranks: usize, args: &[String]) -> Command {
    let mut c = Command::new(mpirun);
    c.args(["-n", &ranks.to_string()])
        .args(["--oversubscribe", "--bind-to", "none"])
        .args(["--mca", "btl", "self,vader,tcp"])
        .args(["--mca", "btl_vader_single_copy_mechanism", "none"])
        .arg(BIN)
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("RAYON_NUM_THREADS", "1")
        .env("RUST_LOG", "warn");
    c
}

/// Runs the binary over `ranks` processes.
fn over_mpi(mpirun: &Path, ranks: usize, args: &[String]) -> Output {
    mpirun_command(mpirun, ranks, args)
        .output()
        .expect("run mpirun")
}

/// `satr train --resume dir --set <set>` over `ranks` processes, printing the digest.
fn resume_over_mpi(mpirun: &Path, ranks: usize, dir: &Path, set: &str) -> Output {
    let args = [
        "train".to_string(),
        "--quiet".into(),
        "--print-digest".into(),
        "--resume".into(),
        dir.display().to_string(),
        "--set".into(),
        set.into(),
    ];
    over_mpi(mpirun, ranks, &args)
}

/// The digest line, after checking the run succeeded over `ranks` processes (a
/// binary launched by a foreign mpirun would run as several worlds of one).
fn digest(o: &Output, ranks: usize) -> String {
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "satr failed: {}\nstdout: {stdout}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let sizes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("world size: "))
        .collect();
    assert_eq!(
        sizes,
        vec![format!("world size: {ranks}")],
        "exactly one rank reports, with the launched size\nstdout: {stdout}"
    );
    let digests: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("p digest: "))
        .collect();
    assert_eq!(digests.len(), 1, "stdout: {stdout}");
    digests[0].to_string()
}

#[test]
fn two_and_three_ranks_match_one_process() {
    let Some(mpirun) = mpirun() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let gens = ["generations=3".to_string()];
    let one = single(&train_args(tmp.path(), "one", &gens));
    let reference = digest(&one, 1);
    for ranks in [2, 3] {
        let name = format!("ranks{ranks}");
        let o = over_mpi(&mpirun, ranks, &train_args(tmp.path(), &name, &gens));
        assert_eq!(digest(&o, ranks), reference, "{ranks} ranks");
        let dir = tmp.path().join(&name);
        assert_eq!(checkpoint_p(&dir), checkpoint_p(&tmp.path().join("one")));
        assert_eq!(
            metrics_without_timing(&dir),
            metrics_without_timing(&tmp.path().join("one")),
            "{ranks} ranks: metrics written once, equal to one process"
        );
    }
    // p moved, so equality proves something.
    assert!(checkpoint_p(&tmp.path().join("one"))
        .iter()
        .any(|&b| f64::from_bits(b) != 0.5));
}

#[test]
fn fewer_members_than_ranks() {
    let Some(mpirun) = mpirun() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sets = [
        "generations=2".to_string(),
        "population=2".to_string(),
        "evaluation.eval_members=0".to_string(),
    ];
    let reference = digest(&single(&train_args(tmp.path(), "one", &sets)), 1);
    let o = over_mpi(&mpirun, 3, &train_args(tmp.path(), "three", &sets));
    assert_eq!(digest(&o, 3), reference);
}

#[test]
fn resume_under_mpi_matches_uninterrupted() {
    let Some(mpirun) = mpirun() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let full = digest(
        &single(&train_args(
            tmp.path(),
            "full",
            &["generations=4".to_string()],
        )),
        1,
    );
    let first = over_mpi(
        &mpirun,
        2,
        &train_args(tmp.path(), "split", &["generations=2".to_string()]),
    );
    digest(&first, 2);
    let split = tmp.path().join("split");
    let resumed = resume_over_mpi(&mpirun, 2, &split, "generations=4");
    assert_eq!(digest(&resumed, 2), full);
    assert_eq!(checkpoint_p(&split), checkpoint_p(&tmp.path().join("full")));
    assert_eq!(
        metrics_without_timing(&split),
        metrics_without_timing(&tmp.path().join("full"))
    );
}

#[test]
fn plain_start_is_one_process() {
    // No launcher: the binary must not need MPI at all and reports a world of one.
    let tmp = tempfile::tempdir().unwrap();
    digest(
        &single(&train_args(tmp.path(), "plain", &["generations=1".into()])),
        1,
    );
}

/// 2 or 3 GPU ranks in `mode` against one GPU process and one CPU process: the ranks
/// must end with the one GPU process's `p`, which is not the CPU's.
fn gpu_ranks_match_one_gpu_process(mode: &str, ranks: &[usize]) {
    let Some(mpirun) = mpirun() else { return };
    if !gpu_adapter_or_skip() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let gens = "generations=3".to_string();
    let cpu = [gens.clone(), "backend=\"cpu\"".into()];
    let gpu = [
        gens,
        "backend=\"gpu\"".into(),
        format!("gpu.mode=\"{mode}\""),
    ];
    let one_cpu = digest(&single(&train_args(tmp.path(), "cpu", &cpu)), 1);
    let one_gpu = digest(&single(&train_args(tmp.path(), "gpu", &gpu)), 1);
    // The GPU sums A and B in 64-bit fixed point, the CPU in f64 (the fitness is the
    // same: the GPU network is exact and CartPole's f32 and f64 trajectories agree
    // here), so the two processes part in the last bits of p. Ranks that reduced on the
    // host in f64 (as the MPI wrapper once did for every backend) would end with the
    // CPU's p; the GPU's is what they must end with.
    assert_ne!(
        one_cpu, one_gpu,
        "this config must tell the GPU's reductions from the CPU's"
    );
    for &n in ranks {
        let name = format!("gpu{n}");
        let o = over_mpi(&mpirun, n, &train_args(tmp.path(), &name, &gpu));
        assert_eq!(digest(&o, n), one_gpu, "{n} GPU ranks, {mode} mode");
        let dir = tmp.path().join(&name);
        assert_eq!(checkpoint_p(&dir), checkpoint_p(&tmp.path().join("gpu")));
        assert_eq!(
            metrics_without_timing(&dir),
            metrics_without_timing(&tmp.path().join("gpu")),
            "{n} GPU ranks, {mode} mode: metrics"
        );
    }
}

#[test]
fn gpu_ranks_match_one_gpu_process_in_host_mode() {
    gpu_ranks_match_one_gpu_process("host", &[2, 3]);
}

#[test]
fn gpu_ranks_match_one_gpu_process_in_generation_mode() {
    gpu_ranks_match_one_gpu_process("generation", &[2]);
}

/// What the wrapper relies on, without MPI: each backend's reductions of the genome
/// words split into any shares, put back together, are its whole reductions bit for
/// bit (the CPU's f64 sums and the GPU's fixed-point sums, which differ from each
/// other).
#[test]
fn word_shares_of_each_backends_reductions_make_its_whole() {
    use satr::cpu::CpuEvaluator;
    use satr::distribution::{coordinates_of_words, thresholds, words_for};
    use satr::evaluation::{
        GenerationRequest, Normalizer, ObsStats, PopulationEvaluator, TaskFactory,
    };
    use satr::network::NetworkConfig;

    let factory: TaskFactory =
        std::sync::Arc::new(|| satr::tasks::make_task("cartpole").expect("task"));
    let cfg = NetworkConfig {
        neurons: 37,
        ..Default::default()
    };
    let cpu = CpuEvaluator::new(&cfg, factory.clone());
    let shape = cpu.shape();
    let mut evaluators: Vec<Box<dyn PopulationEvaluator>> = vec![Box::new(cpu)];
    if let Some(ctx) = common::context() {
        let gpu = satr::gpu::GpuEvaluator::new(&ctx, &cfg, factory).unwrap();
        evaluators.push(Box::new(gpu));
    }
    let dim = shape.layout().len();
    let words = words_for(dim);
    let p: Vec<f64> = (0..dim)
        .map(|i| 0.1 + 0.8 * ((i * 2_654_435_761) % 1000) as f64 / 1000.0)
        .collect();
    let th = thresholds(&p);
    let norm = Normalizer::from_stats(&ObsStats::new(shape.obs_dim), 5.0);
    let population = 13;
    let req = GenerationRequest::new(99, 4, &p, &th, &norm, population, 20);
    let u: Vec<f64> = (0..population)
        .map(|k| ((k * 5) % population) as f64 / (population - 1) as f64 - 0.5)
        .collect();
    let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let mut wholes = Vec::new();
    for ev in &mut evaluators {
        ev.evaluate(&req).unwrap();
        let whole = ev.reductions(&req, &u).unwrap();
        for parts in [1, 2, 3, words + 2] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for r in 0..parts {
                let share = satr::distributed::share(words, r, parts);
                let piece = ev.reductions_of_words(&req, &u, share.clone()).unwrap();
                let n = coordinates_of_words(&share, dim).len();
                assert_eq!((piece.a.len(), piece.b.len()), (n, n), "words {share:?}");
                assert_eq!(
                    (piece.u1, piece.u2, piece.population),
                    (whole.u1, whole.u2, population)
                );
                a.extend(piece.a);
                b.extend(piece.b);
            }
            let what = format!("{} in {parts} shares", ev.describe());
            assert_eq!(bits(&a), bits(&whole.a), "A, {what}");
            assert_eq!(bits(&b), bits(&whole.b), "B, {what}");
        }
        wholes.push(whole);
    }
    if let [cpu, gpu] = &wholes[..] {
        assert_ne!(
            (bits(&cpu.a), bits(&cpu.b)),
            (bits(&gpu.a), bits(&gpu.b)),
            "the CPU's and the GPU's sums should differ somewhere in the last bits"
        );
    }
}

/// Pids of the processes whose parent is `parent` (the ranks mpirun started here).
fn children(parent: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, ...
        let rest = &stat[stat.rfind(')').unwrap_or(0) + 1..];
        if rest.split_whitespace().nth(1) == Some(&parent.to_string()) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn sigterm_stops_every_rank_at_the_same_generation() {
    let Some(mpirun) = mpirun() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // Pendulum episodes never end early: generations take long enough to signal one.
    let sets = [
        "task=\"pendulum\"".to_string(),
        "population=32".to_string(),
        "generations=100000".to_string(),
        "run.checkpoint_every=0".to_string(),
    ];
    let child = mpirun_command(&mpirun, 2, &train_args(tmp.path(), "sig", &sets))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = tmp.path().join("sig");
    let start = std::time::Instant::now();
    let lines = || {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    while lines() < 2 {
        assert!(start.elapsed().as_secs() < 120, "no progress");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // As Slurm does: every rank gets the signal (mpirun would abort the job).
    let ranks = children(child.id());
    assert_eq!(ranks.len(), 2, "rank processes {ranks:?}");
    for pid in ranks {
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
    }
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success() && stdout.contains("interrupted after generation"),
        "{}\nstdout: {stdout}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let stopped = lines();
    let ck = satr::checkpoint::Checkpoint::load(&dir.join("checkpoints/latest.ckpt")).unwrap();
    assert_eq!(ck.generation as usize, stopped);
    // The interrupted run, resumed over 2 ranks, equals one uninterrupted process.
    let total = format!("generations={}", stopped + 1);
    let resumed = resume_over_mpi(&mpirun, 2, &dir, total.as_str());
    let mut one_sets = sets.to_vec();
    one_sets.push(total);
    let one = single(&train_args(tmp.path(), "one", &one_sets));
    assert_eq!(digest(&resumed, 2), digest(&one, 1));
}

#[test]
fn a_killed_rank_ends_the_job_within_a_bounded_time_and_it_resumes() {
    let Some(mpirun) = mpirun() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let sets = [
        "task=\"pendulum\"".to_string(),
        "population=32".to_string(),
        "generations=100000".to_string(),
    ];
    let mut child = mpirun_command(&mpirun, 2, &train_args(tmp.path(), "kill", &sets))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = tmp.path().join("kill");
    let ck_path = dir.join("checkpoints/latest.ckpt");
    let start = std::time::Instant::now();
    while !ck_path.exists() {
        assert!(start.elapsed().as_secs() < 120, "no checkpoint");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ranks = children(child.id());
    assert_eq!(ranks.len(), 2, "rank processes {ranks:?}");
    // One rank dies without any chance to clean up (OOM killer, node failure).
    let victim = ranks[1];
    Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    let killed_at = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed_at.elapsed().as_secs() < 60,
            "the job outlived a dead rank by a minute"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!status.success(), "a job with a dead rank exited 0");
    assert!(!stderr.trim().is_empty(), "no message about the dead rank");
    for pid in &ranks {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "rank {pid} still running"
        );
    }
    println!(
        "job ended {:.1} s after the kill: {}",
        killed_at.elapsed().as_secs_f64(),
        stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
    );
    // The job resumes from its last checkpoint to what one uninterrupted process computes.
    let ck = satr::checkpoint::Checkpoint::load(&ck_path).unwrap();
    let total = format!("generations={}", ck.generation + 1);
    let resumed = resume_over_mpi(&mpirun, 2, &dir, total.as_str());
    let mut one_sets = sets.to_vec();
    one_sets.push(total);
    let one = single(&train_args(tmp.path(), "one", &one_sets));
    assert_eq!(digest(&resumed, 2), digest(&one, 1));
    assert_eq!(
        metrics_without_timing(&dir),
        metrics_without_timing(&tmp.path().join("one"))
    );
}
