//! Figures (plotters), each rendered as SVG or PNG: the error of each method
//! against the number of annotators (Ground Truth's consolidation notebook),
//! confusion heatmaps, the class distribution, worker accuracy and the
//! calibration curve.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{Error, Result};
use crate::eval::metrics::CalibrationBin;
use crate::eval::simulate::Experiment;

/// Colours of the series, in order (matplotlib's tab10 without its grey:
/// the single worker is grey).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
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

/// The report page's text column, in CSS pixels: `html.rs` makes it the
/// body's `max-width`. No figure is wider, so the page shows every figure
/// at its own size and its text at the sizes below.
pub const PAGE_WIDTH: u32 = 1100;

// Text sizes in the pixels an SVG's `font-size` and a browser use; the
// page's body text is 16 px, its figure captions 14.4 px.
const TITLE_PX: f64 = 18.0;
const AXIS_PX: f64 = 16.0;
const TICK_PX: f64 = 15.0;
const CELL_PX: f64 = 14.0;
/// plotters sizes a font by its line height; its SVG backend writes
/// `size / 1.24` as the `font-size`.
const PLOTTERS_SIZE_PER_PX: f64 = 1.24;

/// Space around each chart.
const MARGIN: u32 = 12;
/// plotters sets tick labels twice its 5-pixel tick mark from the axis.
const TICK_GAP: u32 = 10;
/// Between tick labels and the axis title.
const GAP: u32 = 8;

/// DejaVu Sans at `px` pixels (the SVG's `font-size`).
fn font(px: f64) -> FontDesc<'static> {
    ("sans-serif", px * PLOTTERS_SIZE_PER_PX).into_font()
}

/// The pixels a line of text at `px` takes from top to bottom.
fn line_height(px: f64) -> u32 {
    (px * PLOTTERS_SIZE_PER_PX).ceil() as u32
}

/// The width of `text` at `px`, in pixels, as DejaVu Sans sets it (a
/// little over: plotters measures at the line height). DejaVu is among the
/// wider sans-serif faces, so a browser's usually takes no more room.
fn text_width(text: &str, px: f64) -> u32 {
    register_fonts();
    font(px)
        .box_size(text)
        .map_or((text.chars().count() as f64 * px * 0.7) as u32, |(w, _)| w)
}

/// The width of the widest of `texts` at `px`.
fn widest<'a>(texts: impl IntoIterator<Item = &'a str>, px: f64) -> u32 {
    texts
        .into_iter()
        .map(|t| text_width(t, px))
        .max()
        .unwrap_or(0)
}

/// The width of a y label area: tick labels up to `widest_label` pixels
/// wide, then the rotated axis title.
fn y_label_area(widest_label: u32) -> u32 {
    TICK_GAP + widest_label + GAP + line_height(AXIS_PX)
}

/// The height of an x label area: tick labels `label_height` tall, then the
/// axis title (if any).
fn x_label_area(label_height: u32, title: bool) -> u32 {
    TICK_GAP + label_height + if title { GAP + line_height(AXIS_PX) } else { 0 }
}

/// How a legend entry is drawn before its name.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    /// A solid line, as a series' line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled square, as a series' bars.
    Bar(RGBColor),
}

/// A legend, drawn in its own strip above the charts, so that it never
/// covers data: entries side by side, as many rows as the width needs, in
/// a grey box.
struct Legend {
    entries: Vec<(String, Swatch)>,
}

const LEGEND_PX: f64 = TICK_PX;
const SWATCH_WIDTH: u32 = 28;
const SWATCH_GAP: u32 = 8;
const ENTRY_GAP: u32 = 24;
const LEGEND_PADDING: u32 = 8;
/// The legend box's border.
const LEGEND_BORDER: RGBColor = RGBColor(160, 160, 160);

impl Legend {
    fn entry_width(&self, i: usize) -> u32 {
        SWATCH_WIDTH + SWATCH_GAP + text_width(&self.entries[i].0, LEGEND_PX)
    }

    fn row_height() -> u32 {
        line_height(LEGEND_PX) + 6
    }

    /// The entries row by row (their indices), each row no wider than
    /// `width` inside the padding.
    fn rows(&self, width: u32) -> Vec<Vec<usize>> {
        let room = width.saturating_sub(2 * LEGEND_PADDING);
        let mut rows: Vec<Vec<usize>> = Vec::new();
        let mut used = 0;
        for i in 0..self.entries.len() {
            let w = self.entry_width(i);
            match rows.last_mut() {
                Some(row) if used + ENTRY_GAP + w <= room => {
                    row.push(i);
                    used += ENTRY_GAP + w;
                }
                _ => {
                    rows.push(vec![i]);
                    used = w;
                }
            }
        }
        rows
    }

    fn row_width(&self, row: &[usize]) -> u32 {
        row.iter().map(|&i| self.entry_width(i)).sum::<u32>()
            + ENTRY_GAP * row.len().saturating_sub(1) as u32
    }

