//! `satr sweep`: the grid of runs, its summaries recomputed from the runs' own
//! metrics, invalid cells, skipping and resuming on a re-run, and `--jobs`.

use crate::common;

use std::path::{Path, PathBuf};

use satr::app::sweep::{self, SweepArgs, SweepOutcome};
use satr::app::{Engines, MetricsFile, World};
use satr::config::Config;
use serde_json::Value;

/// A tiny CartPole run for every cell.
fn tiny() -> Vec<String> {
    [
        "network.neurons=16",
        "evaluation.eval_members=2",
        "evaluation.max_episode_steps=30",
        "generations=3",
        "run.checkpoint_every=1",
        "backend=\"cpu\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args(out: &Path, set: &[&str], axes: &[&str], jobs: usize) -> SweepArgs {
    SweepArgs {
        set: tiny()
            .into_iter()
            .chain(set.iter().map(|s| s.to_string()))
            .collect(),
        axes: axes.iter().map(|s| s.to_string()).collect(),
        seeds: Some(vec![0, 1]),
        jobs,
        out: Some(out.to_path_buf()),
        ..SweepArgs::default()
    }
}

fn run(a: SweepArgs) -> SweepOutcome {
    let world = World::init().unwrap();
    let engines = Engines::new(&world);
    sweep::sweep(&engines, a).unwrap()
}

const GRID: [&str; 2] = ["population=8,12", "optimizer.rule=ec,satr"];

fn json(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn run_dirs(summary: &Value) -> Vec<PathBuf> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| PathBuf::from(r["dir"].as_str().unwrap()))
        .collect()
}

