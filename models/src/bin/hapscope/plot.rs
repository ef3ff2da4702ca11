//! SVG plots (plotters, SVG backend only — no fonts or system libraries): line panels,
//! heatmaps and histograms for the sweep and the reproduced figures.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One named line.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn e(err: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing SVG: {err}")
}

fn range(series: &[Series], axis: impl Fn(&(f64, f64)) -> f64) -> (f64, f64) {
    let vals = series.iter().flat_map(|s| s.points.iter().map(&axis));
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) }
}

/// Series longer than this are drawn without point markers.
const MAX_MARKERS: usize = 60;

/// Draws line series (with markers, up to [`MAX_MARKERS`] points) and a legend into one
/// panel.
pub fn line_panel(
    area: &Area<'_>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_y: bool,
    y_range: Option<(f64, f64)>,
) -> Result<()> {
    let (x0, x1) = range(series, |p| p.0);
    let pad = ((x1 - x0) * 0.03).max(1e-3);
    let (y0, y1) = y_range.unwrap_or_else(|| {
        let (lo, hi) = range(series, |p| p.1);
        if log_y {
            (lo.max(0.5) / 1.3, hi * 1.3)
        } else {
            (lo.min(0.0), hi * 1.08 + 1e-9)
        }
    });
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(60);
    macro_rules! draw {
        ($chart:expr) => {{
            let mut c = $chart;
            c.configure_mesh()
                .x_desc(x_desc)
                .y_desc(y_desc)
                .draw()
                .map_err(e)?;
            for (k, s) in series.iter().enumerate() {
                let colour = PALETTE[k % PALETTE.len()];
                c.draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))
                    .map_err(e)?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                    });
                // Markers where they say something: a dense curve (a ROC) is drawn as a line.
                if s.points.len() <= MAX_MARKERS {
                    c.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                        .map_err(e)?;
                }
            }
            c.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(e)?;
        }};
    }
    if log_y {
        draw!(
            builder
                .build_cartesian_2d(x0 - pad..x1 + pad, (y0..y1).log_scale())
                .map_err(e)?
        );
    } else {
        draw!(
            builder
                .build_cartesian_2d(x0 - pad..x1 + pad, y0..y1)
                .map_err(e)?
        );
    }
    Ok(())
}

/// Writes an SVG of `panels` stacked vertically (each 360 px high), via `draw(i, area)`.
pub fn stacked(
    path: &Path,
    panels: usize,
    draw: impl Fn(usize, &Area<'_>) -> Result<()>,
) -> Result<()> {
    let root = SVGBackend::new(path, (760, 360 * panels as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    for (i, area) in root.split_evenly((panels, 1)).iter().enumerate() {
        draw(i, area)?;
    }
    root.present()
        .map_err(|err| anyhow!("writing {}: {err}", path.display()))
}

/// A `n × n` heatmap (NaN cells grey), rows = true class, columns = other class.
pub fn heatmap_svg(path: &Path, title: &str, n: usize, values: &[f64]) -> Result<()> {
    let root = SVGBackend::new(path, (520, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let max = values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(40)
        .build_cartesian_2d(0..n, 0..n)
        .map_err(e)?;
    c.configure_mesh()
        .disable_mesh()
        .x_desc("d2")
        .y_desc("d1 (true, predicted correctly)")
        .draw()
        .map_err(e)?;
    c.draw_series(
        (0..n)
            .flat_map(|r| (0..n).map(move |col| (r, col)))
            .map(|(r, col)| {
                let v = values[r * n + col];
                let fill = if v.is_finite() {
                    let t = (v / max).clamp(0.0, 1.0);
                    RGBColor(255, (255.0 * (1.0 - t)) as u8, (255.0 * (1.0 - t)) as u8)
                } else {
                    RGBColor(200, 200, 200)
                };
                Rectangle::new([(col, n - 1 - r), (col + 1, n - r)], fill.filled())
            }),
    )
    .map_err(e)?;
    root.present()
        .map_err(|err| anyhow!("writing {}: {err}", path.display()))
}

/// Two overlaid histograms over [lo, hi] with `bins` bins.
pub fn histogram_svg(
    path: &Path,
    title: &str,
    a: (&str, &[f64]),
    b: (&str, &[f64]),
    bins: usize,
) -> Result<()> {
    let all = a.1.iter().chain(b.1);
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
        (l.min(v), h.max(v))
    });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (0.0, 1.0)
    };
    let width = (hi - lo) / bins as f64;
    let count = |v: &[f64]| {
        let mut c = vec![0usize; bins];
        for &x in v {
            c[(((x - lo) / width) as usize).min(bins - 1)] += 1;
        }
        c
    };
    let (ca, cb) = (count(a.1), count(b.1));
    let top = ca.iter().chain(&cb).copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let root = SVGBackend::new(path, (760, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let mut c = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(34)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, 0.0..top)
        .map_err(e)?;
    c.configure_mesh()
        .x_desc("CPL")
        .y_desc("images")
        .draw()
        .map_err(e)?;
    for (k, (name, counts)) in [(a.0, ca), (b.0, cb)].into_iter().enumerate() {
        let colour = PALETTE[k];
        c.draw_series(counts.iter().enumerate().map(|(i, &n)| {
            let x0 = lo + i as f64 * width;
            Rectangle::new(
                [(x0, 0.0), (x0 + width, n as f64)],
                colour.mix(0.45).filled(),
            )
        }))
        .map_err(e)?
        .label(name)
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.mix(0.45).filled())
        });
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    root.present()
        .map_err(|err| anyhow!("writing {}: {err}", path.display()))
}

/// One point of a sweep.
pub struct SweepPoint {
    pub theta: f32,
    pub size: usize,
    pub top1: f64,
    pub top3: f64,
}

/// Two stacked panels: library size vs θ, and top-1 / top-3 agreement vs θ.
pub fn sweep_svg(path: &Path, title: &str, points: &[SweepPoint]) -> Result<()> {
    let xs = |f: fn(&SweepPoint) -> f64| {
        points
            .iter()
            .map(|p| (f64::from(p.theta), f(p)))
            .collect::<Vec<_>>()
    };
    stacked(path, 2, |i, area| {
        if i == 0 {
            let s = [Series {
                name: "nodes".into(),
                points: xs(|p| p.size as f64),
            }];
            line_panel(
                area,
                &format!("{title}: library size vs θ"),
                "θ",
                "nodes",
                &s,
                false,
                None,
            )
        } else {
            let s = [
                Series {
                    name: "top-1".into(),
                    points: xs(|p| p.top1),
                },
                Series {
                    name: "top-3".into(),
                    points: xs(|p| p.top3),
                },
            ];
            line_panel(
                area,
                &format!("{title}: agreement with the network's answers"),
                "θ",
                "fraction of test rows",
                &s,
                false,
                Some((0.0, 1.02)),
            )
        }
    })
}