    /// The legend box's size when laid out in `width`.
    fn size(&self, width: u32) -> (u32, u32) {
        let rows = self.rows(width);
        let inner = rows.iter().map(|r| self.row_width(r)).max().unwrap_or(0);
        (
            inner + 2 * LEGEND_PADDING,
            rows.len() as u32 * Self::row_height() + 2 * LEGEND_PADDING - 6,
        )
    }

    /// Draws the box centred across `area`, its top `top` pixels down.
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, top: i32) -> Result<()> {
        let width = area.dim_in_pixel().0;
        let (w, h) = self.size(width);
        let left = (width as i32 - w as i32) / 2;
        area.draw(&Rectangle::new(
            [(left, top), (left + w as i32, top + h as i32)],
            LEGEND_BORDER.stroke_width(1),
        ))
        .map_err(drawing_error)?;
        let text = font(LEGEND_PX)
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (r, row) in self.rows(width).iter().enumerate() {
            let mut x = left + LEGEND_PADDING as i32;
            let y = top
                + LEGEND_PADDING as i32
                + (r as u32 * Self::row_height()) as i32
                + line_height(LEGEND_PX) as i32 / 2;
            for &i in row {
                let (name, swatch) = &self.entries[i];
                let end = x + SWATCH_WIDTH as i32;
                match *swatch {
                    Swatch::Line(c) => {
                        area.draw(&PathElement::new([(x, y), (end, y)], c.stroke_width(2)))
                    }
                    Swatch::Dashed(c) => {
                        for dash in [x, x + 11, x + 22] {
                            area.draw(&PathElement::new(
                                [(dash, y), ((dash + 6).min(end), y)],
                                c.stroke_width(2),
                            ))
                            .map_err(drawing_error)?;
                        }
                        Ok(())
                    }
                    Swatch::Bar(c) => area.draw(&Rectangle::new(
                        [(x + 7, y - 7), (x + 21, y + 7)],
                        c.filled(),
                    )),
                }
                .map_err(drawing_error)?;
                area.draw(&Text::new(
                    name.clone(),
                    (end + SWATCH_GAP as i32, y),
                    text.clone(),
                ))
                .map_err(drawing_error)?;
                x += self.entry_width(i) as i32 + ENTRY_GAP as i32;
            }
        }
        Ok(())
    }
}

/// The height of a figure's header: its title and its legend.
fn header_height(legend: Option<&Legend>, width: u32) -> u32 {
    let title = MARGIN + line_height(TITLE_PX);
    match legend {
        Some(legend) => title + GAP + legend.size(width).1,
        None => title,
    }
}

/// Draws `title` centred at the top of `area` and `legend` below it;
/// returns the area left for the charts.
fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    legend: Option<&Legend>,
) -> Result<DrawingArea<DB, Shift>> {
    draw_header_at(area, title, legend, area.dim_in_pixel().0 as i32 / 2)
}

/// [`draw_header`] with the title centred on `centre` pixels from the left.
fn draw_header_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    legend: Option<&Legend>,
    centre: i32,
) -> Result<DrawingArea<DB, Shift>> {
    let width = area.dim_in_pixel().0;
    area.draw(&Text::new(
        title.to_owned(),
        (centre, MARGIN as i32),
        font(TITLE_PX)
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(drawing_error)?;
    if let Some(legend) = legend {
        legend.draw(area, (MARGIN + line_height(TITLE_PX) + GAP) as i32)?;
    }
    Ok(area.split_vertically(header_height(legend, width)).1)
}

/// Category names under an x axis of `k` equal slots `slot` pixels wide:
/// side by side where each fits its slot, else turned to read upwards,
/// and then only every `step`-th where a line of text is wider than a
/// slot.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CategoryLabels {
    upright: bool,
    step: usize,
    /// How far the labels reach below the axis, the gap included.
    height: u32,
}

impl CategoryLabels {
    fn new(names: &[String], slot: f64) -> Self {
        let widest = widest(names.iter().map(String::as_str), TICK_PX);
        let upright = widest as f64 + 6.0 > slot;
        let line = line_height(TICK_PX) as f64;
        let step = if upright {
            (line / slot.max(1.0)).ceil().max(1.0) as usize
        } else {
            1
        };
        CategoryLabels {
            upright,
            step,
            height: if upright { widest } else { line as u32 },
        }
    }

    /// Draws `names[c]` under `centre(c)` (absolute pixels), `top` being
    /// the bottom of the plotting area, on `area`.
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        names: &[String],
        top: i32,
        centre: impl Fn(usize) -> i32,
    ) -> Result<()> {
        let (bx, by) = area.get_base_pixel();
        let y = top + TICK_GAP as i32 - by;
        let style = if self.upright {
            font(TICK_PX)
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(Pos::new(HPos::Right, VPos::Center))
        } else {
            font(TICK_PX)
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Top))
        };
        for (c, name) in names.iter().enumerate().step_by(self.step) {
            area.draw(&Text::new(name.clone(), (centre(c) - bx, y), style.clone()))
                .map_err(drawing_error)?;
        }
        Ok(())
    }
}

/// Tick labels of categories drawn on `0..k`: every `step`-th category
/// `c` is labelled at `c + 0.5`, other ticks are blank.
fn category_label(names: &[String], step: usize) -> impl Fn(&f64) -> String + '_ {
    move |v: &f64| {
        let c = v.floor() as usize;
        if (*v - c as f64 - 0.5).abs() < 1e-9 && c < names.len() && c % step == 0 {
            names[c].clone()
        } else {
            String::new()
        }
    }
}

