//! Figures as SVG (plotters): the error of each method against the number
//! of annotators, with error bars and the single-worker line, as in Ground
//! Truth's consolidation notebook.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::simulate::Experiment;

/// Colours of the methods' series, in order; the single worker is grey.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A plotters failure, as a write error of the figure.
fn drawing_error(e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: "figure".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Renders `experiment` to an SVG document: one line per method (mean error,
/// bars of ± one standard error), a dashed single-worker line, a legend.
pub fn error_vs_annotators_svg(experiment: &Experiment, title: &str) -> Result<String> {
    let mut methods: Vec<&str> = Vec::new();
    for p in &experiment.points {
        if !methods.contains(&p.method.as_str()) {
            methods.push(&p.method);
        }
    }
    let max_r = experiment
        .points
        .iter()
        .map(|p| p.annotators)
        .max()
        .unwrap_or(1);
    let top = experiment
        .points
        .iter()
        .map(|p| p.mean_error + p.standard_error)
        .fold(experiment.single_worker_error, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.5f64..max_r as f64 + 0.5, 0f64..(top * 1.1).max(1e-3))
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .x_desc("annotators per item")
            .y_desc("error against gold")
            .x_labels(max_r.min(20))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(drawing_error)?;
        let single = experiment.single_worker_error;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.5, single), (max_r as f64 + 0.5, single)],
                6,
                4,
                RGBColor(120, 120, 120).stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("single worker")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RGBColor(120, 120, 120)));
        for (m, method) in methods.iter().enumerate() {
            let colour = PALETTE[m % PALETTE.len()];
            let points: Vec<(f64, f64, f64)> = experiment
                .points
                .iter()
                .filter(|p| p.method == *method)
                .map(|p| (p.annotators as f64, p.mean_error, p.standard_error))
                .collect();
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|&(x, y, _)| (x, y)),
                    colour.stroke_width(2),
                ))
                .map_err(drawing_error)?
                .label(*method)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&(x, y, se)| {
                    ErrorBar::new_vertical(x, y - se, y, y + se, colour.filled(), 6)
                }))
                .map_err(drawing_error)?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing_error)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// Writes [`error_vs_annotators_svg`] to `path`, atomically.
pub fn write_error_vs_annotators(path: &Path, experiment: &Experiment, title: &str) -> Result<()> {
    let svg = error_vs_annotators_svg(experiment, title)?;
    crate::io::write_atomic(path, |out| out.write_all(svg.as_bytes()))
}

/// One heatmap: its title, the class names and the row shares
/// `[gold][answer]`.
pub type ConfusionPanel<'a> = (&'a str, &'a [String], &'a [Vec<f64>]);

/// Row-normalised confusion matrices side by side as heatmaps (rows gold,
/// columns given or predicted, darker = larger share, each cell labelled
/// with its share), one per panel.
pub fn confusion_heatmaps_svg(panels: &[ConfusionPanel]) -> Result<String> {
    let size = 360u32;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (size * panels.len().max(1) as u32, size + 20))
                .into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, (title, classes, shares)) in areas.iter().zip(panels) {
            let k = classes.len();
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..k as f64, k as f64..0f64)
                .map_err(drawing_error)?;
            let name = |v: &f64| {
                let c = v.floor() as usize;
                if (*v - c as f64 - 0.5).abs() < 1e-9 && c < k {
                    classes[c].clone()
                } else {
                    String::new()
                }
            };
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("answer (given or predicted)")
                .y_desc("gold")
                .x_labels(2 * k + 1)
                .y_labels(2 * k + 1)
                .x_label_formatter(&name)
                .y_label_formatter(&name)
                .draw()
                .map_err(drawing_error)?;
            chart
                .draw_series(shares.iter().enumerate().flat_map(|(g, row)| {
                    row.iter().enumerate().map(move |(p, &share)| {
                        // Blue scale: white at 0, dark at 1.
                        let shade = (255.0 * (1.0 - share)).round() as u8;
                        Rectangle::new(
                            [(p as f64, g as f64), (p as f64 + 1.0, g as f64 + 1.0)],
                            RGBColor(shade, shade, 255).filled(),
                        )
                    })
                }))
                .map_err(drawing_error)?;
            chart
                .draw_series(shares.iter().enumerate().flat_map(|(g, row)| {
                    row.iter().enumerate().map(move |(p, &share)| {
                        let colour = if share > 0.5 { WHITE } else { BLACK };
                        Text::new(
                            format!("{share:.2}"),
                            (p as f64 + 0.3, g as f64 + 0.4),
                            ("sans-serif", 12).into_font().color(&colour),
                        )
                    })
                }))
                .map_err(drawing_error)?;
        }
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}