fn statuses(summary: &Value) -> Vec<String> {
    summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

/// The cells without the field that measures time.
fn cells_without_timing(summary: &Value) -> Value {
    let mut cells = summary["cells"].clone();
    for c in cells.as_array_mut().unwrap() {
        c.as_object_mut().unwrap().remove("wall_s_to_target");
    }
    cells
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn a_2x2_sweep_summarises_its_runs_and_a_rerun_skips_them() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("grid");
    let mut a = args(&dir, &[], &GRID, 1);
    a.set.push("run.target_return=12.0".into());
    let done = run(a.clone());
    assert!(!done.interrupted);
    let s = json(&dir);
    assert_eq!(statuses(&s), vec!["finished"; 8]);
    let cells = s["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(s["target_return"], 12.0);
    for (i, c) in cells.iter().enumerate() {
        let pop = [8, 12][i / 2];
        let rule = ["ec", "satr"][i % 2];
        assert_eq!(
            c["cell"].as_str().unwrap(),
            format!("population={pop} optimizer.rule={rule}")
        );
        assert_eq!(c["complete"], 2);
        // Recompute from the runs' files: the final return is the mean of the last 5
        // (here all 3, or up to the target) eval returns of each seed.
        let mut finals = Vec::new();
        let mut hits = Vec::new();
        for seed in [0, 1] {
            let rd = dir
                .join(format!("population-{pop}_optimizer.rule-{rule}"))
                .join(format!("seed-{seed}"));
            let cfg = Config::load(Some(&rd.join("config.toml")), &[]).unwrap();
            assert_eq!((cfg.seed, cfg.population), (seed, pop));
            assert_eq!(format!("{:?}", cfg.optimizer.rule).to_lowercase(), rule);
            let ms = MetricsFile::new(rd.join("metrics.jsonl")).read().unwrap();
            assert!(!ms.is_empty() && ms.len() <= 3);
            let e: Vec<f64> = ms.iter().map(|m| m.eval_return.unwrap()).collect();
            finals.push(e.iter().sum::<f64>() / e.len() as f64);
            if let Some(g) = e.iter().position(|&x| x >= 12.0) {
                // The run stops at its target.
                assert_eq!(g + 1, e.len());
                hits.push(g as f64 + 1.0);
            } else {
                assert_eq!(ms.len(), 3);
            }
        }
        let f = &c["final_return"];
        let mean = (finals[0] + finals[1]) / 2.0;
        assert!(close(f["mean"].as_f64().unwrap(), mean), "{c}");
        let std = (finals[0] - finals[1]).abs() / 2f64.sqrt();
        assert!(close(f["std"].as_f64().unwrap(), std), "{c}");
        let half = 12.706204736 * std / 2f64.sqrt();
        assert!(
            (f["ci95_high"].as_f64().unwrap() - (mean + half)).abs() < 1e-6 * (1.0 + half),
            "{c}"
        );
        assert_eq!(c["success_rate"].as_f64().unwrap(), hits.len() as f64 / 2.0);
        match hits.len() {
            0 => assert!(c["generations_to_target"].is_null()),
            n => assert!(close(
                c["generations_to_target"].as_f64().unwrap(),
                hits.iter().sum::<f64>() / n as f64
            )),
        }
        let kl = c["kl_mean"].as_f64().unwrap();
        assert!(kl.is_finite() && kl >= 0.0, "{c}");
        let dd = c["worst_drawdown"].as_f64();
        assert!(dd.is_none_or(|d| d >= 0.0), "{c}");
    }
    let csv = std::fs::read_to_string(dir.join("summary.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[0].starts_with("population,optimizer.rule,seeds,"),
        "{csv}"
    );
    assert!(lines[2].starts_with("8,satr,2,2,0,"), "{csv}");
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    for c in cells {
        assert!(md.contains(c["cell"].as_str().unwrap()), "{md}");
    }

    // The same command again: nothing runs, nothing changes, the summary is the same.
    let files: Vec<Vec<u8>> = run_dirs(&s)
        .iter()
        .map(|d| std::fs::read(d.join("metrics.jsonl")).unwrap())
        .collect();
    let again = run(a);
    assert!(again.to_string().contains("8 skipped"), "{again}");
    let s2 = json(&dir);
    assert_eq!(statuses(&s2), vec!["skipped"; 8]);
    assert_eq!(s2["cells"], s["cells"]);
    for (d, before) in run_dirs(&s).iter().zip(files) {
        assert_eq!(std::fs::read(d.join("metrics.jsonl")).unwrap(), before);
    }

    // Another config in the same directory is refused run by run, never overwritten.
    let other = run(args(&dir, &["network.neurons=20"], &GRID, 1));
    assert!(other.to_string().contains("8 failed"), "{other}");
    let s3 = json(&dir);
    let err = s3["runs"][0]["error"].as_str().unwrap();
    assert!(err.contains("another config"), "{err}");
    assert_eq!(s3["cells"][0]["failed"], 2);
}

#[test]
fn an_invalid_cell_is_reported_and_the_others_run() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("bad");
    let done = run(args(&dir, &[], &["population=1,8"], 1));
    let s = json(&dir);
    assert_eq!(
        statuses(&s),
        vec!["invalid", "invalid", "finished", "finished"]
    );
    assert!(done.to_string().contains("2 invalid"), "{done}");
    let why = s["cells"][0]["invalid"].as_str().unwrap();
    assert!(why.contains("population"), "{why}");
    assert!(s["cells"][1]["invalid"].is_null());
    assert_eq!(s["cells"][1]["complete"], 2);
    assert!(!dir.join("population-1").exists());
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("population=1 | invalid"), "{md}");
}

#[test]
fn an_interrupted_run_resumes_to_what_an_uninterrupted_one_computes() {
    let out = tempfile::tempdir().unwrap();
    let whole = out.path().join("whole");
    run(args(&whole, &[], &["population=8"], 1));
    // The same sweep stopped after one generation (checkpoint at 1), with a record of
    // a generation past the checkpoint that the crash left behind, and a second seed
    // killed before its first checkpoint (a config and a metrics line, no checkpoint).
    let cut = out.path().join("cut");
    run(SweepArgs {
        seeds: Some(vec![0]),
        ..args(&cut, &["generations=1"], &["population=8"], 1)
    });
    let seed0 = cut.join("population-8").join("seed-0");
    let seed1 = cut.join("population-8").join("seed-1");
    let metrics0 = seed0.join("metrics.jsonl");
    let first = std::fs::read_to_string(&metrics0).unwrap();
    assert_eq!(first.lines().count(), 1);
    let stale = first.replace("\"generation\":0", "\"generation\":1");
    assert_ne!(stale, first);
    std::fs::write(&metrics0, format!("{first}{stale}")).unwrap();
    std::fs::create_dir_all(&seed1).unwrap();
    std::fs::write(seed1.join("metrics.jsonl"), &first).unwrap();

    let done = run(args(&cut, &[], &["population=8"], 1));
    assert_eq!(statuses(&json(&cut)), vec!["finished"; 2], "{done}");
    for seed in ["seed-0", "seed-1"] {
        let a = whole.join("population-8").join(seed);
        let b = cut.join("population-8").join(seed);
        let ma = common::cli::metrics_without_timing(&a);
        assert_eq!(ma.len(), 3);
        assert_eq!(ma, common::cli::metrics_without_timing(&b), "{seed}");
        assert_eq!(common::cli::checkpoint_p(&a), common::cli::checkpoint_p(&b));
    }
    assert_eq!(
        cells_without_timing(&json(&whole)),
        cells_without_timing(&json(&cut))
    );
}

#[test]
fn two_jobs_compute_what_one_does() {
    let out = tempfile::tempdir().unwrap();
    let (one, two) = (out.path().join("one"), out.path().join("two"));
    run(args(&one, &[], &GRID, 1));
    run(args(&two, &[], &GRID, 2));
    let (s1, s2) = (json(&one), json(&two));
    assert_eq!(cells_without_timing(&s1), cells_without_timing(&s2));
    assert_eq!(statuses(&s2), vec!["finished"; 8]);
    for (a, b) in run_dirs(&s1).iter().zip(run_dirs(&s2)) {
        assert_eq!(
            common::cli::metrics_without_timing(a),
            common::cli::metrics_without_timing(&b)
        );
    }
}

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

/// Runs on one GPU device in parallel threads compute what they compute one at a time
/// (each run builds its own evaluator over the process's one device).
#[test]
fn gpu_runs_in_parallel_share_one_device_and_agree() {
    if common::context().is_none() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    for mode in ["host", "generation"] {
        let set = [
            "backend=\"gpu\"".to_string(),
            format!("gpu.mode=\"{mode}\""),
        ];
        let set: Vec<&str> = set.iter().map(String::as_str).collect();
        let (one, two) = (
            out.path().join(format!("{mode}-1")),
            out.path().join(format!("{mode}-2")),
        );
        run(args(&one, &set, &["population=8,12"], 1));
        run(args(&two, &set, &["population=8,12"], 3));
        let (s1, s2) = (json(&one), json(&two));
        assert_eq!(statuses(&s2), vec!["finished"; 4], "{mode}");
        assert_eq!(
            cells_without_timing(&s1),
            cells_without_timing(&s2),
            "{mode}"
        );
        for (a, b) in run_dirs(&s1).iter().zip(run_dirs(&s2)) {
            assert_eq!(
                common::cli::metrics_without_timing(a),
                common::cli::metrics_without_timing(&b),
                "{mode}"
            );
        }
    }
}
