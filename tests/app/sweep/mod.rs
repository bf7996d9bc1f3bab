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

mod command_line;
mod library;