/// An axis of counts from 0 whose ticks are whole numbers: the axis' end,
/// a tick above `max`, and how many ticks to ask plotters for. plotters
/// picks the finest step of 1, 2 or 5 × 10ⁿ that gives at most that many
/// ticks; asking for exactly as many as a whole step gives rules out the
/// finer, fractional ones.
fn count_axis(max: u64) -> (f64, usize) {
    let max = max.max(1);
    let mut step = 1u64;
    'search: loop {
        for m in [1, 2, 5] {
            if max / (m * step) < 8 {
                step *= m;
                break 'search;
            }
        }
        step *= 10;
    }
    let ticks = max / step + 2;
    (((ticks - 1) * step) as f64, ticks as usize)
}

/// A whole number as a tick label; other values (none are asked for) are
/// left blank.
fn whole_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        String::new()
    }
}

/// The notebook's figure: one line per method (mean error, bars of ± one
/// standard error), a dashed single-worker line, a legend above the chart.
pub struct ErrorVsAnnotators<'a> {
    /// The results to plot.
    pub experiment: &'a Experiment,
    /// The caption.
    pub title: String,
}

impl ErrorVsAnnotators<'_> {
    fn methods(&self) -> Vec<&str> {
        let mut methods: Vec<&str> = Vec::new();
        for p in &self.experiment.points {
            if !methods.contains(&p.method.as_str()) {
                methods.push(&p.method);
            }
        }
        methods
    }

    fn legend(&self) -> Legend {
        let mut entries = vec![("single worker".to_owned(), Swatch::Dashed(GREY))];
        for (m, method) in self.methods().iter().enumerate() {
            entries.push((
                (*method).to_owned(),
                Swatch::Line(PALETTE[m % PALETTE.len()]),
            ));
        }
        Legend { entries }
    }
}

impl Figure for ErrorVsAnnotators<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 480)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let experiment = self.experiment;
        let legend = self.legend();
        let area = draw_header(root, &self.title, Some(&legend))?;
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
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .x_label_area_size(x_label_area(line_height(TICK_PX), true))
            .y_label_area_size(y_label_area(text_width("0.000", TICK_PX)))
            .build_cartesian_2d(0.5f64..max_r as f64 + 0.5, 0f64..(top * 1.1).max(1e-3))
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .label_style(font(TICK_PX))
            .axis_desc_style(font(AXIS_PX))
            .x_desc("annotators per item")
            .y_desc("error against gold")
            // At most 12 ticks: a step of 1 up to 12 annotators, then 2 or 5.
            .x_labels(max_r.min(12))
            .x_label_formatter(&whole_label)
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
            .map_err(drawing_error)?;
        for (m, method) in self.methods().iter().enumerate() {
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
                .map_err(drawing_error)?;
            chart
                .draw_series(points.iter().map(|&(x, y, se)| {
                    ErrorBar::new_vertical(x, y - se, y, y + se, colour.filled(), 6)
                }))
                .map_err(drawing_error)?;
        }
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

/// Row-normalised confusion matrices as heatmaps (rows gold, columns
/// given or predicted, darker = larger share, each cell labelled with its
/// share where it has room), one per panel, side by side as far as the
/// page's width allows and then on further rows.
pub struct ConfusionHeatmaps<'a> {
    /// The heatmaps, left to right.
    pub panels: Vec<ConfusionPanel<'a>>,
}

/// Where the heatmaps go: the sizes [`ConfusionHeatmaps`] draws with.
#[derive(Debug, Clone, PartialEq)]
struct HeatmapLayout {
    /// Side of a cell, pixels.
    cell: u32,
    /// Whether each cell has room for its share.
    shares_fit: bool,
    /// Every `y_step`-th class is named on the y axis.
    y_step: usize,
    x_labels: CategoryLabels,
    y_area: u32,
    x_area: u32,
    /// One panel's size, title included.
    panel: (u32, u32),
    columns: usize,
    rows: usize,
}

/// A heatmap's plotting area aims at this side when its cells have room.
const HEATMAP_SIDE: u32 = 300;

