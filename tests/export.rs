//! `satr export`: every built-in task's checkpoint exports in both formats, the files
//! hold exactly the mode genome and its constants, and bad input fails cleanly with
//! nothing half-written left behind. (Python reads the files in tests/app/python_policy.rs.)

mod common;

use std::path::Path;

use common::cli::{export, ok, satr, train_task};
use satr::checkpoint::Checkpoint;
use satr::policy::Policy;
use satr::tasks::registry;

/// Trains `task` for one generation (N 70, so rows are not whole words) and returns
/// its run directory.
fn run_of(out: &Path, task: &str) -> std::path::PathBuf {
    ok(&train_task(
        out,
        task,
        2,
        &[
            "--set",
            "network.neurons=70",
            "--set",
            "network.exc_ratio=0.4",
        ],
    ));
    out.join(task)
}

fn check_safetensors(policy: &Policy, bytes: &[u8]) {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let s = policy.shape;
    let (d2, n, a) = (2 * s.obs_dim, s.neurons, s.act_dim);
    let w_in = st.tensor("w_in").unwrap();
    assert_eq!(w_in.shape(), [d2, n]);
    for (i, &b) in w_in.data().iter().enumerate() {
        assert_eq!(b == 1, policy.w_in(i / n, i % n), "w_in {i}");
    }
    let w_h = st.tensor("w_h").unwrap();
    assert_eq!(w_h.shape(), [n, n]);
    for (i, &b) in w_h.data().iter().enumerate() {
        assert_eq!(b == 1, policy.w_h(i / n, i % n), "w_h {i}");
    }
    let w_out = st.tensor("w_out").unwrap();
    assert_eq!(w_out.shape(), [n, a]);
    for (i, &b) in w_out.data().iter().enumerate() {
        assert_eq!(b == 1, policy.w_out(i / a, i % a), "w_out {i}");
    }
    let sign = st.tensor("sign").unwrap();
    let ones = sign.data().iter().filter(|&&b| b == 1).count();
    assert_eq!(ones, s.n_exc);
    let r_h = st.tensor("r_h").unwrap();
    assert_eq!(r_h.data(), policy.constants.r_h.to_le_bytes());
    let var = st.tensor("obs_var").unwrap();
    let var: Vec<f64> = var
        .data()
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(var, policy.obs_var);
    let (_, meta) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["task"], policy.task);
    assert_eq!(meta["substeps"], s.substeps.to_string());
    assert_eq!(
        st.tensor("action_low").is_ok(),
        meta["action"] == "continuous"
    );
}

fn check_nir(policy: &Policy, bytes: Vec<u8>) {
    let f = hdf5_pure::File::from_bytes(bytes).unwrap();
    let text = |p: &str| f.dataset(p).unwrap().read_string().unwrap()[0].clone();
    assert_eq!(text("node/type"), "NIRGraph");
    for (node, kind) in [
        ("input", "Input"),
        ("mirror", "Linear"),
        ("w_in", "Linear"),
        ("lif", "LIF"),
        ("w_h", "Linear"),
        ("syn", "LI"),
        ("readout", "LI"),
        ("w_out", "Linear"),
        ("output", "Output"),
    ] {
        assert_eq!(text(&format!("node/nodes/{node}/type")), kind, "{node}");
    }
    let n = policy.shape.neurons;
    let w_h = f.dataset("node/nodes/w_h/weight").unwrap();
    assert_eq!(w_h.shape().unwrap(), [n as u64, n as u64]);
    let c = &policy.constants;
    for (i, w) in w_h.read_f32().unwrap().into_iter().enumerate() {
        let (post, pre) = (i / n, i % n);
        let want = if policy.w_h(pre, post) {
            c.r_h * policy.sign(pre) as f32
        } else {
            0.0
        };
        assert_eq!(w, want, "w_h[{post}][{pre}]");
    }
    let tau = f.dataset("node/nodes/lif/tau").unwrap().read_f64().unwrap();
    assert_eq!(tau, vec![policy.network.tau_v; n]);
    let edges = f.dataset("node/edges").unwrap().read_string().unwrap();
    assert!(
        edges.chunks(2).any(|e| e == ["syn", "lif"]),
        "recurrent edge: {edges:?}"
    );
}

