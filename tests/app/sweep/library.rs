//! Sweeps through the library (`satr::app::sweep::run`): summaries recomputed from
//! the runs' own metrics, a rerun skipping finished runs, invalid cells, resuming an
//! interrupted run, `--jobs`, and parallel runs on one GPU device.

use super::*;

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