impl ConfusionHeatmaps<'_> {
    fn layout(&self) -> HeatmapLayout {
        let k = self
            .panels
            .iter()
            .map(|p| p.1.len())
            .max()
            .unwrap_or(1)
            .max(1) as u32;
        let names: Vec<String> = self
            .panels
            .iter()
            .max_by_key(|p| p.1.len())
            .map_or_else(Vec::new, |p| p.1.to_vec());
        let y_area = y_label_area(widest(names.iter().map(String::as_str), TICK_PX));
        let share = text_width("0.00", CELL_PX) + 8;
        let labels = 2 * MARGIN + y_area;
        // As many panels side by side as fit with cells just big enough
        // for their shares; then cells as big as that row allows, up to
        // the preferred side.
        let n = self.panels.len().max(1);
        let smallest = share.min(PAGE_WIDTH.saturating_sub(labels) / k).max(1);
        let columns = ((PAGE_WIDTH / (labels + k * smallest)) as usize).clamp(1, n);
        let room = (PAGE_WIDTH / columns as u32).saturating_sub(labels) / k;
        let cell = share.max(HEATMAP_SIDE / k).min(room).max(1);
        let line = line_height(TICK_PX);
        let x_labels = CategoryLabels::new(&names, cell as f64);
        let x_area = x_label_area(x_labels.height, true);
        let panel = (
            2 * MARGIN + y_area + k * cell,
            MARGIN + line_height(TITLE_PX) + 2 * MARGIN + k * cell + x_area,
        );
        HeatmapLayout {
            cell,
            shares_fit: cell >= share && cell >= line_height(CELL_PX),
            y_step: line.div_ceil(cell) as usize,
            x_labels,
            y_area,
            x_area,
            panel,
            columns,
            rows: n.div_ceil(columns),
        }
    }
}

impl Figure for ConfusionHeatmaps<'_> {
    fn size(&self) -> (u32, u32) {
        let layout = self.layout();
        (
            layout.columns as u32 * layout.panel.0,
            layout.rows as u32 * layout.panel.1,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let layout = self.layout();
        let areas = root.split_evenly((layout.rows, layout.columns));
        for (area, (title, classes, shares)) in areas.iter().zip(&self.panels) {
            let k = classes.len();
            // The title is centred on the heatmap, not on its labels.
            let centre = MARGIN + layout.y_area + k as u32 * layout.cell / 2;
            let area = draw_header_at(area, title, None, centre as i32)?;
            let mut chart = ChartBuilder::on(&area)
                .margin(MARGIN)
                .x_label_area_size(layout.x_area)
                .y_label_area_size(layout.y_area)
                .build_cartesian_2d(0f64..k as f64, k as f64..0f64)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .label_style(font(TICK_PX))
                .axis_desc_style(font(AXIS_PX))
                .x_desc("answer (given or predicted)")
                .y_desc("gold")
                .x_labels(2 * k + 1)
                .y_labels(2 * k + 1)
                // The x names are drawn below, upright where they need it.
                .x_label_formatter(&|_| String::new())
                .y_label_formatter(&category_label(classes, layout.y_step))
                .draw()
                .map_err(drawing_error)?;
            let bottom = chart.plotting_area().get_pixel_range().1.end;
            layout.x_labels.draw(&area, classes, bottom, |c| {
                chart.backend_coord(&(c as f64 + 0.5, 0.0)).0
            })?;
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
            if layout.shares_fit {
                chart
                    .draw_series(shares.iter().enumerate().flat_map(|(g, row)| {
                        row.iter().enumerate().map(move |(p, &share)| {
                            let colour = if share > 0.5 { WHITE } else { BLACK };
                            Text::new(
                                format!("{share:.2}"),
                                (p as f64 + 0.5, g as f64 + 0.5),
                                font(CELL_PX)
                                    .color(&colour)
                                    .pos(Pos::new(HPos::Center, VPos::Center)),
                            )
                        })
                    }))
                    .map_err(drawing_error)?;
            }
        }
        Ok(())
    }
}

/// How often each class occurs in one or more series (e.g. the raw
/// annotations and the consolidated labels), as grouped bars on a linear
/// axis and below it on a log axis: the log panel shows the rare classes
/// the linear one flattens.
pub struct ClassDistribution {
    /// Class names, in the order of each series' counts.
    pub classes: Vec<String>,
    /// `(name, count per class)`.
    pub series: Vec<(String, Vec<u64>)>,
}

/// Height of each of the distribution's plotting areas.
const DISTRIBUTION_PLOT_HEIGHT: u32 = 240;

impl ClassDistribution {
    fn legend(&self) -> Legend {
        Legend {
            entries: self
                .series
                .iter()
                .enumerate()
                .map(|(s, (name, _))| (name.clone(), Swatch::Bar(PALETTE[s % PALETTE.len()])))
                .collect(),
        }
    }

