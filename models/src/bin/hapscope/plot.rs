//! SVG plots of a θ sweep (plotters, SVG backend only — no fonts or system libraries).

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// One point of a sweep.
pub struct SweepPoint {
    pub theta: f32,
    pub size: usize,
    pub top1: f64,
    pub top3: f64,
}

/// Two stacked panels: library size vs θ, and top-1 / top-3 agreement vs θ.
pub fn sweep_svg(path: &Path, title: &str, points: &[SweepPoint]) -> Result<()> {
    let err = |e: &dyn std::fmt::Display| anyhow!("writing {}: {e}", path.display());
    let root = SVGBackend::new(path, (720, 720)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (top, bottom) = root.split_vertically(360);
    let lo = points.first().map_or(0.0, |p| p.theta) - 0.01;
    let hi = points.last().map_or(1.0, |p| p.theta) + 0.01;
    let max_size = points.iter().map(|p| p.size).max().unwrap_or(1).max(1) as f64 * 1.08;

    let mut c = ChartBuilder::on(&top)
        .caption(format!("{title}: library size vs θ"), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..hi, 0.0..max_size)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc("θ")
        .y_desc("nodes")
        .draw()
        .map_err(|e| err(&e))?;
    let size: Vec<(f32, f64)> = points.iter().map(|p| (p.theta, p.size as f64)).collect();
    c.draw_series(LineSeries::new(size.clone(), BLUE.stroke_width(2)))
        .map_err(|e| err(&e))?;
    c.draw_series(size.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))
        .map_err(|e| err(&e))?;

    let mut c = ChartBuilder::on(&bottom)
        .caption(
            format!("{title}: agreement with the network's answers"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(lo..hi, 0.0..1.02f64)
        .map_err(|e| err(&e))?;
    c.configure_mesh()
        .x_desc("θ")
        .y_desc("fraction of test rows")
        .draw()
        .map_err(|e| err(&e))?;
    for (name, colour, f) in [
        (
            "top-1",
            RED,
            (|p: &SweepPoint| p.top1) as fn(&SweepPoint) -> f64,
        ),
        ("top-3", GREEN, |p: &SweepPoint| p.top3),
    ] {
        let pts: Vec<(f32, f64)> = points.iter().map(|p| (p.theta, f(p))).collect();
        c.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
            .map_err(|e| err(&e))?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
