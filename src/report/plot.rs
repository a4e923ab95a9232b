//! Figures (plotters), each rendered as SVG or PNG: the error of each method
//! against the number of annotators (Ground Truth's consolidation notebook),
//! confusion heatmaps, the class distribution, worker accuracy and the
//! calibration curve.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::eval::metrics::CalibrationBin;
use crate::eval::simulate::Experiment;

/// Colours of the series, in order; the single worker is grey.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const GREY: RGBColor = RGBColor(120, 120, 120);

/// A figure that can be drawn on any plotters backend.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws the figure on `root`, which is [`Figure::size`] pixels.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
}

/// A plotters failure, as a write error of the figure.
fn drawing_error(e: impl std::fmt::Display) -> Error {
    Error::Write {
        path: "figure".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Text is laid out with DejaVu Sans, embedded, so that figures look the
/// same on every machine (PNGs need glyphs; SVGs need their widths).
fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans is a valid font"));
    });
}

/// `figure` as an SVG document.
pub fn render_svg(figure: &impl Figure) -> Result<String> {
    register_fonts();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        figure.draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    Ok(svg)
}

/// `figure` as a PNG image (8-bit RGB).
pub fn render_png(figure: &impl Figure) -> Result<Vec<u8>> {
    register_fonts();
    let (width, height) = figure.size();
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing_error)?;
        figure.draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels))
        .map_err(drawing_error)?;
    Ok(png_bytes)
}

/// Writes `figure` to `path` atomically, as SVG or PNG by the extension.
pub fn write(path: &Path, figure: &impl Figure) -> Result<()> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = match extension.as_deref() {
        Some("svg") => render_svg(figure)?.into_bytes(),
        Some("png") => render_png(figure)?,
        _ => {
            return Err(Error::Usage(format!(
            "{}: a figure is written as .svg or .png; name the file with one of these extensions",
            path.display()
        )))
        }
    };
    crate::io::write_atomic(path, |out| out.write_all(&bytes))
}

/// Checks before any work that `path` names a figure format [`write()`] knows.
pub fn check_figure_path(path: &Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("svg") || e.eq_ignore_ascii_case("png") => Ok(()),
        _ => Err(Error::Usage(format!(
            "{}: a figure is written as .svg or .png; name the file with one of these extensions",
            path.display()
        ))),
    }
}

/// Tick labels of categories drawn on `0..k`: category `c` is labelled at
/// `c + 0.5`, other ticks are blank.
fn category_label(names: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |v: &f64| {
        let c = v.floor() as usize;
        if (*v - c as f64 - 0.5).abs() < 1e-9 && c < names.len() {
            names[c].clone()
        } else {
            String::new()
        }
    }
}

/// The notebook's figure: one line per method (mean error, bars of ± one
/// standard error), a dashed single-worker line, a legend.
pub struct ErrorVsAnnotators<'a> {
    /// The results to plot.
    pub experiment: &'a Experiment,
    /// The caption.
    pub title: String,
}

impl Figure for ErrorVsAnnotators<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let experiment = self.experiment;
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
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
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
                GREY.stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("single worker")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY));
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
        Ok(())
    }
}

/// Writes [`ErrorVsAnnotators`] to `path` (SVG or PNG by the extension).
pub fn write_error_vs_annotators(path: &Path, experiment: &Experiment, title: &str) -> Result<()> {
    write(
        path,
        &ErrorVsAnnotators {
            experiment,
            title: title.to_owned(),
        },
    )
}

/// One heatmap: its title, the class names and the row shares
/// `[gold][answer]`.
pub type ConfusionPanel<'a> = (&'a str, &'a [String], &'a [Vec<f64>]);

/// Row-normalised confusion matrices side by side as heatmaps (rows gold,
/// columns given or predicted, darker = larger share, each cell labelled
/// with its share), one per panel.
pub struct ConfusionHeatmaps<'a> {
    /// The heatmaps, left to right.
    pub panels: Vec<ConfusionPanel<'a>>,
}

