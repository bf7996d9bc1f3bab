//! Bad input, systematically: random `--set` values on every config key, random damage
//! to the preset files, and every truncation and random bit flips of a checkpoint
//! never panic; they give a valid config or an error naming the key (or the line),
//! and a checkpoint error naming the file.

use proptest::prelude::*;
use satr::checkpoint::Checkpoint;
use satr::config::Config;

/// Every leaf key of the default config, dotted (`optimizer.epsilon`).
fn keys() -> Vec<String> {
    fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<String>) {
        for (k, v) in t {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::Table(t) => walk(&key, t, out),
                _ => out.push(key),
            }
        }
    }
    let t: toml::Table = toml::from_str(&Config::default().to_toml()).unwrap();
    let mut out = Vec::new();
    walk("", &t, &mut out);
    // Keys the default leaves unset.
    out.extend(["run.target_return", "run.max_env_steps"].map(String::from));
    out
}

/// Values that are wrong for most keys in some way.
fn nasty_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("-inf".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("1e308".to_string()),
        Just("18446744073709551615".to_string()),
        Just("9223372036854775807".to_string()),
        Just("\"\"".to_string()),
        Just("true".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("\"satr\"".to_string()),
        any::<i64>().prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        "[a-z_ ]{0,12}",
        "\\PC{0,8}",
    ]
}

/// The error of a bad value names its key (its last segment at least), or is a TOML
/// error that quotes the offending line.
fn names_the_key(e: &str, key: &str) -> bool {
    let last = key.rsplit('.').next().unwrap();
    e.contains(key) || e.contains(last)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn random_set_values_give_a_config_or_an_error_naming_the_key(
        k in 0usize..1000,
        v in nasty_value(),
    ) {
        let keys = keys();
        let key = &keys[k % keys.len()];
        let set = format!("{key}={v}");
        match Config::from_toml_with_overrides("", std::slice::from_ref(&set)) {
            Ok(cfg) => prop_assert!(cfg.validate().is_ok()),
            Err(e) => {
                let e = e.to_string();
                prop_assert!(names_the_key(&e, key), "--set {set}: {e}");
            }
        }
    }

    #[test]
    fn random_set_strings_never_panic(s in "\\PC{0,40}") {
        let _ = Config::from_toml_with_overrides("", &[s]);
    }

    #[test]
    fn damaged_presets_never_panic(
        preset in 0usize..100,
        cuts in proptest::collection::vec((0usize..4000, 0usize..40, "\\PC{0,6}"), 1..4),
    ) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/configs");
        let mut files: Vec<_> = std::fs::read_dir(dir).unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        let mut text = std::fs::read_to_string(&files[preset % files.len()]).unwrap();
        for (at, len, with) in cuts {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, &with);
        }
        if let Ok(cfg) = Config::from_toml_with_overrides(&text, &[]) {
            prop_assert!(cfg.validate().is_ok());
        }
    }
}

/// A small valid checkpoint file's bytes.
fn small_checkpoint(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let cfg = Config::from_toml_with_overrides("", &["network.neurons=8".into()]).unwrap();
    let shape = cfg.shape().unwrap();
    let dim = shape.layout().len();
    let ck = Checkpoint {
        generation: 3,
        config: cfg.clone(),
        p: (0..dim)
            .map(|i| 0.01 + 0.98 * (i as f64 / dim as f64))
            .collect(),
        optimizer: satr::optimizer::Optimizer::new(cfg.optimizer.clone(), dim).state,
        obs_stats: satr::evaluation::ObsStats::new(shape.obs_dim),
        env_steps: 1234,
        wall_s: 1.5,
    };
    let path = dir.join("latest.ckpt");
    ck.save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap(), ck);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn every_truncation_of_a_checkpoint_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, bytes) = small_checkpoint(tmp.path());
    for len in 0..bytes.len() {
        std::fs::write(&path, &bytes[..len]).unwrap();
        let e = Checkpoint::load(&path).expect_err("a truncated checkpoint loaded");
        let e = e.to_string();
        assert!(
            e.contains("latest.ckpt") && e.contains("corrupt"),
            "{len}: {e}"
        );
    }
}

#[test]
fn random_bit_flips_in_a_checkpoint_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, bytes) = small_checkpoint(tmp.path());
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bit = (state % (8 * bytes.len() as u64)) as usize;
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(&path, &b).unwrap();
        let e = Checkpoint::load(&path).expect_err("a flipped checkpoint loaded");
        assert!(e.to_string().contains("latest.ckpt"), "{e}");
    }
}

#[test]
fn a_checkpoint_from_a_newer_format_names_both_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let (path, bytes) = small_checkpoint(tmp.path());
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let header = std::str::from_utf8(&bytes[..nl]).unwrap().replacen(
        &format!(" v{} ", satr::checkpoint::FORMAT_VERSION),
        &format!(" v{} ", satr::checkpoint::FORMAT_VERSION + 1),
        1,
    );
    let mut newer = header.into_bytes();
    newer.extend_from_slice(&bytes[nl..]);
    std::fs::write(&path, newer).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    let (new, this) = (
        format!("v{}", satr::checkpoint::FORMAT_VERSION + 1),
        format!("v{}", satr::checkpoint::FORMAT_VERSION),
    );
    assert!(e.contains(&new) && e.contains(&this), "{e}");
}