    fn top(&self) -> u64 {
        self.series
            .iter()
            .flat_map(|(_, c)| c.iter().copied())
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// The y label area (the widest count) and the x labels of a panel
    /// `width` wide.
    fn axes(&self, width: u32) -> (u32, CategoryLabels) {
        let (end, _) = count_axis(self.top());
        let y_area = y_label_area(text_width(&format!("{end:.0}"), TICK_PX));
        let k = self.classes.len().max(1) as f64;
        let slot = width.saturating_sub(2 * MARGIN + y_area) as f64 / k;
        (y_area, CategoryLabels::new(&self.classes, slot))
    }

    fn panel_height(&self, width: u32) -> u32 {
        let (_, labels) = self.axes(width);
        2 * MARGIN + DISTRIBUTION_PLOT_HEIGHT + x_label_area(labels.height, true)
    }
}

impl Figure for ClassDistribution {
    fn size(&self) -> (u32, u32) {
        // Each class gets room for its bars and, if it can, its name.
        let bars = 24 * self.series.len().max(1) as u32 + 12;
        let name = widest(self.classes.iter().map(String::as_str), TICK_PX) + 12;
        let (y_area, _) = self.axes(PAGE_WIDTH);
        let width = (2 * MARGIN + y_area + self.classes.len() as u32 * bars.max(name))
            .clamp(560, PAGE_WIDTH);
        let header = header_height(Some(&self.legend()), width);
        (width, header + 2 * self.panel_height(width))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let width = root.dim_in_pixel().0;
        let area = draw_header(root, "class distribution", Some(&self.legend()))?;
        let (linear, log) = area.split_vertically(self.panel_height(width));
        let (y_area, labels) = self.axes(width);
        let k = self.classes.len();
        let (end, ticks) = count_axis(self.top());
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
                .margin(MARGIN)
                .x_label_area_size(x_label_area(labels.height, true))
                .y_label_area_size(y_area)
                .build_cartesian_2d(0f64..k as f64, 0f64..end)
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .label_style(font(TICK_PX))
                .axis_desc_style(font(AXIS_PX))
                .x_labels(2 * k + 1)
                .x_label_formatter(&|_| String::new())
                .y_labels(ticks)
                .y_label_formatter(&whole_label)
                .x_desc("class")
                .y_desc("count")
                .draw()
                .map_err(drawing_error)?;
            chart.draw_series(bars(0.0)).map_err(drawing_error)?;
            let bottom = chart.plotting_area().get_pixel_range().1.end;
            labels.draw(&linear, &self.classes, bottom, |c| {
                chart.backend_coord(&(c as f64 + 0.5, 0.0)).0
            })?;
        }
        let mut chart = ChartBuilder::on(&log)
            .margin(MARGIN)
            .x_label_area_size(x_label_area(labels.height, true))
            .y_label_area_size(y_area)
            .build_cartesian_2d(
                0f64..k as f64,
                (0.5f64..self.top() as f64 * 2.0).log_scale(),
            )
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(font(TICK_PX))
            .axis_desc_style(font(AXIS_PX))
            .x_labels(2 * k + 1)
            .x_label_formatter(&|_| String::new())
            .y_label_formatter(&whole_label)
            .x_desc("class")
            .y_desc("count (log scale)")
            .draw()
            .map_err(drawing_error)?;
        chart.draw_series(bars(0.5)).map_err(drawing_error)?;
        let bottom = chart.plotting_area().get_pixel_range().1.end;
        labels.draw(&log, &self.classes, bottom, |c| {
            chart.backend_coord(&(c as f64 + 0.5, 1.0)).0
        })?;
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

impl WorkerAccuracy {
    fn mean(&self) -> Option<f64> {
        let finite: Vec<f64> = self
            .accuracies
            .iter()
            .copied()
            .filter(|a| a.is_finite())
            .collect();
        (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
    }
}

impl Figure for WorkerAccuracy {
    fn size(&self) -> (u32, u32) {
        (720, 440)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let counts = accuracy_histogram(&self.accuracies);
        let (end, ticks) = count_axis(counts.iter().copied().max().unwrap_or(1));
        let width = 1.0 / WORKER_ACCURACY_BINS as f64;
        let mean = self.mean();
        let legend = mean.map(|mean| Legend {
            entries: vec![(format!("mean {mean:.3}"), Swatch::Dashed(PALETTE[3]))],
        });
        let area = draw_header(
            root,
            &format!("accuracy of {} workers", self.accuracies.len()),
            legend.as_ref(),
        )?;
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .x_label_area_size(x_label_area(line_height(TICK_PX), true))
            .y_label_area_size(y_label_area(text_width(&format!("{end:.0}"), TICK_PX)))
            .build_cartesian_2d(0f64..1f64, 0f64..end)
            .map_err(drawing_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .label_style(font(TICK_PX))
            .axis_desc_style(font(AXIS_PX))
            .x_desc(format!("accuracy (against {})", self.against))
            .y_desc("workers")
            .y_labels(ticks)
            .y_label_formatter(&whole_label)
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
        if let Some(mean) = mean {
            chart
                .draw_series(DashedLineSeries::new(
                    [(mean, 0.0), (mean, end)],
                    6,
                    4,
                    PALETTE[3].stroke_width(2),
                ))
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
    /// Another confidence's bins and ECE to draw beside it (before and
    /// after calibration, say), with the two series' names.
    pub compare: Option<CalibrationCompare<'a>>,
    /// The caption.
    pub title: String,
}

/// The second series of a [`CalibrationCurve`].
pub struct CalibrationCompare<'a> {
    /// Its bins, drawn dashed.
    pub bins: &'a [CalibrationBin],
    /// Its ECE, in the legend.
    pub ece: Option<f64>,
    /// Its name in the legend.
    pub name: String,
    /// The main series' name in the legend.
    pub main_name: String,
}

impl Figure for CalibrationCurve<'_> {
    fn size(&self) -> (u32, u32) {
        (560, 740)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let with_ece = |name: &str, ece: Option<f64>| match ece {
            Some(ece) => format!("{name} (ECE {ece:.3})"),
            None => name.to_owned(),
        };
        let caption = match &self.compare {
            None => with_ece(&self.title, self.ece),
            Some(_) => self.title.clone(),
        };
        let mut entries = vec![("perfect calibration".to_owned(), Swatch::Dashed(GREY))];
        match &self.compare {
            None => entries.push(("labels".to_owned(), Swatch::Line(PALETTE[0]))),
            Some(other) => {
                entries.push((with_ece(&other.name, other.ece), Swatch::Line(PALETTE[3])));
                entries.push((
                    with_ece(&other.main_name, self.ece),
                    Swatch::Line(PALETTE[0]),
                ));
            }
        }
        let legend = Legend { entries };
        let area = draw_header(root, &caption, Some(&legend))?;
        let (curve_area, count_area) = area.split_vertically(area.dim_in_pixel().1 - 220);
        let y_area = y_label_area(text_width("1000", TICK_PX));
        let x_area = x_label_area(line_height(TICK_PX), true);
        let mut curve = ChartBuilder::on(&curve_area)
            .margin(MARGIN)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(drawing_error)?;
        curve
            .configure_mesh()
            .label_style(font(TICK_PX))
            .axis_desc_style(font(AXIS_PX))
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
            .map_err(drawing_error)?;
        let points_of = |bins: &[CalibrationBin]| -> Vec<(f64, f64)> {
            bins.iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.mean_confidence, b.accuracy))
                .collect()
        };
        if let Some(other) = &self.compare {
            let points = points_of(other.bins);
            curve
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    PALETTE[3].stroke_width(2),
                ))
                .map_err(drawing_error)?;
            curve
                .draw_series(
                    points
                        .iter()
                        .map(|&p| Circle::new(p, 4, PALETTE[3].filled())),
                )
                .map_err(drawing_error)?;
        }
        let points = points_of(self.bins);
        curve
            .draw_series(LineSeries::new(
                points.iter().copied(),
                PALETTE[0].stroke_width(2),
            ))
            .map_err(drawing_error)?;
        curve
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 4, PALETTE[0].filled())),
            )
            .map_err(drawing_error)?;

        let top = self.bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
        let mut counts = ChartBuilder::on(&count_area)
            .margin(MARGIN)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(0f64..1f64, (0.5f64..top * 2.0).log_scale())
            .map_err(drawing_error)?;
        counts
            .configure_mesh()
            .disable_x_mesh()
            .label_style(font(TICK_PX))
            .axis_desc_style(font(AXIS_PX))
            .x_desc("confidence bin")
            .y_desc("items (log)")
            .y_labels(4)
            .y_label_formatter(&whole_label)
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
    use crate::eval::simulate::Point;

    /// A `<text>` element as plotters' SVG backend writes it: the tag on
    /// one line, the text on the next.
    #[derive(Debug)]
    struct SvgText {
        x: f64,
        y: f64,
        anchor: String,
        dy: String,
        size: f64,
        upright: bool,
        content: String,
    }

    /// `(left, top, right, bottom)` in pixels.
    type Bounds = (f64, f64, f64, f64);

    fn attr(tag: &str, name: &str) -> Option<String> {
        let rest = tag.split(&format!(" {name}=\"")).nth(1)?;
        Some(rest.split('"').next()?.to_owned())
    }

    fn number(tag: &str, name: &str) -> f64 {
        attr(tag, name).unwrap().parse().unwrap()
    }

    fn texts(svg: &str) -> Vec<SvgText> {
        let lines: Vec<&str> = svg.lines().collect();
        lines
            .iter()
            .enumerate()
            // Blank tick labels are empty elements: they draw nothing.
            .filter(|(i, l)| l.starts_with("<text") && !lines[i + 1].is_empty())
            .map(|(i, tag)| SvgText {
                x: number(tag, "x"),
                y: number(tag, "y"),
                anchor: attr(tag, "text-anchor").unwrap(),
                dy: attr(tag, "dy").unwrap(),
                size: number(tag, "font-size"),
                upright: attr(tag, "transform").is_some_and(|t| t.starts_with("rotate(270")),
                content: lines[i + 1].to_owned(),
            })
            .collect()
    }

    impl SvgText {
        /// The box the text covers: its width in DejaVu at its size along
        /// the text, 1.2 em across it, placed by its anchor, its `dy` and
        /// its rotation.
        fn bounds(&self) -> Bounds {
            let along = text_width(&self.content, self.size) as f64;
            let across = 1.2 * self.size;
            let (start, end) = match self.anchor.as_str() {
                "start" => (0.0, along),
                "end" => (-along, 0.0),
                _ => (-along / 2.0, along / 2.0),
            };
            let (above, below) = match self.dy.as_str() {
                "0.76em" => (0.0, across),
                "0.5ex" => (-across / 2.0, across / 2.0),
                _ => (-across, 0.0),
            };
            if self.upright {
                // rotate(270): along the text is up the page.
                (self.x + above, self.y - end, self.x + below, self.y - start)
            } else {
                (self.x + start, self.y + above, self.x + end, self.y + below)
            }
        }
    }

    /// `<rect>`s: their box and fill.
    fn rects(svg: &str) -> Vec<(Bounds, String)> {
        svg.lines()
            .filter(|l| l.starts_with("<rect"))
            .map(|l| {
                let (x, y) = (number(l, "x"), number(l, "y"));
                let (w, h) = (number(l, "width"), number(l, "height"));
                ((x, y, x + w, y + h), attr(l, "fill").unwrap())
            })
            .collect()
    }

    fn overlap(a: Bounds, b: Bounds) -> bool {
        // One pixel of slack for rounding.
        a.0 + 1.0 < b.2 && b.0 + 1.0 < a.2 && a.1 + 1.0 < b.3 && b.1 + 1.0 < a.3
    }

    fn inside(p: (f64, f64), b: Bounds) -> bool {
        b.0 <= p.0 && p.0 <= b.2 && b.1 <= p.1 && p.1 <= b.3
    }

    /// The smallest rectangle, short of the whole figure, around the
    /// anchor of the text `label`: the legend's box.
    fn legend_box(svg: &str, label: &str, figure: (u32, u32)) -> Bounds {
        let text = texts(svg)
            .into_iter()
            .find(|t| t.content == label)
            .unwrap_or_else(|| panic!("no text {label:?}"));
        rects(svg)
            .into_iter()
            .map(|(b, _)| b)
            .filter(|&b| inside((text.x, text.y), b))
            .filter(|b| (b.2 - b.0, b.3 - b.1) != (figure.0 as f64, figure.1 as f64))
            .min_by(|a, b| ((a.2 - a.0) * (a.3 - a.1)).total_cmp(&((b.2 - b.0) * (b.3 - b.1))))
            .unwrap_or_else(|| panic!("no box around {label:?}"))
    }

    fn hex_colour(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    /// Ten birds, as the demo dataset has.
    fn birds() -> Vec<String> {
        [
            "eagle", "falcon", "finch", "hawk", "heron", "macaw", "owl", "parrot", "sparrow",
            "stork",
        ]
        .map(String::from)
        .to_vec()
    }

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

    #[test]
    fn legend_leaves_the_last_points_of_error_vs_annotators_visible() {
        // The dog experiment's shape: errors fall from the single worker's
        // to half of it, so the last points sit at the middle right.
        let mut points = Vec::new();
        for r in 1..=10 {
            for (m, method) in ["mv", "ds", "mds"].iter().enumerate() {
                let mean_error = 0.30 - 0.015 * r as f64 + 0.01 * m as f64;
                points.push(Point {
                    annotators: r,
                    method: (*method).to_owned(),
                    mean_error,
                    standard_error: 0.003,
                    errors: vec![mean_error],
                });
            }
        }
        let experiment = Experiment {
            single_worker_error: 0.3036,
            gold_items: 807,
            points,
        };
        let figure = ErrorVsAnnotators {
            experiment: &experiment,
            title: "dog: error against gold by annotators per item".into(),
        };
        let svg = render_svg(&figure).unwrap();
        let legend = legend_box(&svg, "single worker", figure.size());
        for method in ["mv", "ds", "mds"] {
            assert!(texts(&svg).iter().any(|t| t.content == method), "{method}");
        }
        // Every point (the error bars' centres) and every vertex of the
        // methods' lines lies outside the legend's box.
        let circles: Vec<(f64, f64, f64)> = svg
            .lines()
            .filter(|l| l.starts_with("<circle"))
            .map(|l| (number(l, "cx"), number(l, "cy"), number(l, "r")))
            .collect();
        assert_eq!(circles.len(), 30);
        for (x, y, r) in circles {
            assert!(
                !overlap((x - r, y - r, x + r, y + r), legend),
                "point ({x}, {y}) under the legend {legend:?}"
            );
        }
        let colours: Vec<String> = PALETTE[..3].iter().map(|&c| hex_colour(c)).collect();
        let mut vertices = 0;
        for line in svg.lines().filter(|l| l.starts_with("<polyline")) {
            let stroke = attr(line, "stroke").unwrap();
            let points: Vec<(f64, f64)> = attr(line, "points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect();
            if colours.contains(&stroke) && points.len() == 10 {
                vertices += points.len();
                for p in points {
                    assert!(!inside(p, legend), "{p:?} under the legend {legend:?}");
                }
            }
        }
        assert_eq!(vertices, 30, "three lines of ten points");
    }

    #[test]
    fn legend_leaves_every_bar_of_the_class_distribution_visible() {
        // The demo's counts: stork, the last class, has many annotations.
        let figure = ClassDistribution {
            classes: birds(),
            series: vec![
                (
                    "annotations".into(),
                    vec![77, 110, 72, 66, 84, 96, 106, 91, 105, 93],
                ),
                (
                    "labels (hds)".into(),
                    vec![23, 32, 17, 28, 24, 20, 39, 44, 40, 33],
                ),
                ("gold".into(), vec![26, 38, 24, 21, 25, 34, 31, 34, 36, 31]),
            ],
        };
        let svg = render_svg(&figure).unwrap();
        let legend = legend_box(&svg, "annotations", figure.size());
        let colours: Vec<String> = PALETTE[..3].iter().map(|&c| hex_colour(c)).collect();
        let bars: Vec<Bounds> = rects(&svg)
            .into_iter()
            .filter(|(_, fill)| colours.contains(fill))
            .map(|(b, _)| b)
            .collect();
        // 30 bars in each panel, and a swatch per series in the legend.
        assert_eq!(bars.len(), 63);
        let swatches = bars.iter().filter(|&&b| overlap(b, legend)).count();
        assert_eq!(swatches, 3, "only the legend's swatches are in its box");
        for b in &bars {
            let swatch = b.2 - b.0 <= 14.0 && b.3 - b.1 <= 14.0;
            assert!(swatch || !overlap(*b, legend), "bar {b:?} under {legend:?}");
        }
    }

    #[test]
    fn confusion_labels_of_ten_classes_do_not_overlap() {
        let classes = birds();
        let shares: Vec<Vec<f64>> = (0..10)
            .map(|g| (0..10).map(|p| if g == p { 0.82 } else { 0.02 }).collect())
            .collect();
        for panels in [1, 2, 3] {
            let figure = ConfusionHeatmaps {
                panels: ["raw annotations", "mv", "hds"][..panels]
                    .iter()
                    .map(|&t| (t, classes.as_slice(), shares.as_slice()))
                    .collect(),
            };
            let svg = render_svg(&figure).unwrap();
            let texts = texts(&svg);
            let names = texts.iter().filter(|t| classes.contains(&t.content));
            assert_eq!(names.count(), 20 * panels, "each class on both axes");
            assert_eq!(heatmap_share_count(&svg), 100 * panels);
            // No two texts overlap: class names, axis titles, panel titles
            // and the cells' shares; and all lie within the figure.
            let (w, h) = figure.size();
            for (i, a) in texts.iter().enumerate() {
                let ab = a.bounds();
                assert!(
                    ab.0 >= -1.0
                        && ab.1 >= -1.0
                        && ab.2 <= w as f64 + 1.0
                        && ab.3 <= h as f64 + 1.0,
                    "{a:?} outside the figure"
                );
                for b in &texts[i + 1..] {
                    assert!(!overlap(ab, b.bounds()), "{a:?} overlaps {b:?}");
                }
            }
        }
    }

    /// How many cells' shares (`0.xx`) an SVG holds.
    fn heatmap_share_count(svg: &str) -> usize {
        svg.lines()
            .filter(|l| l.len() == 4 && l.as_bytes()[1] == b'.')
            .count()
    }

    #[test]
    fn a_histogram_of_few_workers_has_integer_ticks() {
        for accuracies in [
            vec![0.9],
            vec![0.37, 0.57, 0.67, 0.87, 0.88],
            vec![0.5, 0.5, 0.52, 0.9],
            vec![0.81; 9],
            (0..109).map(|w| 0.5 + (w % 7) as f64 / 20.0).collect(),
        ] {
            let most = *accuracy_histogram(&accuracies).iter().max().unwrap();
            let figure = WorkerAccuracy {
                accuracies,
                against: "gold".into(),
            };
            let svg = render_svg(&figure).unwrap();
            // The y ticks are the right-aligned labels.
            let ticks: Vec<String> = texts(&svg)
                .into_iter()
                .filter(|t| t.anchor == "end" && !t.upright)
                .map(|t| t.content)
                .collect();
            let values: Vec<u64> = ticks
                .iter()
                .map(|t| {
                    t.parse()
                        .unwrap_or_else(|_| panic!("tick {t:?} in {ticks:?}"))
                })
                .collect();
            assert_eq!(values[0], 0, "{ticks:?}");
            let step = values[1] - values[0];
            assert!(
                step > 0 && values.windows(2).all(|w| w[1] - w[0] == step),
                "{ticks:?}"
            );
            assert!(*values.last().unwrap() >= most, "{ticks:?} for {most}");
        }
    }

    #[test]
    fn count_axes_step_by_whole_numbers() {
        for max in 0..3000u64 {
            let (end, ticks) = count_axis(max);
            let range: plotters::coord::types::RangedCoordf64 = (0f64..end).into();
            let points = range.key_points(ticks);
            assert!(end >= max as f64 + 1.0, "{max}: {end}");
            assert_eq!(points.len(), ticks, "{max}");
            assert!(points.iter().all(|p| p.fract() == 0.0), "{max}: {points:?}");
            assert_eq!(*points.last().unwrap(), end, "{max}");
        }
    }

    #[test]
    fn figures_fit_the_page_and_their_text_reads_at_its_size() {
        let classes: Vec<String> = (0..60).map(|c| format!("class {c}")).collect();
        let shares = vec![vec![1.0 / 60.0; 60]; 60];
        let many = ConfusionHeatmaps {
            panels: vec![("mv", classes.as_slice(), shares.as_slice()); 3],
        };
        let distribution = ClassDistribution {
            classes: classes.clone(),
            series: vec![("annotations".into(), vec![5; 60])],
        };
        for svg in [
            render_svg(&many).unwrap(),
            render_svg(&distribution).unwrap(),
        ] {
            let width: f64 = attr(&svg, "width").unwrap().parse().unwrap();
            assert!(width <= PAGE_WIDTH as f64, "{width}");
            for t in texts(&svg) {
                assert!(t.size >= CELL_PX - 1e-9, "{t:?}");
            }
        }
    }
}