impl Figure for ConfusionHeatmaps<'_> {
    fn size(&self) -> (u32, u32) {
        (360 * self.panels.len().max(1) as u32, 380)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        for (area, (title, classes, shares)) in areas.iter().zip(&self.panels) {
            let k = classes.len();
            let mut chart = ChartBuilder::on(area)
                .caption(*title, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..k as f64, k as f64..0f64)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc("answer (given or predicted)")
                .y_desc("gold")
                .x_labels(2 * k + 1)
                .y_labels(2 * k + 1)
                .x_label_formatter(&category_label(classes))
                .y_label_formatter(&category_label(classes))
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
        Ok(())
    }
}

/// How often each class occurs in one or more series (e.g. the raw
/// annotations and the consolidated labels), as grouped bars on a linear
/// and on a log axis side by side: the log panel shows the rare classes
/// the linear one flattens.
pub struct ClassDistribution {
    /// Class names, in the order of each series' counts.
    pub classes: Vec<String>,
    /// `(name, count per class)`.
    pub series: Vec<(String, Vec<u64>)>,
}

impl Figure for ClassDistribution {
    fn size(&self) -> (u32, u32) {
        let width = (120 + 24 * self.classes.len() * self.series.len().max(1)).clamp(360, 900);
        (2 * width as u32, 420)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (linear, log) = root.split_horizontally(root.dim_in_pixel().0 / 2);
        let k = self.classes.len();
        let top = self
            .series
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let groups = self.series.len().max(1) as f64;
        // Each class gets 0.8 of its unit width, split among the series.
        let bars = |baseline: f64| {
            self.series
                .iter()
                .enumerate()
                .flat_map(move |(s, (_, counts))| {
                    let colour = PALETTE[s % PALETTE.len()];
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, &n)| n > 0)
                        .map(move |(c, &n)| {
                            let left = c as f64 + 0.1 + 0.8 * s as f64 / groups;
                            Rectangle::new(
                                [(left, baseline), (left + 0.8 / groups, n as f64)],
                                colour.filled(),
                            )
                        })
                })
                .collect::<Vec<_>>()
        };
        {
            let mut chart = ChartBuilder::on(&linear)
                .caption("class distribution", ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(0f64..k as f64, 0f64..top * 1.08)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(2 * k + 1)
                .x_label_formatter(&category_label(&self.classes))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .x_desc("class")
                .y_desc("count")
                .draw()
                .map_err(drawing_error)?;
            chart.draw_series(bars(0.0)).map_err(drawing_error)?;
            for (s, (name, _)) in self.series.iter().enumerate() {
                let colour = PALETTE[s % PALETTE.len()];
                chart
                    .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
                    .map_err(drawing_error)?
                    .label(name.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled())
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(drawing_error)?;
        }
        let mut chart = ChartBuilder::on(&log)
            .caption("class distribution (log scale)", ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..k as f64, (0.5f64..top * 2.0).log_scale())
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(2 * k + 1)
            .x_label_formatter(&category_label(&self.classes))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("class")
            .y_desc("count (log)")
            .draw()
            .map_err(drawing_error)?;
        chart.draw_series(bars(0.5)).map_err(drawing_error)?;
        Ok(())
    }
}

/// Bins of the worker-accuracy histogram over [0, 1].
pub const WORKER_ACCURACY_BINS: usize = 20;

/// How many workers fall in each accuracy bin of width 1/20.
pub fn accuracy_histogram(accuracies: &[f64]) -> Vec<u64> {
    let mut counts = vec![0u64; WORKER_ACCURACY_BINS];
    for &a in accuracies.iter().filter(|a| a.is_finite()) {
        let bin = ((a.clamp(0.0, 1.0) * WORKER_ACCURACY_BINS as f64) as usize)
            .min(WORKER_ACCURACY_BINS - 1);
        counts[bin] += 1;
    }
    counts
}

/// A histogram of the workers' accuracies, with a dashed line at their
/// mean.
pub struct WorkerAccuracy {
    /// One accuracy per worker, in [0, 1]; non-finite ones are not binned.
    pub accuracies: Vec<f64>,
    /// What the accuracy is measured against, for the axis: "gold", or
    /// "the model's estimate".
    pub against: String,
}

