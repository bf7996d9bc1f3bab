//! What `satr plot` draws: runs gathered into groups (a sweep's cells, or single runs),
//! one metric read by name from their `metrics.jsonl`, and per group a curve of the
//! mean over seeds with a band.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::PlotError;
use crate::app::metrics::Metrics;
use crate::app::run_dir::RunDir;
use crate::app::sweep::summary::Stat;

/// The x axis of a learning curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Generation index.
    Generation,
    /// Cumulative environment steps (mean over the group's runs at each generation).
    EnvSteps,
    /// Wall-clock seconds since the run started (mean over the group's runs).
    WallS,
}

impl XAxis {
    /// The axis label.
    pub fn label(self) -> &'static str {
        match self {
            XAxis::Generation => "generation",
            XAxis::EnvSteps => "env steps",
            XAxis::WallS => "wall time (s)",
        }
    }

    fn of(self, generation: usize, record: &Map<String, Value>) -> Option<f64> {
        match self {
            XAxis::Generation => Some(generation as f64),
            XAxis::EnvSteps => record.get("env_steps").and_then(Value::as_f64),
            XAxis::WallS => record.get("wall_s").and_then(Value::as_f64),
        }
    }
}

/// What the band around each mean shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// Mean +- one standard deviation over seeds.
    Std,
    /// The smallest and largest seed.
    MinMax,
    /// No band.
    None,
}

/// Runs drawn as one line: a sweep cell's seeds, or one run.
#[derive(Debug, Clone)]
pub struct Group {
    pub label: String,
    /// Each run's records, as JSON objects so that any metric is found by name.
    pub runs: Vec<Vec<Map<String, Value>>>,
}

/// One point of a curve: x, the mean, and the band's low and high edges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// A group's curve of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub label: String,
    pub points: Vec<Point>,
}

fn records(dir: &Path) -> Result<Vec<Map<String, Value>>, PlotError> {
    let run = RunDir {
        path: dir.to_path_buf(),
    };
    let ms: Vec<Metrics> = run
        .metrics()
        .read()
        .map_err(|e| PlotError::Read(dir.to_path_buf(), e.to_string()))?;
    Ok(ms
        .iter()
        .map(|m| match serde_json::to_value(m) {
            Ok(Value::Object(o)) => o,
            _ => Map::new(),
        })
        .collect())
}

fn is_run(dir: &Path) -> bool {
    dir.join("metrics.jsonl").is_file()
}

