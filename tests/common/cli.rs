//! Running the `satr` binary from the end-to-end tests.

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_satr");

/// Runs the binary with warnings-only logging.
pub fn satr(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run satr")
}

/// Asserts success, printing the output otherwise.
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "satr failed: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Metrics lines without the fields that measure time.
pub fn metrics_without_timing(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("wall_s");
            o.remove("env_steps_per_s");
            v
        })
        .collect()
}

/// The latest checkpoint's p, as bits.
pub fn checkpoint_p(dir: &Path) -> Vec<u64> {
    let ck = satr::checkpoint::Checkpoint::load(&dir.join("checkpoints/latest.ckpt")).unwrap();
    ck.p.iter().map(|x| x.to_bits()).collect()
}
