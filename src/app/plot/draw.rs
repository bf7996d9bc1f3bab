//! Drawing curves with plotters into PNG (bitmap) and SVG, headless: the one font the
//! bitmap needs is compiled in, so no display and no system fonts are needed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::series::Curve;
use super::PlotError;

/// DejaVu Sans (Bitstream Vera licence, `assets/fonts/LICENSE-DejaVu`).
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
/// The family every text style below asks for.
const FAMILY: &str = "sans-serif";

/// Registers the embedded font once per process.
fn font_ready() -> Result<(), PlotError> {
    static READY: OnceLock<bool> = OnceLock::new();
    let ok = *READY
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    ok.then_some(())
        .ok_or_else(|| PlotError::Draw("the embedded font does not load".into()))
}

/// One chart: a title, axis labels and its curves.
pub struct Panel<'a> {
    pub title: String,
    pub x_label: &'a str,
    pub y_label: String,
    pub curves: &'a [Curve],
    /// Draw the legend in this panel (the diagnostics grid shows it once).
    pub legend: bool,
}

/// Tick labels short enough for the axis: integers as integers, large or tiny values
/// in scientific notation.
fn tick(v: &f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e5).contains(&a) {
        format!("{v:.1e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The colour of the `i`-th curve: a fixed, distinguishable palette (Tableau 20,
/// dark shades first).
pub fn colour(i: usize) -> RGBColor {
    const TAB20: [(u8, u8, u8); 20] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (174, 199, 232),
        (255, 187, 120),
        (152, 223, 138),
        (255, 152, 150),
        (197, 176, 213),
        (196, 156, 148),
        (247, 182, 210),
        (199, 199, 199),
        (219, 219, 141),
        (158, 218, 229),
    ];
    let (r, g, b) = TAB20[i % TAB20.len()];
    RGBColor(r, g, b)
}

fn err<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError::Draw(e.to_string())
}

/// Extent of every point and band edge, padded so that a flat curve still has height.
fn bounds(curves: &[Curve]) -> Option<((f64, f64), (f64, f64))> {
    let pts = curves.iter().flat_map(|c| &c.points);
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let mut any = false;
    for p in pts {
        any = true;
        x0 = x0.min(p.x);
        x1 = x1.max(p.x);
        y0 = y0.min(p.lo.min(p.mean));
        y1 = y1.max(p.hi.max(p.mean));
    }
    if !any {
        return None;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = if y1 > y0 {
        0.05 * (y1 - y0)
    } else {
        0.5 * y0.abs().max(1.0)
    };
    Some(((x0, x1), (y0 - pad, y1 + pad)))
}

fn panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, p: &Panel) -> Result<(), PlotError> {
    let Some(((x0, x1), (y0, y1))) = bounds(p.curves) else {
        // A metric no run recorded (EC has no KL budget): say so in the panel.
        area.draw(&Text::new(
            format!("{}: no values", p.title),
            (20, 20),
            (FAMILY, 16).into_font(),
        ))
        .map_err(err)?;
        return Ok(());
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FAMILY, 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(p.x_label)
        .y_desc(&p.y_label)
        .label_style((FAMILY, 13))
        .axis_desc_style((FAMILY, 14))
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .draw()
        .map_err(err)?;
    for (i, c) in p.curves.iter().enumerate() {
        let col = colour(i);
        if c.points.iter().any(|q| q.hi > q.lo) {
            let mut outline: Vec<(f64, f64)> = c.points.iter().map(|q| (q.x, q.hi)).collect();
            outline.extend(c.points.iter().rev().map(|q| (q.x, q.lo)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    col.mix(0.18).filled(),
                )))
                .map_err(err)?;
        }
    }
    for (i, c) in p.curves.iter().enumerate() {
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(
                c.points.iter().map(|q| (q.x, q.mean)),
                col.stroke_width(2),
            ))
            .map_err(err)?
            .label(&c.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], col.stroke_width(3)));
    }
    if !p.legend {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FAMILY, 12))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(err)?;
    Ok(())
}

fn draw_all<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panels: &[Panel],
    columns: usize,
) -> Result<(), PlotError> {
    root.fill(&WHITE).map_err(err)?;
    let rows = panels.len().div_ceil(columns);
    // A grid shows one legend, in a strip of its own below the panels, so that it
    // never hides a curve or gets cut off by a small panel.
    let labels: Vec<&str> = match panels.first() {
        Some(p) if columns > 1 => p.curves.iter().map(|c| c.label.as_str()).collect(),
        _ => Vec::new(),
    };
    let per_row = columns.max(1) + 1;
    let strip = (labels.len().div_ceil(per_row) as u32) * LEGEND_ROW
        + if labels.is_empty() { 0 } else { 12 };
    let (grid, below) = root.split_vertically(root.dim_in_pixel().1.saturating_sub(strip));
    let areas = grid.split_evenly((rows, columns));
    for (area, p) in areas.iter().zip(panels) {
        panel(area, p)?;
    }
    let width = below.dim_in_pixel().0 as i32 / per_row as i32;
    for (i, label) in labels.iter().enumerate() {
        let (x, y) = (
            10 + width * (i % per_row) as i32,
            6 + LEGEND_ROW as i32 * (i / per_row) as i32,
        );
        let col = colour(i);
        below
            .draw(&Rectangle::new([(x, y + 5), (x + 18, y + 9)], col.filled()))
            .map_err(err)?;
        below
            .draw(&Text::new(
                label.to_string(),
                (x + 24, y),
                (FAMILY, 13).into_font(),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Height of one row of the legend strip, in pixels.
const LEGEND_ROW: u32 = 18;

/// Draws `panels` in a grid of `columns` into `path` (PNG) and, with `svg`, into the
/// same path with the `.svg` extension. Each image is drawn in memory, written beside
/// its final name and renamed, so a failed draw or write leaves no half-written file.
pub fn render(
    path: &Path,
    size: (u32, u32),
    panels: &[Panel],
    columns: usize,
    svg: bool,
) -> Result<Vec<PathBuf>, PlotError> {
    font_ready()?;
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    draw_all(
        BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area(),
        panels,
        columns,
    )?;
    let mut written = vec![path.to_path_buf()];
    write_atomically(path, &encode_png(&rgb, size)?)?;
    if svg {
        let mut text = String::new();
        draw_all(
            SVGBackend::with_string(&mut text, size).into_drawing_area(),
            panels,
            columns,
        )?;
        let out = path.with_extension("svg");
        write_atomically(&out, text.as_bytes())?;
        written.push(out);
    }
    Ok(written)
}

fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, PlotError> {
    let mut bytes = Vec::new();
    let mut enc = png::Encoder::new(&mut bytes, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(bytes)
}

fn write_atomically(out: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    crate::atomic_write::write(out, bytes)
        .map_err(|e| PlotError::Write(out.to_path_buf(), e.to_string()))
}
