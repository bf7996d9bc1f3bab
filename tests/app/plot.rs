//! `satr plot`: the PNG decodes at the size asked for and the curves and bands are on
//! it (counted in the curves' own colours, with a blank control that must show none),
//! the SVG carries the lines and labels, groups come from sweeps, cell folders and
//! folders of runs, and bad input gets a clear error.

use std::path::{Path, PathBuf};

use satr::app::metrics::{Metrics, MetricsFile};
use satr::app::plot::{self, draw::colour, Band, Group, PlotArgs, PlotError, XAxis};
use satr::optimizer::UpdateStats;

/// A run directory with `gens` generations whose eval return is `f(generation)`;
/// `kl_budget` stays unset, as EC's does.
fn run(dir: &Path, gens: u32, f: impl Fn(u32) -> f64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut w = MetricsFile::new(dir.join("metrics.jsonl"))
        .appender()
        .unwrap();
    for g in 0..gens {
        let update = UpdateStats {
            kl: 1.0 + g as f64,
            entropy: 0.69 - 0.01 * g as f64,
            ..UpdateStats::default()
        };
        w.append(&Metrics {
            generation: g,
            eval_return: Some(f(g)),
            train_return_mean: f(g) - 1.0,
            train_return_max: f(g),
            train_return_min: f(g) - 2.0,
            non_finite_members: 0,
            cost: None,
            update,
            env_steps: 1000 * (g as u64 + 1),
            wall_s: 0.5 * (g as f64 + 1.0),
            env_steps_per_s: 2000.0,
        })
        .unwrap();
    }
    dir.to_path_buf()
}

fn args(inputs: Vec<PathBuf>, out: &Path) -> PlotArgs {
    PlotArgs {
        inputs,
        metric: "eval_return".into(),
        x: XAxis::Generation,
        band: Band::Std,
        diagnostics: false,
        out: out.to_path_buf(),
        svg: false,
        size: (640, 400),
    }
}

/// The decoded RGB pixels and the image size.
fn decode(path: &Path) -> (Vec<[u8; 3]>, (u32, u32)) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let px = buf[..info.buffer_size()]
        .chunks(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (px, (info.width, info.height))
}

fn count(px: &[[u8; 3]], want: [u8; 3], tolerance: u8) -> usize {
    px.iter()
        .filter(|p| p.iter().zip(want).all(|(a, b)| a.abs_diff(b) <= tolerance))
        .count()
}

fn rgb(i: usize) -> [u8; 3] {
    let c = colour(i);
    [c.0, c.1, c.2]
}

/// A band of colour `c` at the plot's alpha over white.
fn band_rgb(i: usize) -> [u8; 3] {
    rgb(i).map(|v| (255.0 - 0.18 * (255.0 - v as f64)).round() as u8)
}