fn name_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// The cells of a sweep directory in its summary's order, each with its complete runs.
/// Run folders are found as `<sweep>/<cell folder>/<seed folder>` from the recorded
/// paths, so a sweep directory that was moved still plots.
fn sweep_groups(dir: &Path) -> Result<Vec<Group>, PlotError> {
    let path = dir.join("summary.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| PlotError::Read(path.clone(), e.to_string()))?;
    let summary: Value =
        serde_json::from_str(&text).map_err(|e| PlotError::Read(path.clone(), e.to_string()))?;
    let bad = |what: &str| PlotError::Read(path.clone(), format!("no {what}"));
    let cells = summary["cells"].as_array().ok_or_else(|| bad("cells"))?;
    let runs = summary["runs"].as_array().ok_or_else(|| bad("runs"))?;
    let mut groups = Vec::new();
    for cell in cells {
        let label = cell["cell"].as_str().ok_or_else(|| bad("cell label"))?;
        let mut group = Group {
            label: label.to_string(),
            runs: Vec::new(),
        };
        for r in runs.iter().filter(|r| r["cell"].as_str() == Some(label)) {
            let complete = matches!(r["status"].as_str(), Some("finished" | "skipped"));
            let recorded = PathBuf::from(r["dir"].as_str().unwrap_or_default());
            let parts: Vec<_> = recorded.components().rev().take(2).collect();
            let local = parts.iter().rev().fold(dir.to_path_buf(), |p, c| p.join(c));
            if complete && is_run(&local) {
                group.runs.push(records(&local)?);
            }
        }
        if !group.runs.is_empty() {
            groups.push(group);
        }
    }
    Ok(groups)
}

/// Every input as groups: a run directory is one group; a sweep directory (with
/// `summary.json`) one group per cell; a sweep cell's folder (only `seed-N` runs) one
/// group; any other directory one group per run directory directly inside it.
pub fn load(inputs: &[PathBuf]) -> Result<Vec<Group>, PlotError> {
    let mut groups = Vec::new();
    for input in inputs {
        if is_run(input) {
            groups.push(Group {
                label: name_of(input),
                runs: vec![records(input)?],
            });
        } else if input.join("summary.json").is_file() {
            groups.extend(sweep_groups(input)?);
        } else if input.is_dir() {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| PlotError::Read(input.clone(), e.to_string()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_run(p))
                .collect();
            dirs.sort();
            if dirs.is_empty() {
                return Err(PlotError::NoRuns(input.clone()));
            }
            // A sweep cell's folder holds `seed-N` runs: those are seeds of one line.
            let seeds_of_one_cell = dirs.iter().all(|d| name_of(d).starts_with("seed-"));
            if seeds_of_one_cell {
                groups.push(Group {
                    label: name_of(input),
                    runs: dirs.iter().map(|d| records(d)).collect::<Result<_, _>>()?,
                });
                continue;
            }
            for d in dirs {
                groups.push(Group {
                    label: name_of(&d),
                    runs: vec![records(&d)?],
                });
            }
        } else {
            return Err(PlotError::NoRuns(input.clone()));
        }
    }
    if groups.iter().all(|g| g.runs.iter().all(Vec::is_empty)) {
        return Err(PlotError::Empty);
    }
    Ok(groups)
}

/// The numeric metrics the groups' records carry (for error messages and `--list`).
pub fn metric_names(groups: &[Group]) -> Vec<String> {
    let mut names: Vec<String> = groups
        .iter()
        .flat_map(|g| g.runs.iter().flatten())
        .flat_map(|r| {
            r.iter()
                .filter(|(_, v)| v.is_number() || v.is_null())
                .map(|(k, _)| k.clone())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

impl Group {
    /// The curve of `metric`: at each generation index, the mean (and band) over the
    /// runs that have a finite value there; `x` is that index or the runs' mean x.
    ///
    /// Against env steps or wall time the line ends where the group's shortest run
    /// ends: past it the mean x of the remaining seeds can run backwards.
    pub fn curve(&self, metric: &str, x: XAxis, band: Band) -> Curve {
        let lengths = self.runs.iter().map(Vec::len);
        let end = match x {
            XAxis::Generation => lengths.max(),
            XAxis::EnvSteps | XAxis::WallS => lengths.min(),
        }
        .unwrap_or(0);
        let mut points = Vec::new();
        for i in 0..end {
            let mut ys = Vec::new();
            let mut xs = Vec::new();
            for run in &self.runs {
                let Some(rec) = run.get(i) else { continue };
                let y = rec.get(metric).and_then(Value::as_f64);
                if let (Some(y), Some(xv)) = (y.filter(|y| y.is_finite()), x.of(i, rec)) {
                    ys.push(y);
                    xs.push(xv);
                }
            }
            let Some(stat) = Stat::of(&ys) else { continue };
            let spread = stat.std.unwrap_or(0.0);
            let (lo, hi) = match band {
                Band::Std => (stat.mean - spread, stat.mean + spread),
                Band::MinMax => (
                    ys.iter().cloned().fold(f64::INFINITY, f64::min),
                    ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                ),
                Band::None => (stat.mean, stat.mean),
            };
            points.push(Point {
                x: xs.iter().sum::<f64>() / xs.len() as f64,
                mean: stat.mean,
                lo,
                hi,
            });
        }
        Curve {
            label: format!("{} (n={})", self.label, self.runs.len()),
            points,
        }
    }
}