#[test]
fn a_v1_checkpoint_of_an_earlier_version_loads_and_resumes_into_v2() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/checkpoint-v1.ckpt");
    let ck = Checkpoint::load(std::path::Path::new(fixture)).unwrap();
    assert_eq!(ck.generation, 2);
    assert_eq!(ck.p.len(), ck.optimizer.m.len());
    // Written again it is v2, and reads back equal.
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let path = run.join("checkpoints/latest.ckpt");
    ck.save(&path).unwrap();
    let text = std::fs::read(&path).unwrap();
    assert!(text.starts_with(b"satr-checkpoint v2 "));
    assert_eq!(Checkpoint::load(&path).unwrap(), ck);
    // A run directory holding the v1 file resumes.
    std::fs::copy(fixture, &path).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_satr"))
        .args(["train", "--quiet", "--resume"])
        .arg(&run)
        .args(["--set", "generations=3"])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = Checkpoint::load(&path).unwrap();
    assert_eq!(after.generation, 3);
    assert!(std::fs::read(&path)
        .unwrap()
        .starts_with(b"satr-checkpoint v2 "));
}

#[test]
fn v2_keeps_every_array_bit_for_bit() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Config::from_toml_with_overrides(
        "",
        &[
            "network.neurons=9".into(),
            "optimizer.signal=\"cross\"".into(),
        ],
    )
    .unwrap();
    let dim = cfg.shape().unwrap().layout().len();
    let weird = [
        f64::MIN_POSITIVE,
        1.0 - f64::EPSILON,
        0.1 + 0.2,
        -0.0,
        5e-324,
    ];
    let mut opt = satr::optimizer::Optimizer::new(cfg.optimizer.clone(), dim).state;
    opt.m = (0..dim).map(|i| weird[i % 5] * i as f64).collect();
    opt.v = (0..dim).map(|i| weird[(i + 1) % 5]).collect();
    opt.prev_gradient = (0..dim).map(|i| -weird[(i + 2) % 5]).collect();
    opt.t = 17;
    opt.signal_ema = Some(0.1 + 0.2);
    opt.energy_ema = Some(1e-300);
    let ck = Checkpoint {
        generation: 9,
        config: cfg.clone(),
        p: (0..dim)
            .map(|i| 0.001 + 0.998 * weird[i % 5].abs().min(1.0))
            .collect(),
        optimizer: opt,
        obs_stats: satr::evaluation::ObsStats::new(4),
        env_steps: u64::MAX - 1,
        wall_s: 0.3,
    };
    let path = tmp.path().join("c.ckpt");
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.p), bits(&ck.p));
    assert_eq!(bits(&back.optimizer.m), bits(&ck.optimizer.m));
    assert_eq!(bits(&back.optimizer.v), bits(&ck.optimizer.v));
    assert_eq!(
        bits(&back.optimizer.prev_gradient),
        bits(&ck.optimizer.prev_gradient)
    );
    assert_eq!(back, ck);
}

/// `satr replay` and `satr eval` on malformed input: an error naming what is wrong,
/// never a panic or output computed from NaN.
#[test]
fn replay_and_eval_refuse_malformed_input() {
    let tmp = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let ok = file("ok.txt", "0\n1\n");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["cartpole".into(), "0,0,0".into(), ok.clone()],
            "state of 4 values, got 3",
        ),
        (
            vec!["cartpole".into(), "0,0,nan,0".into(), ok.clone()],
            "`nan` is not finite",
        ),
        (
            vec!["cartpole".into(), "0,0,inf,0".into(), ok.clone()],
            "`inf` is not finite",
        ),
        (
            vec!["cartpole".into(), "0,x,0,0".into(), ok.clone()],
            "`x` is not a number",
        ),
        (
            vec![
                "cartpole".into(),
                "0,0,0,0".into(),
                file("a.txt", "0\n1\nx\n"),
            ],
            "line 3",
        ),
        (
            vec!["cartpole".into(), "0,0,0,0".into(), file("b.txt", "7\n")],
            "out of range",
        ),
        (
            vec!["pendulum".into(), "0,0".into(), file("c.txt", "nan\n")],
            "not finite",
        ),
        (
            vec!["pendulum".into(), "0,0".into(), file("d.txt", "1,2\n")],
            "expected 1 values",
        ),
        (
            vec!["cartpole".into(), "0,0,0,0".into(), "/no/such/file".into()],
            "No such file",
        ),
    ];
    for (args, want) in cases {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_satr"))
            .args([
                "replay",
                "--task",
                &args[0],
                "--state",
                &args[1],
                "--actions",
                &args[2],
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success(),
            "{args:?} ran: {}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let garbage = file("g.ckpt", "garbage\n");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/checkpoint-v1.ckpt");
    for (args, want) in [
        (vec!["--checkpoint", "/no/such/run"], "No such file"),
        (
            vec!["--checkpoint", garbage.as_str()],
            "not a satr checkpoint",
        ),
        (
            vec!["--checkpoint", fixture, "--episodes", "0"],
            "--episodes",
        ),
        (vec!["--checkpoint", fixture, "--backend", "foo"], "backend"),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_satr"))
            .arg("eval")
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            !o.status.success() && stderr.contains(want),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_checkpoint_resumed_as_another_task_or_network_size_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/checkpoint-v1.ckpt");
    std::fs::create_dir_all(run.join("checkpoints")).unwrap();
    std::fs::copy(fixture, run.join("checkpoints/latest.ckpt")).unwrap();
    for (set, want) in [
        ("task=\"pendulum\"", "the checkpoint's distribution p has"),
        ("network.neurons=9", "the checkpoint's distribution p has"),
        ("task=\"acrobot\"", "the checkpoint's distribution p has"),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_satr"))
            .args(["train", "--quiet", "--resume"])
            .arg(&run)
            .args(["--set", set])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{set}: resumed");
        assert!(
            stderr.contains("cannot resume") && stderr.contains(want) && stderr.contains("needs"),
            "{set}: {stderr}"
        );
    }
}
