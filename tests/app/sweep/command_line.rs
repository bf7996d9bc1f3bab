//! `satr sweep` from the command line: sweep files, variants and the fewest-steps
//! score, stopped or killed sweeps finishing on a rerun, and the example sweep files.

use super::*;

/// [`tiny`]'s overrides (those `keep` accepts) as the `[set]` lines of a sweep file.
fn set_lines(keep: impl Fn(&str) -> bool) -> String {
    tiny()
        .iter()
        .filter(|kv| keep(kv))
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            format!("\"{k}\" = {v}\n")
        })
        .collect()
}

#[test]
fn the_command_line_reads_a_sweep_file() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("tiny.toml");
    let set = set_lines(|_| true);
    std::fs::write(
        &file,
        format!(
            "seeds = [0]\nlast_k = 2\ntarget_return = 12.0\nout = \"{}\"\n[set]\n{set}[axes]\npopulation = [8]\n",
            out.path().join("s").display()
        ),
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let o = common::cli::satr(&["sweep", f, "--quiet", "--seeds", "0,1"]);
    common::cli::ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("2 runs: 2 finished"), "{stdout}");
    let s = json(&out.path().join("s"));
    assert_eq!(s["last_k"], 2);
    assert_eq!(s["seeds"], serde_json::json!([0, 1]));
    // The sweep's target only scores the runs (they run every generation); the
    // drawdown after first reaching it, recomputed here the slow way.
    let mut worst: Option<f64> = None;
    let mut reached = 0;
    for d in run_dirs(&s) {
        let e: Vec<f64> = MetricsFile::new(d.join("metrics.jsonl"))
            .read()
            .unwrap()
            .iter()
            .map(|m| m.eval_return.unwrap())
            .collect();
        assert_eq!(e.len(), 3);
        let Some(start) = e.iter().position(|&x| x >= 12.0) else {
            continue;
        };
        reached += 1;
        for t in start..e.len() {
            let best = e[start..=t].iter().cloned().fold(f64::MIN, f64::max);
            let fall = (best - e[t]) / best.abs();
            worst = Some(worst.map_or(fall, |w: f64| w.max(fall)));
        }
    }
    assert!(
        reached > 0,
        "no run reached the target: the check above checked nothing"
    );
    let c = &s["cells"][0];
    assert_eq!(c["success_rate"].as_f64().unwrap(), reached as f64 / 2.0);
    assert_eq!(c["worst_drawdown"].as_f64(), worst, "{c}");
    let o = common::cli::satr(&["sweep", f, "--axis", "nonsense"]);
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--axis `nonsense`"), "{stderr}");
}

#[test]
fn variants_run_as_cells_and_fewest_scores_every_run_at_equal_env_steps() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("v.toml");
    let set = set_lines(|kv| !kv.starts_with("generations") && !kv.contains("max_episode_steps"));
    std::fs::write(
        &file,
        format!(
            "seeds = [0, 1]\nlast_k = 1\nenv_steps_budget = \"fewest\"\nout = \"{}\"\n[set]\n{set}\"evaluation.max_episode_steps\" = 200\ngenerations = 4\npopulation = 8\n[axes]\nrule = [{{ name = \"ec fast\", \"optimizer.rule\" = \"ec\", \"optimizer.lr\" = 0.3 }}, {{ name = \"satr\", \"optimizer.rule\" = \"satr\" }}]\n",
            out.path().join("s").display()
        ),
    )
    .unwrap();
    let o = common::cli::satr(&["sweep", file.to_str().unwrap(), "--quiet"]);
    common::cli::ok(&o);
    let s = json(&out.path().join("s"));
    let labels: Vec<&str> = s["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cell"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["rule=ec fast", "rule=satr"]);
    // Each variant's keys reached its runs' configs.
    let ec = Config::load(
        Some(&out.path().join("s/rule-ec-fast/seed-0/config.toml")),
        &[],
    )
    .unwrap();
    assert_eq!(ec.optimizer.lr, 0.3);
    assert_eq!(format!("{:?}", ec.optimizer.rule), "Ec");
    // The budget is the fewest env steps any run took; each run's final return is its
    // last eval return within that budget (last_k = 1), recomputed from its file.
    let totals: Vec<u64> = run_dirs(&s)
        .iter()
        .map(|d| {
            let ms = MetricsFile::new(d.join("metrics.jsonl")).read().unwrap();
            ms.last().unwrap().env_steps
        })
        .collect();
    let fewest = *totals.iter().min().unwrap();
    assert_eq!(s["env_steps_budget"].as_u64(), Some(fewest));
    assert!(
        totals.iter().any(|&t| t > fewest),
        "every run took {fewest} steps: the cut checked nothing"
    );
    for (c, cell) in s["cells"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["rule-ec-fast", "rule-satr"])
    {
        let finals: Vec<f64> = [0, 1]
            .iter()
            .map(|seed| {
                let d = out.path().join(format!("s/{cell}/seed-{seed}"));
                let ms = MetricsFile::new(d.join("metrics.jsonl")).read().unwrap();
                ms.iter()
                    .rfind(|m| m.env_steps <= fewest)
                    .unwrap()
                    .eval_return
                    .unwrap()
            })
            .collect();
        let mean = (finals[0] + finals[1]) / 2.0;
        assert!(
            close(c["final_return"]["mean"].as_f64().unwrap(), mean),
            "{c}"
        );
    }
}

