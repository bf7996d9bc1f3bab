//! `satr plot`: learning curves and rule diagnostics from run or sweep directories,
//! as PNG (and SVG), one line per group (a sweep's cell or a run) with a band over
//! its seeds.

pub mod draw;
pub mod series;

use std::path::PathBuf;

use thiserror::Error;

use self::draw::Panel;
pub use self::series::{Band, Curve, Group, Point, XAxis};

/// The metrics of the diagnostics view: what a rule's budget and step were doing.
pub const DIAGNOSTICS: [&str; 6] = [
    "kl",
    "kl_budget",
    "signal_energy",
    "snr",
    "entropy",
    "clip_fraction",
];

/// Why a plot was not drawn.
#[derive(Debug, Error)]
pub enum PlotError {
    #[error("{0}: not a run directory (no metrics.jsonl), a sweep directory (no summary.json), or a folder of runs")]
    NoRuns(PathBuf),
    #[error("{0}: {1}")]
    Read(PathBuf, String),
    #[error("the inputs hold runs but no generation has been recorded yet")]
    Empty,
    #[error("unknown metric `{name}`; the runs record: {}", available.join(", "))]
    Metric {
        name: String,
        available: Vec<String>,
    },
    #[error("--width and --height must be 200..=8000 pixels, got {0}x{1}")]
    Size(u32, u32),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
    #[error("drawing failed: {0}")]
    Draw(String),
}

/// What to plot.
#[derive(Debug, Clone)]
pub struct PlotArgs {
    /// Run directories, sweep directories, or folders of runs.
    pub inputs: Vec<PathBuf>,
    /// The metric of the learning curve (a `metrics.jsonl` field).
    pub metric: String,
    pub x: XAxis,
    pub band: Band,
    /// Draw the six diagnostics panels instead of one learning curve.
    pub diagnostics: bool,
    /// The PNG to write.
    pub out: PathBuf,
    /// Also write an SVG beside it.
    pub svg: bool,
    /// Image size in pixels.
    pub size: (u32, u32),
}

/// The files written and what they show.
#[derive(Debug, Clone)]
pub struct PlotOutcome {
    pub written: Vec<PathBuf>,
    pub groups: usize,
    pub runs: usize,
}

impl std::fmt::Display for PlotOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files: Vec<String> = self
            .written
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        write!(
            f,
            "plotted {} lines from {} runs: {}",
            self.groups,
            self.runs,
            files.join(", ")
        )
    }
}

fn curves(groups: &[Group], metric: &str, x: XAxis, band: Band) -> Vec<Curve> {
    groups.iter().map(|g| g.curve(metric, x, band)).collect()
}

/// Reads the inputs and draws the learning curve (or the diagnostics view).
pub fn plot(args: &PlotArgs) -> Result<PlotOutcome, PlotError> {
    let (w, h) = args.size;
    if !(200..=8000).contains(&w) || !(200..=8000).contains(&h) {
        return Err(PlotError::Size(w, h));
    }
    let groups = series::load(&args.inputs)?;
    let available = series::metric_names(&groups);
    let wanted: Vec<&str> = if args.diagnostics {
        DIAGNOSTICS.to_vec()
    } else {
        vec![args.metric.as_str()]
    };
    if let Some(name) = wanted.iter().find(|m| !available.iter().any(|a| a == *m)) {
        return Err(PlotError::Metric {
            name: name.to_string(),
            available,
        });
    }
    let all: Vec<Vec<Curve>> = wanted
        .iter()
        .map(|m| curves(&groups, m, args.x, args.band))
        .collect();
    let band = match args.band {
        Band::Std => ", band: mean +- std over seeds",
        Band::MinMax => ", band: min..max over seeds",
        Band::None => "",
    };
    let panels: Vec<Panel> = wanted
        .iter()
        .zip(&all)
        .map(|(m, c)| Panel {
            title: if args.diagnostics {
                m.to_string()
            } else {
                format!("{m}{band}")
            },
            x_label: args.x.label(),
            y_label: m.to_string(),
            curves: c,
            legend: !args.diagnostics,
        })
        .collect();
    let columns = if args.diagnostics { 2 } else { 1 };
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| PlotError::Write(parent.to_path_buf(), e.to_string()))?;
    }
    let written = draw::render(&args.out, args.size, &panels, columns, args.svg)?;
    Ok(PlotOutcome {
        written,
        groups: groups.len(),
        runs: groups.iter().map(|g| g.runs.len()).sum(),
    })
}
