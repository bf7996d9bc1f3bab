//! Crash consistency: 50 runs killed with SIGKILL at random moments, with the windows
//! inside checkpoint and metrics writes widened by the fault hook, each resumed (or
//! restarted, if no checkpoint was written yet) to the end. Every one ends with the
//! same `p` and the same metrics lines (no line torn, lost or duplicated) as an
//! uninterrupted run.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::cli::{digest, metrics_without_timing, train_command, BIN};

const TRIALS: u64 = 50;

/// The run under test: [`train_command`]'s tiny run, 12 generations, with the fault
/// hook widening the windows inside checkpoint and metrics writes.
fn fresh(out: &Path, name: &str) -> Command {
    let mut c = train_command(out, name, 12);
    c.arg("--print-digest")
        .env("RUST_LOG", "error")
        .env("RAYON_NUM_THREADS", "1")
        .env("SATR_FAULT_DELAY_MS", "4");
    c
}

#[test]
fn fifty_random_kills_each_resume_to_the_uninterrupted_result() {
    let out = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let reference = fresh(out.path(), "reference").output().unwrap();
    // Kills are spread over the time a whole run takes on this machine, so they land
    // mid-run however fast or slow it is.
    let run_ms = t0.elapsed().as_millis() as u64;
    assert!(reference.status.success());
    let want_digest = digest(&reference.stdout);
    let want_metrics = metrics_without_timing(&out.path().join("reference"));
    assert_eq!(want_metrics.len(), 12);

    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let (mut killed, mut resumed, mut restarted) = (0, 0, 0);
    for trial in 0..TRIALS {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let name = format!("t{trial}");
        let dir = out.path().join(&name);
        let mut child = fresh(out.path(), &name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Every fifth kill comes almost at once, before the first checkpoint.
        let delay = if trial % 5 == 0 {
            state % 3
        } else {
            run_ms / 20 + state % (run_ms * 9 / 10).max(1)
        };
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().ok();
        child.wait().unwrap();
        let done = if dir.join("checkpoints/latest.ckpt").exists() {
            resumed += 1;
            Command::new(BIN)
                .args(["train", "--quiet", "--print-digest", "--resume"])
                .arg(&dir)
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        } else {
            restarted += 1;
            fresh(out.path(), &name).output().unwrap()
        };
        assert!(
            done.status.success(),
            "trial {trial}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert_eq!(
            digest(&done.stdout),
            want_digest,
            "trial {trial}: p differs"
        );
        let got = metrics_without_timing(&dir);
        assert_eq!(got, want_metrics, "trial {trial}: metrics differ");
    }
    println!(
        "{TRIALS} trials: {killed} killed while running, {resumed} resumed from a checkpoint, {restarted} restarted"
    );
    assert!(killed >= TRIALS / 2, "only {killed} kills landed mid-run");
    assert!(resumed >= TRIALS / 4, "only {resumed} resumes");
    assert!(restarted >= 1, "no kill landed before the first checkpoint");
}