#[test]
fn curves_and_bands_are_drawn_at_the_size_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // One cell of three seeds (a band), one of a single run (no band).
    let cell = root.join("cell");
    for s in 0..3u32 {
        run(&cell.join(format!("seed-{s}")), 30, |g| {
            -500.0 + 12.0 * g as f64 + 20.0 * s as f64
        });
    }
    let single = run(&root.join("single"), 30, |g| -300.0 - 3.0 * g as f64);
    let out = root.join("plots/curve.png");
    let mut a = args(vec![cell, single], &out);
    a.svg = true;
    let done = plot::plot(&a).unwrap();
    assert_eq!(done.groups, 2);
    assert_eq!(done.runs, 4);
    let (px, size) = decode(&out);
    assert_eq!(size, (640, 400));
    let line0 = count(&px, rgb(0), 0);
    let line1 = count(&px, rgb(1), 0);
    let band0 = count(&px, band_rgb(0), 2);
    println!("line pixels {line0}, {line1}; band pixels {band0}");
    assert!(line0 > 400 && line1 > 400, "lines {line0}, {line1}");
    assert!(band0 > 2000, "band of the three seeds: {band0} pixels");
    // The single run has no spread, so no band of its colour.
    assert_eq!(count(&px, band_rgb(1), 1), 0);
    assert!(count(&px, [255, 255, 255], 0) > px.len() / 2);

    let svg = std::fs::read_to_string(out.with_extension("svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    assert!(svg.contains("<polyline") && svg.contains("<polygon"));
    assert!(svg.contains("cell (n=3)") && svg.contains("single (n=1)"));
    assert!(!root.join("plots/curve.png.tmp").exists());
}

#[test]
fn a_metric_no_run_recorded_draws_no_curve() {
    // The blank control: the same drawing path with nothing to draw must leave none of
    // the curve colours, so the counts above can fail.
    let tmp = tempfile::tempdir().unwrap();
    let r = run(&tmp.path().join("r"), 10, |g| g as f64);
    let out = tmp.path().join("blank.png");
    let mut a = args(vec![r.clone()], &out);
    a.metric = "kl_budget".into();
    plot::plot(&a).unwrap();
    let (px, _) = decode(&out);
    assert_eq!(count(&px, rgb(0), 0), 0);
    // ... while the metric it did record draws.
    a.metric = "kl".into();
    plot::plot(&a).unwrap();
    assert!(count(&decode(&out).0, rgb(0), 0) > 300);
}

#[test]
fn the_diagnostics_view_and_other_x_axes_draw() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    run(&runs.join("a"), 12, |g| g as f64);
    run(&runs.join("b"), 8, |g| 2.0 * g as f64);
    let out = tmp.path().join("diag.png");
    let mut a = args(vec![runs.clone()], &out);
    a.diagnostics = true;
    a.size = (900, 700);
    let done = plot::plot(&a).unwrap();
    assert_eq!(done.groups, 2, "a folder of runs: one line per run");
    let (px, size) = decode(&out);
    assert_eq!(size, (900, 700));
    // kl and entropy are recorded: both colours appear (lines and legend swatches).
    assert!(count(&px, rgb(0), 0) > 300 && count(&px, rgb(1), 0) > 200);
    // Against env steps a line ends with its shortest run (8 of run b's generations
    // here would be 12 for run a); by generation it runs to the longest.
    let groups = satr::app::plot::series::load(std::slice::from_ref(&runs)).unwrap();
    let a = groups.iter().find(|g| g.label == "a").unwrap();
    assert_eq!(a.curve("kl", XAxis::Generation, Band::Std).points.len(), 12);
    let both = Group {
        label: "ab".into(),
        runs: groups.iter().flat_map(|g| g.runs.clone()).collect(),
    };
    assert_eq!(
        both.curve("kl", XAxis::Generation, Band::Std).points.len(),
        12
    );
    let steps = both.curve("kl", XAxis::EnvSteps, Band::Std).points;
    assert_eq!(steps.len(), 8);
    assert!(steps.windows(2).all(|w| w[1].x > w[0].x));
    for x in [XAxis::EnvSteps, XAxis::WallS] {
        let mut a = args(vec![runs.clone()], &out);
        a.x = x;
        a.band = Band::MinMax;
        plot::plot(&a).unwrap();
        assert!(count(&decode(&out).0, rgb(1), 0) > 200, "{x:?}");
    }
}

#[test]
fn bad_input_gets_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.png");
    let e = plot::plot(&args(vec![tmp.path().join("nope")], &out)).unwrap_err();
    assert!(matches!(e, PlotError::NoRuns(_)), "{e}");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = plot::plot(&args(vec![empty], &out)).unwrap_err();
    assert!(e.to_string().contains("not a run directory"), "{e}");

    let r = run(&tmp.path().join("r"), 3, |g| g as f64);
    let mut a = args(vec![r.clone()], &out);
    a.metric = "eval_retrun".into();
    let e = plot::plot(&a).unwrap_err().to_string();
    assert!(
        e.contains("eval_retrun") && e.contains("eval_return"),
        "{e}"
    );
    let mut a = args(vec![r.clone()], &out);
    a.size = (10, 400);
    assert!(matches!(plot::plot(&a), Err(PlotError::Size(10, 400))));
    // Lines that do not parse are skipped (a crashed run's torn last line); a run
    // with none left has nothing to plot.
    std::fs::write(r.join("metrics.jsonl"), "{not json\n").unwrap();
    let e = plot::plot(&args(vec![r], &out)).unwrap_err();
    assert!(matches!(e, PlotError::Empty), "{e}");
    assert!(!out.exists(), "nothing written on error");
}

#[test]
fn the_command_plots_a_sweep_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = tmp.path().join("sweep");
    let bin = env!("CARGO_BIN_EXE_satr");
    let status = std::process::Command::new(bin)
        .args([
            "sweep",
            "--quiet",
            "--seeds",
            "0,1",
            "--axis",
            "optimizer.rule=ec,satr",
        ])
        .args(["--set", "network.neurons=16", "--set", "generations=4"])
        .args(["--set", "population=8", "--set", "backend=\"cpu\""])
        .args(["--set", "evaluation.eval_members=2"])
        .args(["--set", "evaluation.max_episode_steps=30"])
        .arg("--out")
        .arg(&sweep)
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .unwrap();
    assert!(status.success());
    let out = tmp.path().join("sweep.png");
    let o = std::process::Command::new(bin)
        .arg("plot")
        .arg(&sweep)
        .args(["--x", "env-steps", "--svg", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("plotted 2 lines from 4 runs"), "{stdout}");
    let svg = std::fs::read_to_string(out.with_extension("svg")).unwrap();
    assert!(svg.contains("optimizer.rule=ec (n=2)") && svg.contains("optimizer.rule=satr (n=2)"));
    assert!(count(&decode(&out).0, rgb(1), 0) > 200);
    let o = std::process::Command::new(bin)
        .arg("plot")
        .arg(&sweep)
        .args(["--metric", "nope", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown metric `nope`"));
}
