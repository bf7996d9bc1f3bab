//! `run.tensorboard = true`: the event files under `<run>/tensorboard/` read back with
//! the `tensorboard` package's own reader (`EventAccumulator`) hold every numeric field
//! of every generation of `metrics.jsonl` (as f32, at step = generation, nulls left
//! out), across a resume and a resume from an older checkpoint (the generations
//! written past it are replaced, not doubled); a file with a broken CRC yields nothing;
//! a run without the key writes no folder.
//!
//! Needs the virtual environment of `scripts/setup_python.sh` (`SATR_PYTHON` names its
//! python). Without it the tests skip with a notice, unless `SATR_REQUIRE_PYTHON=1`
//! (CI) turns that into a failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::cli::{ok, satr, train_command};

fn python() -> Option<PathBuf> {
    let found = std::env::var_os("SATR_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
            local.exists().then_some(local)
        });
    let usable = found.filter(|py| {
        Command::new(py)
            .args([
                "-c",
                "import tensorboard.backend.event_processing.event_accumulator",
            ])
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable.is_none() {
        assert!(
            std::env::var("SATR_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SATR_REQUIRE_PYTHON=1 but no python with tensorboard \
             (run: eval \"$(scripts/setup_python.sh)\")"
        );
        eprintln!("skipped: no python with tensorboard (scripts/setup_python.sh)");
    }
    usable
}

/// Reads `<run>/tensorboard` with TensorBoard's `EventAccumulator` and compares it with
/// `<run>/metrics.jsonl`: the same tags, steps and f32 values, each step once. Then
/// copies the first events file twice, breaking the data CRC of its first scalar
/// record in one copy and the length CRC in the other: the reader must load no
/// scalars from either (and a clean copy must load). Prints `checked <n> scalars`.
const CHECK: &str = r#"
import glob, json, os, shutil, struct, sys, tempfile
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

run = sys.argv[1]
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
want = {}
for line in open(os.path.join(run, "metrics.jsonl")):
    m = json.loads(line)
    for k, v in m.items():
        if k == "generation" or v is None or isinstance(v, bool):
            continue
        assert isinstance(v, (int, float)), (k, v)
        want.setdefault(k, {})[m["generation"]] = f32(v)
for k in sys.argv[2:]:
    assert k not in want, f"{k} is not null"

def load(folder):
    acc = EventAccumulator(folder, size_guidance={"scalars": 0})
    acc.Reload()
    return acc

acc = load(os.path.join(run, "tensorboard"))
tags = set(acc.Tags()["scalars"])
assert tags == set(want), f"tags {sorted(tags ^ set(want))} differ"
n = 0
for tag, by_step in want.items():
    got = [(e.step, e.value) for e in acc.Scalars(tag)]
    steps = [s for s, _ in got]
    assert len(steps) == len(set(steps)), f"{tag}: steps repeated: {steps}"
    assert dict(got) == by_step, f"{tag}: {got} != {sorted(by_step.items())}"
    for e in acc.Scalars(tag):
        assert 1.5e9 < e.wall_time < 1e11, (tag, e.wall_time)
    n += len(got)

first = sorted(glob.glob(os.path.join(run, "tensorboard", "events.out.tfevents.*")))[0]
data = open(first, "rb").read()
# Record offsets: u64 length, u32 length CRC, data, u32 data CRC.
offsets, at = [], 0
while at < len(data):
    (length,) = struct.unpack("<Q", data[at : at + 8])
    offsets.append((at, length))
    at += 16 + length
assert at == len(data), "torn record"
# Records: the file version, the START, then one event per generation.
scalar_at, scalar_len = offsets[2]
for name, pos in [("data", scalar_at + 12 + scalar_len), ("length", scalar_at + 8), (None, None)]:
    folder = tempfile.mkdtemp()
    copy = os.path.join(folder, os.path.basename(first))
    broken = bytearray(data)
    if pos is not None:
        broken[pos] ^= 0x01
    open(copy, "wb").write(bytes(broken))
    loaded = load(folder).Tags()["scalars"]
    if name is None:
        assert loaded, "a clean copy loads no scalars"
        continue
    assert not loaded, f"{name} CRC broken, yet scalars {loaded} loaded"
    reader = PyRecordReader_New(copy)
    reader.GetNext()
    reader.GetNext()
    try:
        reader.GetNext()
        raise AssertionError(f"{name} CRC broken, yet the record reads")
    except errors.DataLossError as e:
        assert "crc32" in str(e), e
    shutil.rmtree(folder)
print(f"checked {n} scalars")
"#;

/// Runs [`CHECK`] on `run`, asserting that `nulls` have no scalars; returns how many
/// scalars it compared.
fn check(py: &Path, run: &Path, nulls: &[&str]) -> usize {
    let o = Command::new(py)
        .args(["-c", CHECK])
        .arg(run)
        .args(nulls)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout
        .trim()
        .strip_prefix("checked ")
        .and_then(|s| s.strip_suffix(" scalars"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output: {stdout}"))
}

fn events_files(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.join("tensorboard"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// Numeric fields of every record (what the reader must hold).
fn metric_count(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| *k != "generation" && v.is_number())
                .count()
        })
        .sum()
}

fn resume(run: &Path, generations: usize) {
    let g = format!("generations={generations}");
    ok(&satr(&[
        "train",
        "--quiet",
        "--resume",
        run.to_str().unwrap(),
        "--set",
        &g,
    ]));
}

#[test]
fn scalars_match_the_metrics_across_resumes() {
    let Some(py) = python() else { return };
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("tb");
    ok(&train_command(out.path(), "tb", 3)
        .args(["--set", "run.tensorboard=true"])
        .output()
        .unwrap());
    assert_eq!(events_files(&run).len(), 1);
    let n = check(&py, &run, &[]);
    assert_eq!(n, metric_count(&run));
    assert!(n >= 3 * 15, "only {n} scalars");

    // The checkpoint of generation 3, kept to resume from again below.
    let saved = out.path().join("gen3.ckpt");
    let latest = run.join("checkpoints/latest.ckpt");
    std::fs::copy(&latest, &saved).unwrap();

    // Resumed: a second file with generations 3 and 4.
    resume(&run, 5);
    let files = events_files(&run);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.starts_with("events.out.tfevents.")));
    assert_eq!(check(&py, &run, &[]), metric_count(&run));

    // Back to generation 3, as after a crash past that checkpoint: generations 3 and 4
    // are trained again (with other wall times); the reader must show the new ones
    // only, each once.
    std::fs::copy(&saved, &latest).unwrap();
    resume(&run, 6);
    assert_eq!(events_files(&run).len(), 3);
    let n = check(&py, &run, &[]);
    assert_eq!(n, metric_count(&run));
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        6
    );
}

#[test]
fn null_fields_are_left_out() {
    let Some(py) = python() else { return };
    let out = tempfile::tempdir().unwrap();
    let run = out.path().join("ec");
    // The `ec` rule has no signal energy, KL budget or step multiplier.
    ok(&train_command(out.path(), "ec", 2)
        .args(["--set", "run.tensorboard=true"])
        .args(["--set", "optimizer.rule=\"ec\""])
        .output()
        .unwrap());
    let n = check(&py, &run, &["signal_energy", "kl_budget", "eta"]);
    assert_eq!(n, metric_count(&run));
}

#[test]
fn without_the_key_there_is_no_tensorboard_folder() {
    let out = tempfile::tempdir().unwrap();
    ok(&train_command(out.path(), "plain", 1).output().unwrap());
    let run = out.path().join("plain");
    assert!(run.join("metrics.jsonl").exists());
    assert!(!run.join("tensorboard").exists());
}
