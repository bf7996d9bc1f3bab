//! Logging: colour only on a terminal, JSON lines, a bad `--log-format`, and the
//! command line run twice in one process (as the Python entry point may).

use super::*;

/// [`train_command`]'s tiny run with info logging and no colour or format settings
/// inherited from the environment; stderr is a pipe.
fn logged_train(out: &Path, name: &str) -> Command {
    let mut c = train_command(out, name, 2);
    c.env("RUST_LOG", "info")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("NO_COLOR")
        .env_remove("SATR_LOG_FORMAT");
    c
}

#[test]
fn logs_to_a_pipe_have_no_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let o = logged_train(tmp.path(), "plain").output().unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    // The info lines are there, as text.
    assert!(
        err.contains("training") && err.contains("generation done"),
        "{err}"
    );
    assert!(!err.starts_with('{'), "{err}");
    assert!(!o.stderr.contains(&0x1b), "ANSI escape in {err:?}");
}

/// The log lines of `stderr`, each parsed as a JSON object with a level and a message.
fn json_log_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    let err = String::from_utf8_lossy(stderr);
    assert!(!stderr.contains(&0x1b), "ANSI escape in {err:?}");
    err.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            let level = v["level"]
                .as_str()
                .unwrap_or_else(|| panic!("no level: {l}"));
            assert!(
                ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&level),
                "{l}"
            );
            assert!(v["fields"]["message"].is_string(), "no message: {l}");
            assert!(v["timestamp"].is_string() && v["target"].is_string(), "{l}");
            v
        })
        .collect()
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let tmp = tempfile::tempdir().unwrap();
    let by_flag = logged_train(tmp.path(), "flag")
        .args(["--log-format", "json"])
        .output()
        .unwrap();
    let by_env = logged_train(tmp.path(), "env")
        .env("SATR_LOG_FORMAT", "json")
        .output()
        .unwrap();
    for o in [by_flag, by_env] {
        ok(&o);
        let lines = json_log_lines(&o.stderr);
        let message = |m: &str| lines.iter().filter(|v| v["fields"]["message"] == m).count();
        assert_eq!(message("training"), 1, "{lines:?}");
        assert_eq!(message("generation done"), 2, "{lines:?}");
        let training = lines
            .iter()
            .find(|v| v["fields"]["message"] == "training")
            .unwrap();
        assert_eq!(training["level"], "INFO");
        assert_eq!(training["fields"]["task"], "cartpole");
    }
    // The flag wins over the environment.
    let o = logged_train(tmp.path(), "text")
        .env("SATR_LOG_FORMAT", "json")
        .args(["--log-format", "text"])
        .output()
        .unwrap();
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(" INFO ") && err.contains("training"), "{err}");
    assert!(err.lines().all(|l| !l.starts_with('{')), "{err}");
}

#[test]
fn a_bad_log_format_is_a_usage_error() {
    for args in [
        &["--log-format", "xml", "info"][..],
        &["info", "--log-format", "xml"][..],
    ] {
        let o = satr(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("--log-format") && err.contains("'xml'") && err.contains("text, json"),
            "{err}"
        );
    }
    let o = Command::new(BIN)
        .arg("info")
        .env("SATR_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("SATR_LOG_FORMAT") && err.contains("xml") && err.contains("text or json"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "ran anyway");
}

/// On a terminal (a pseudo-terminal from util-linux `script`) log lines are coloured,
/// unless NO_COLOR has a value. Skipped where `script` is missing or cannot run.
#[test]
fn colour_only_on_a_terminal_and_not_with_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
    let on_terminal = |name: &str, no_color: Option<&str>| {
        let c = logged_train(tmp.path(), name);
        let line: Vec<String> = std::iter::once(c.get_program())
            .chain(c.get_args())
            .map(|a| quote(a.to_str().unwrap()))
            .collect();
        let mut s = Command::new("script");
        s.args(["-qec", &line.join(" "), "/dev/null"])
            .env("RUST_LOG", "info")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("NO_COLOR")
            .env_remove("SATR_LOG_FORMAT")
            .stdin(Stdio::null());
        if let Some(v) = no_color {
            s.env("NO_COLOR", v);
        }
        s.output().ok().filter(|o| o.status.success())
    };
    let Some(coloured) = on_terminal("tty", None) else {
        eprintln!("util-linux `script` unavailable: skipping");
        return;
    };
    let out = String::from_utf8_lossy(&coloured.stdout);
    assert!(out.contains("training"), "{out}");
    assert!(
        coloured.stdout.contains(&0x1b),
        "no colour on a terminal: {out}"
    );
    // An empty NO_COLOR does not count (no-color.org).
    let empty = on_terminal("tty-empty", Some("")).expect("script ran before");
    assert!(empty.stdout.contains(&0x1b));
    let plain = on_terminal("tty-no-color", Some("1")).expect("script ran before");
    let out = String::from_utf8_lossy(&plain.stdout);
    assert!(out.contains("training"), "{out}");
    assert!(
        !plain.stdout.contains(&0x1b),
        "colour despite NO_COLOR: {out}"
    );
}

/// The variable that makes this test binary, re-run by
/// [`the_command_line_runs_twice_in_one_process`], the process under test.
const IN_PROCESS_CHILD: &str = "SATR_TEST_CLI_IN_PROCESS_OUT";

/// `satr::cli::main` called twice in one process (as the Python console entry point
/// may): logging and the signal handler, set up by the first call, do not fail the
/// second. Runs in a fresh process (this test binary, re-run on this test alone).
#[test]
fn the_command_line_runs_twice_in_one_process() {
    if let Some(out) = std::env::var_os(IN_PROCESS_CHILD) {
        let out = PathBuf::from(out);
        for name in ["a", "b"] {
            let mut args: Vec<String> = ["satr", "train", "--quiet", "--log-format", "json"]
                .map(String::from)
                .into();
            args.extend(SMALL.iter().map(|s| s.to_string()));
            for s in [
                format!("run.out_dir=\"{}\"", out.display()),
                format!("run.name=\"{name}\""),
                "generations=2".to_string(),
            ] {
                args.push("--set".into());
                args.push(s);
            }
            assert_eq!(satr::cli::main(&args), 0, "run {name}");
        }
        assert_eq!(satr::cli::main(["satr", "--log-format", "xml", "info"]), 2);
        assert_eq!(satr::cli::main(["satr", "train", "--backend", "tpu"]), 2);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let test = common::test_name(module_path!(), "the_command_line_runs_twice_in_one_process");
    let o = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--test-threads=1", "--nocapture"])
        .env(IN_PROCESS_CHILD, tmp.path())
        .env("RUST_LOG", "info")
        .env_remove("SATR_LOG_FORMAT")
        .output()
        .unwrap();
    ok(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("1 passed"), "the child ran no test: {out}");
    for name in ["a", "b"] {
        assert_eq!(metrics_without_timing(&tmp.path().join(name)).len(), 2);
    }
    // Both runs logged, in the JSON format the first call set up.
    let err = String::from_utf8_lossy(&o.stderr);
    let training = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "training")
        .count();
    assert_eq!(training, 2, "{err}");
}