/// Waits until some run of the sweep in `dir` has written a generation.
fn wait_for_a_generation(dir: &Path) {
    let t0 = std::time::Instant::now();
    loop {
        let started = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|cell| {
                std::fs::read_dir(cell.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|run| {
                        std::fs::read_to_string(run.path().join("metrics.jsonl"))
                            .is_ok_and(|t| !t.is_empty())
                    })
            });
        if started {
            return;
        }
        assert!(t0.elapsed().as_secs() < 60, "the sweep never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn a_stopped_or_killed_sweep_finishes_on_a_rerun_as_if_never_stopped() {
    use std::process::{Command, Stdio};
    let out = tempfile::tempdir().unwrap();
    let cli = |dir: &Path| -> Vec<String> {
        let mut a: Vec<String> = vec!["sweep".into(), "--quiet".into()];
        for s in tiny().into_iter().chain([
            "generations=60".to_string(),
            "run.checkpoint_every=4".to_string(),
            "evaluation.max_episode_steps=200".to_string(),
        ]) {
            a.extend(["--set".to_string(), s]);
        }
        a.extend(
            [
                "--axis",
                "population=8,12",
                "--seeds",
                "0,1",
                "--jobs",
                "2",
                "--out",
            ]
            .map(String::from),
        );
        a.push(dir.display().to_string());
        a
    };
    let start = |dir: &Path| {
        Command::new(common::cli::BIN)
            .args(cli(dir))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let finish = |dir: &Path| {
        let args = cli(dir);
        let o = common::cli::satr(&args.iter().map(String::as_str).collect::<Vec<_>>());
        common::cli::ok(&o);
        let s = json(dir);
        assert!(
            statuses(&s)
                .iter()
                .all(|x| x == "finished" || x == "skipped"),
            "{s}"
        );
        s
    };
    let reference = out.path().join("reference");
    let whole = finish(&reference);
    assert_eq!(statuses(&whole), vec!["finished"; 4]);

    // SIGTERM: the active runs checkpoint, no new one starts, the summary is written.
    let stopped = out.path().join("stopped");
    let child = start(&stopped);
    wait_for_a_generation(&stopped);
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let o = child.wait_with_output().unwrap();
    common::cli::ok(&o);
    let s = json(&stopped);
    for (r, d) in statuses(&s).iter().zip(run_dirs(&s)) {
        match r.as_str() {
            "interrupted" => {
                let ck =
                    satr::checkpoint::Checkpoint::load(&d.join("checkpoints/latest.ckpt")).unwrap();
                assert!(ck.generation < 60);
            }
            "not_started" => assert!(!d.exists(), "{}", d.display()),
            "finished" => {}
            other => panic!("{other}: {s}"),
        }
    }
    // Signalled after the first generation of 4 x 60: something was left to do.
    assert!(statuses(&s).iter().any(|x| x != "finished"), "{s}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("re-run the same command"), "{stdout}");

    // SIGKILL: no checkpoint at the moment of death, whatever was written stays.
    let killed = out.path().join("killed");
    let mut child = start(&killed);
    wait_for_a_generation(&killed);
    child.kill().unwrap();
    child.wait().unwrap();
    let unfinished = run_dirs(&whole).iter().any(|d| {
        let d = killed.join(d.strip_prefix(&reference).unwrap());
        satr::checkpoint::Checkpoint::load(&d.join("checkpoints/latest.ckpt"))
            .map_or(true, |ck| ck.generation < 60)
    });
    assert!(unfinished, "the sweep was killed after it had finished");

    for dir in [&stopped, &killed] {
        let s = finish(dir);
        assert_eq!(cells_without_timing(&s), cells_without_timing(&whole));
        for (a, b) in run_dirs(&whole).iter().zip(run_dirs(&s)) {
            assert_eq!(
                common::cli::metrics_without_timing(a),
                common::cli::metrics_without_timing(&b),
                "{}",
                b.display()
            );
        }
    }
}

#[test]
fn the_example_sweep_files_parse_and_their_cells_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    let mut files = Vec::new();
    let mut dirs = vec![root.join("configs/sweeps")];
    while let Some(d) = dirs.pop() {
        for f in std::fs::read_dir(d).unwrap() {
            let path = f.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    for path in files {
        let spec = sweep::spec::SweepSpec::from_file(&path).unwrap();
        let base = spec.base.as_ref().map(|b| root.join(b));
        let text = base.map_or(String::new(), |b| std::fs::read_to_string(b).unwrap());
        let task = toml::from_str::<toml::Table>(&text)
            .unwrap()
            .get("task")
            .cloned();
        let mujoco = satr::tasks::MUJOCO_TASK_NAMES
            .iter()
            .any(|t| task.as_ref().and_then(|v| v.as_str()) == Some(t));
        if mujoco && !cfg!(feature = "mujoco") {
            // Needs satr built with the feature to validate.
            continue;
        }
        for cell in spec.cells() {
            let o: Vec<String> = spec.set.iter().cloned().chain(cell.overrides()).collect();
            Config::from_toml_with_overrides(&text, &o)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), cell.label()));
        }
        n += 1;
    }
    assert!(n > 0);
}
