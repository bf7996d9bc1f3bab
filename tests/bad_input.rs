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
    let text = String::from_utf8(bytes).unwrap();
    let newer = text.replacen(
        &format!(" v{} ", satr::checkpoint::FORMAT_VERSION),
        &format!(" v{} ", satr::checkpoint::FORMAT_VERSION + 1),
        1,
    );
    std::fs::write(&path, newer).unwrap();
    let e = Checkpoint::load(&path).unwrap_err().to_string();
    let (new, this) = (
        format!("v{}", satr::checkpoint::FORMAT_VERSION + 1),
        format!("v{}", satr::checkpoint::FORMAT_VERSION),
    );
    assert!(e.contains(&new) && e.contains(&this), "{e}");
}
