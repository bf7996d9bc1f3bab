//! `satr plot`.

use std::path::PathBuf;

use anyhow::Result;
use clap::ValueEnum;

use crate::app::plot::{self, Band, PlotArgs, XAxis};

#[derive(Clone, Copy, ValueEnum)]
enum XArg {
    Generation,
    EnvSteps,
    WallS,
}

#[derive(Clone, Copy, ValueEnum)]
enum BandArg {
    Std,
    Minmax,
    None,
}

/// Draw learning curves (or rule diagnostics) of runs or sweeps to PNG and SVG:
/// one line per sweep cell or run, with a band over seeds.
#[derive(clap::Args)]
pub struct PlotCli {
    /// Run directories, sweep directories (with summary.json) or folders of runs.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The metric against the x axis (any field of metrics.jsonl).
    #[arg(long, default_value = "eval_return")]
    metric: String,
    /// The x axis.
    #[arg(long, value_enum, default_value = "generation")]
    x: XArg,
    /// The band around each mean.
    #[arg(long, value_enum, default_value = "std")]
    band: BandArg,
    /// Six panels instead: kl, kl_budget, signal_energy, snr, entropy, clip_fraction.
    #[arg(long)]
    diagnostics: bool,
    /// The PNG to write.
    #[arg(short, long, default_value = "plot.png")]
    out: PathBuf,
    /// Also write an SVG beside the PNG.
    #[arg(long)]
    svg: bool,
    /// Width in pixels (default 1000, 1200 for --diagnostics).
    #[arg(long)]
    width: Option<u32>,
    /// Height in pixels (default 600, 1000 for --diagnostics).
    #[arg(long)]
    height: Option<u32>,
}

impl PlotCli {
    /// The library's arguments.
    pub fn args(self) -> PlotArgs {
        let (w, h) = if self.diagnostics {
            (1200, 1000)
        } else {
            (1000, 600)
        };
        PlotArgs {
            inputs: self.inputs,
            metric: self.metric,
            x: match self.x {
                XArg::Generation => XAxis::Generation,
                XArg::EnvSteps => XAxis::EnvSteps,
                XArg::WallS => XAxis::WallS,
            },
            band: match self.band {
                BandArg::Std => Band::Std,
                BandArg::Minmax => Band::MinMax,
                BandArg::None => Band::None,
            },
            diagnostics: self.diagnostics,
            out: self.out,
            svg: self.svg,
            size: (self.width.unwrap_or(w), self.height.unwrap_or(h)),
        }
    }

    /// Draws and prints where the files went.
    pub fn run(self) -> Result<()> {
        println!("{}", plot::plot(&self.args())?);
        Ok(())
    }
}