impl Figure for WorkerAccuracy {
    fn size(&self) -> (u32, u32) {
        (720, 420)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let counts = accuracy_histogram(&self.accuracies);
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let width = 1.0 / WORKER_ACCURACY_BINS as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("accuracy of {} workers", self.accuracies.len()),
                ("sans-serif", 18),
            )
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..top * 1.1)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(format!("accuracy (against {})", self.against))
            .y_desc("workers")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(drawing_error)?;
        chart
            .draw_series(
                counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(b, &n)| {
                        let left = b as f64 * width;
                        Rectangle::new([(left, 0.0), (left + width, n as f64)], PALETTE[0].filled())
                    }),
            )
            .map_err(drawing_error)?;
        let finite: Vec<f64> = self
            .accuracies
            .iter()
            .copied()
            .filter(|a| a.is_finite())
            .collect();
        if !finite.is_empty() {
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            chart
                .draw_series(DashedLineSeries::new(
                    [(mean, 0.0), (mean, top * 1.1)],
                    6,
                    4,
                    PALETTE[3].stroke_width(2),
                ))
                .map_err(drawing_error)?
                .label(format!("mean {mean:.3}"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], PALETTE[3]));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// The calibration curve (reliability diagram): each non-empty confidence
/// bin's accuracy against its mean confidence, the diagonal of perfect
/// calibration, and below it how many items fall in each bin.
pub struct CalibrationCurve<'a> {
    /// The reliability table's bins.
    pub bins: &'a [CalibrationBin],
    /// Expected calibration error, shown in the caption when known.
    pub ece: Option<f64>,
    /// The caption.
    pub title: String,
}

impl Figure for CalibrationCurve<'_> {
    fn size(&self) -> (u32, u32) {
        (560, 620)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let (curve_area, count_area) = root.split_vertically(440);
        let caption = match self.ece {
            Some(ece) => format!("{} (ECE {ece:.3})", self.title),
            None => self.title.clone(),
        };
        let mut curve = ChartBuilder::on(&curve_area)
            .caption(caption, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(drawing_error)?;
        curve
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("accuracy")
            .draw()
            .map_err(drawing_error)?;
        curve
            .draw_series(DashedLineSeries::new(
                [(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                GREY.stroke_width(1),
            ))
            .map_err(drawing_error)?
            .label("perfect calibration")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY));
        let points: Vec<(f64, f64)> = self
            .bins
            .iter()
            .filter(|b| b.count > 0)
            .map(|b| (b.mean_confidence, b.accuracy))
            .collect();
        curve
            .draw_series(LineSeries::new(
                points.iter().copied(),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(drawing_error)?
            .label("labels")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], PALETTE[0].stroke_width(2)));
        curve
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 4, PALETTE[0].filled())),
            )
            .map_err(drawing_error)?;
        curve
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(drawing_error)?;

        let top = self.bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
        let mut counts = ChartBuilder::on(&count_area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..1f64, (0.5f64..top * 2.0).log_scale())
            .map_err(drawing_error)?;
        counts
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("confidence bin")
            .y_desc("items (log)")
            .y_labels(4)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(drawing_error)?;
        counts
            .draw_series(self.bins.iter().filter(|b| b.count > 0).map(|b| {
                Rectangle::new(
                    [(b.low, 0.5), (b.high, b.count as f64)],
                    PALETTE[0].mix(0.6).filled(),
                )
            }))
            .map_err(drawing_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_bins_cover_the_closed_unit_interval() {
        let counts = accuracy_histogram(&[0.0, 0.04, 0.05, 0.5, 0.99, 1.0, f64::NAN]);
        assert_eq!(counts.iter().sum::<u64>(), 6);
        assert_eq!(counts[0], 2);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[10], 1);
        assert_eq!(counts[19], 2);
    }

    #[test]
    fn png_is_a_png_of_the_figure_size_with_drawn_text() {
        let figure = WorkerAccuracy {
            accuracies: vec![0.5, 0.7, 0.9, 0.9],
            against: "gold".into(),
        };
        let bytes = render_png(&figure).unwrap();
        let decoder = png::Decoder::new(bytes.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), figure.size());
        // The caption's glyphs are black on white: some pixels are dark.
        let caption_rows = &pixels[..info.width as usize * 3 * 40];
        assert!(caption_rows.chunks(3).any(|p| p.iter().all(|&c| c < 60)));
    }
}
