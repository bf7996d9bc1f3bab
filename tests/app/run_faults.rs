//! Runs that must be refused: a second `satr train --resume` on a live run (naming the
//! holder; once the holder is gone, killed so satr never released its lock, the run
//! resumes), and a run that cannot fit in memory (before it allocates).

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::cli::{digest, ok, satr, train_command, BIN};

#[test]
fn a_live_run_is_refused_to_a_second_process_and_a_killed_one_resumes() {
    let out = tempfile::tempdir().unwrap();
    let dir: PathBuf = out.path().join("live");
    // Long enough to be alive while the second process tries: Pendulum, many generations.
    let mut child = Command::new(BIN)
        .args([
            "train",
            "--quiet",
            "--set",
            "task=\"pendulum\"",
            "--set",
            "generations=100000",
        ])
        .args([
            "--set",
            "network.neurons=16",
            "--set",
            "population=8",
            "--set",
            "backend=\"cpu\"",
        ])
        .args([
            "--set",
            "evaluation.eval_members=1",
            "--set",
            "run.checkpoint_every=1",
        ])
        .arg("--set")
        .arg(format!("run.out_dir=\"{}\"", out.path().display()))
        .args(["--set", "run.name=\"live\""])
        .env("RUST_LOG", "warn")
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join("checkpoints/latest.ckpt").exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    }
    let lines_before = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let o = satr(&["train", "--resume", dir.to_str().unwrap(), "--quiet"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "a second trainer ran: {stderr}");
    assert!(
        stderr.contains(&format!("being trained by process pid {}", child.id())),
        "{stderr}"
    );
    // The refused process touched nothing: the live run's metrics only grew.
    let lines_after = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    assert!(lines_after.starts_with(&lines_before));

    child.kill().unwrap();
    child.wait().unwrap();
    // The dead holder's pid is still in the lock file, but the lock is gone: the
    // run resumes (a couple of generations past where it was killed) and ends.
    let done = std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .count();
    let gens = format!("generations={}", done + 2);
    let o = satr(&[
        "train",
        "--resume",
        dir.to_str().unwrap(),
        "--quiet",
        "--set",
        &gens,
    ]);
    ok(&o);
    let lock = std::fs::read_to_string(dir.join("lock")).unwrap();
    assert_ne!(
        lock,
        format!("pid {}", child.id()),
        "the new holder wrote its pid"
    );
}

#[test]
fn a_run_that_cannot_fit_in_memory_is_refused_before_allocating() {
    let out = tempfile::tempdir().unwrap();
    let run = || {
        let mut c = std::process::Command::new(BIN);
        c.args(["train", "--quiet", "--set", "generations=1"])
            .args(["--set", "backend=\"cpu\""])
            .arg("--set")
            .arg(format!("run.out_dir=\"{}\"", out.path().display()))
            .env("RUST_LOG", "warn");
        c
    };
    let o = run()
        .env("SATR_AVAILABLE_MEMORY", "100000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    for want in [
        "needs about",
        "KiB is available",
        "lower network.neurons (now 64)",
    ] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
    // Nothing was trained: no metrics, no checkpoint.
    let any_metrics = walk(out.path())
        .iter()
        .any(|p| p.ends_with("metrics.jsonl") || p.ends_with("latest.ckpt"));
    assert!(!any_metrics);
    // The same config with the machine's real memory runs.
    ok(&run().output().unwrap());
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// [`train_command`]'s tiny run, printing its digest.
fn tiny_run(out: &std::path::Path, name: &str, gens: usize) -> Command {
    let mut c = train_command(out, name, gens);
    c.arg("--print-digest");
    c
}

/// A full disk, for real: the file a write goes to is a link to `/dev/full`, whose
/// every write fails with ENOSPC.
#[test]
fn a_full_disk_fails_the_run_clearly_and_leaves_the_last_checkpoint_resumable() {
    if !std::path::Path::new("/dev/full").exists() {
        panic!("/dev/full is needed to simulate a full disk");
    }
    let out = tempfile::tempdir().unwrap();
    let reference = tiny_run(out.path(), "reference", 6).output().unwrap();
    ok(&reference);
    ok(&tiny_run(out.path(), "r", 3).output().unwrap());
    let dir = out.path().join("r");
    let ck = dir.join("checkpoints/latest.ckpt");
    let resume = |gens: u32| {
        Command::new(BIN)
            .args(["train", "--quiet", "--print-digest", "--resume"])
            .arg(&dir)
            .arg("--set")
            .arg(format!("generations={gens}"))
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let before = std::fs::read(&ck).unwrap();
    for (link, what) in [
        (dir.join("checkpoints/latest.tmp"), "checkpoint"),
        (dir.join("metrics.jsonl.tmp"), "metrics"),
    ] {
        std::os::unix::fs::symlink("/dev/full", &link).unwrap();
        let o = resume(6);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{what}: the run went on: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{what}: {stderr}"
        );
        assert!(
            stderr.contains(&link.file_name().unwrap().to_string_lossy().to_string()),
            "{stderr}"
        );
        // The previous checkpoint is untouched and loads.
        assert_eq!(std::fs::read(&ck).unwrap(), before, "{what}");
        satr::checkpoint::Checkpoint::load(&ck).unwrap();
        std::fs::remove_file(&link).unwrap();
    }
    // Space again: the run resumes to what an uninterrupted run computes.
    let done = resume(6);
    ok(&done);
    assert_eq!(digest(&done.stdout), digest(&reference.stdout));
    assert_eq!(
        common::cli::metrics_without_timing(&dir),
        common::cli::metrics_without_timing(&out.path().join("reference"))
    );
}

#[test]
fn a_degenerate_population_is_warned_about_with_its_noise_level() {
    let out = tempfile::tempdir().unwrap();
    for (pop, warned) in [(2, true), (4, true), (16, false)] {
        let o = tiny_run(out.path(), &format!("p{pop}"), 1)
            .arg("--set")
            .arg(format!("population={pop}"))
            .output()
            .unwrap();
        ok(&o);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            stderr.contains("too small for a usable gradient estimate"),
            warned,
            "population {pop}: {stderr}"
        );
        if warned {
            assert!(stderr.contains("D / (12 P)"), "{stderr}");
        }
    }
}