#[test]
fn every_builtin_task_exports_in_both_formats() {
    let out = tempfile::tempdir().unwrap();
    let tasks: Vec<_> = registry::builtins()
        .iter()
        .filter(|t| t.available())
        .map(|t| t.name().to_string())
        .collect();
    assert!(tasks.len() >= 5, "{tasks:?}");
    for task in &tasks {
        let task = task.as_str();
        let run = run_of(out.path(), task);
        let ck = Checkpoint::load(&run.join("checkpoints/latest.ckpt")).unwrap();
        let policy = Policy::from_checkpoint(&ck).unwrap();
        let st = out.path().join(format!("{task}.safetensors"));
        export(&run, "safetensors", &st);
        check_safetensors(&policy, &std::fs::read(&st).unwrap());
        let nir = out.path().join(format!("{task}.nir"));
        export(&run, "nir", &nir);
        check_nir(&policy, std::fs::read(&nir).unwrap());
    }
}

#[test]
fn the_default_output_is_in_the_run_directory() {
    let out = tempfile::tempdir().unwrap();
    let run = run_of(out.path(), "cartpole");
    let o = satr(&["export", "--checkpoint", run.to_str().unwrap()]);
    ok(&o);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["format"], "safetensors");
    assert!(run.join("policy.safetensors").is_file());
    // A checkpoint file exports into its run directory too.
    let file = run.join("checkpoints/latest.ckpt");
    ok(&satr(&[
        "export",
        "--checkpoint",
        file.to_str().unwrap(),
        "--format",
        "nir",
    ]));
    assert!(run.join("policy.nir").is_file());
}

/// Files in `dir` other than the run directory itself.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "cartpole")
        .collect()
}

#[test]
fn bad_input_fails_with_a_clear_error_and_leaves_nothing_behind() {
    let out = tempfile::tempdir().unwrap();
    let run = run_of(out.path(), "cartpole");
    let run_s = run.to_str().unwrap();
    let err = |args: &[&str], want: &str| {
        let o = satr(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{args:?}: wanted {want:?} in {e}");
        assert!(!e.contains("panicked"), "{e}");
    };
    let target = out.path().join("p.out");
    let t = target.to_str().unwrap();
    err(
        &["export", "--checkpoint", run_s, "--format", "onnx", "-o", t],
        "unknown export format \"onnx\"",
    );
    let missing = out.path().join("nowhere");
    err(
        &["export", "--checkpoint", missing.to_str().unwrap(), "-o", t],
        "nowhere",
    );
    let garbage = out.path().join("garbage.ckpt");
    std::fs::write(&garbage, b"satr-checkpoint v2 len=1 crc32=0\nxx").unwrap();
    err(
        &["export", "--checkpoint", garbage.to_str().unwrap(), "-o", t],
        "corrupt",
    );
    std::fs::remove_file(&garbage).unwrap();
    // The output's folder does not exist, or is a file.
    let no_dir = out.path().join("no/such/dir/p.nir");
    err(
        &[
            "export",
            "--checkpoint",
            run_s,
            "--format",
            "nir",
            "-o",
            no_dir.to_str().unwrap(),
        ],
        "cannot write",
    );
    std::fs::write(&target, b"a file").unwrap();
    let under_file = target.join("p.safetensors");
    err(
        &[
            "export",
            "--checkpoint",
            run_s,
            "-o",
            under_file.to_str().unwrap(),
        ],
        "cannot write",
    );
    std::fs::remove_file(&target).unwrap();
    assert!(
        leftovers(out.path()).is_empty(),
        "{:?}",
        leftovers(out.path())
    );
}
