//! The report on a box job: how the methods compare (with gold), the
//! workers' estimated reliability, and a few images drawn with every
//! worker's boxes and the consolidated ones (inline SVG).

use std::fmt::Write as _;

use crate::boxes::{BoxConsolidator, BoxData, BoxLabels, BoxMethod};
use crate::error::Result;
use crate::eval::boxes::{score_boxes, BoxesByImage, ScoredBox};
use crate::report::{thousands, HtmlPage};

/// Worker colours: distinguishable on white, cycled.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
];
/// Width of a drawn image in pixels.
const DRAWN_WIDTH: f64 = 420.0;

/// The consolidated boxes as scorer input.
fn as_scored(data: &BoxData, labels: &BoxLabels) -> BoxesByImage {
    data.images
        .iter()
        .zip(&labels.objects)
        .map(|(image, boxes)| {
            let scored = boxes
                .iter()
                .map(|b| ScoredBox {
                    class: data.classes[b.class as usize].clone(),
                    rect: b.rect,
                    confidence: b.confidence,
                })
                .collect();
            (image.clone(), scored)
        })
        .collect()
}

/// One image as SVG: each worker's boxes thin in the worker's colour, gold
/// boxes (if any) dashed green, the consolidated boxes thick black with
/// their confidence.
fn draw_image(
    data: &BoxData,
    labels: &BoxLabels,
    gold: Option<&BoxesByImage>,
    image: usize,
) -> String {
    // The drawing shows the part of the image the boxes are in (pedestrians
    // are small in a video frame), with a margin, inside the image's edges.
    let range = data.answers(image);
    let (from, to) = (
        data.answer_offsets[range.start],
        data.answer_offsets[range.end],
    );
    let gold_boxes = gold.and_then(|g| g.get(&data.images[image]));
    let all = data.boxes[from..to]
        .iter()
        .chain(labels.objects[image].iter().map(|b| &b.rect))
        .chain(gold_boxes.into_iter().flatten().map(|g| &g.rect));
    let (mut x1, mut y1, mut x2, mut y2) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for r in all {
        x1 = x1.min(r.x1 as f64);
        y1 = y1.min(r.y1 as f64);
        x2 = x2.max(r.x2 as f64);
        y2 = y2.max(r.y2 as f64);
    }
    let margin = (0.15 * (x2 - x1).max(y2 - y1)).max(20.0);
    let (mut x1, mut y1, mut x2, mut y2) = (x1 - margin, y1 - margin, x2 + margin, y2 + margin);
    if let Some((w, h)) = data.image_sizes[image] {
        (x1, y1) = (x1.max(0.0), y1.max(0.0));
        (x2, y2) = (x2.min(w as f64), y2.min(h as f64));
    }
    let (vw, vh) = ((x2 - x1).max(1.0), (y2 - y1).max(1.0));
    let scale = (DRAWN_WIDTH / vw).min(DRAWN_WIDTH / vh);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{:.0}\" viewBox=\"{x1:.1} {y1:.1} {vw:.1} {vh:.1}\">\
         <rect x=\"{x1:.1}\" y=\"{y1:.1}\" width=\"{vw:.1}\" height=\"{vh:.1}\" fill=\"#f4f4f4\" stroke=\"#999\"/>",
        vw * scale,
        vh * scale
    );
    let stroke = 1.0 / scale;
    let rect = |svg: &mut String, r: &crate::boxes::Rect, style: &str| {
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" {style}/>",
            r.x1,
            r.y1,
            r.width(),
            r.height()
        );
    };
    for a in data.answers(image) {
        let colour = PALETTE[data.answer_worker[a] as usize % PALETTE.len()];
        for b in data.answer_boxes(a) {
            rect(
                &mut svg,
                &data.boxes[b],
                &format!("stroke=\"{colour}\" stroke-width=\"{stroke:.2}\" stroke-opacity=\"0.8\""),
            );
        }
    }
    if let Some(gold) = gold_boxes {
        for g in gold {
            rect(
                &mut svg,
                &g.rect,
                &format!(
                    "stroke=\"#2ca02c\" stroke-width=\"{:.2}\" stroke-dasharray=\"{:.1}\"",
                    2.0 * stroke,
                    6.0 * stroke
                ),
            );
        }
    }
    for b in &labels.objects[image] {
        rect(
            &mut svg,
            &b.rect,
            &format!("stroke=\"#000\" stroke-width=\"{:.2}\"", 2.5 * stroke),
        );
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{:.1}\" font-family=\"sans-serif\">{:.2}</text>",
            // Inside the drawing even for a box at its right edge.
            (b.rect.x1 as f64).min(x2 - 26.0 * stroke),
            (b.rect.y1 as f64 - 3.0 * stroke).max(y1 + 12.0 * stroke),
            12.0 * stroke,
            b.confidence
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The images most worth looking at: those where the workers disagreed
/// most (the most worker boxes left out of the consolidated ones, then the
/// most boxes), at most `count`.
fn images_to_draw(data: &BoxData, labels: &BoxLabels, count: usize) -> Vec<usize> {
    let mut scored: Vec<(i64, usize)> = (0..data.n_images())
        .map(|image| {
            let range = data.answers(image);
            let drawn = (data.answer_offsets[range.end] - data.answer_offsets[range.start]) as i64;
            let kept: i64 = labels.objects[image].iter().map(|b| b.support as i64).sum();
            ((drawn - kept) * 1000 + drawn, image)
        })
        .filter(|(s, _)| *s > 0)
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(count).map(|(_, i)| i).collect()
}

/// Adds the box sections to `page`: the job in numbers; with `gold` (and
/// the gold image list) every method scored; the worker table; `draw`
/// images drawn.
pub fn boxes_report(
    page: &mut HtmlPage,
    data: &BoxData,
    labels: &BoxLabels,
    gold: Option<(&BoxesByImage, &[String])>,
    draw: usize,
) -> Result<()> {
    page.heading("Boxes");
    let kept: usize = labels.objects.iter().map(Vec::len).sum();
    page.paragraph(&format!(
        "{} boxes in {} answers of {} images by {} workers, {} class{}. {} kept {} boxes; {} images have none.",
        thousands(data.boxes.len()),
        thousands(data.n_answers()),
        thousands(data.n_images()),
        thousands(data.workers.len()),
        data.classes.len(),
        if data.classes.len() == 1 { "" } else { "es" },
        labels.method.name(),
        thousands(kept),
        thousands(labels.objects.iter().filter(|o| o.is_empty()).count()),
    ));
    if let Some((gold, images)) = gold {
        let mut rows = Vec::new();
        for method in BoxMethod::ALL {
            let fitted;
            let these = if method == labels.method {
                labels
            } else {
                fitted = BoxConsolidator::new(method).fit(data)?;
                &fitted
            };
            let s = score_boxes(&as_scored(data, these), gold, images);
            rows.push(vec![
                method.name().to_string(),
                format!("{:.4}", s.at_50.precision),
                format!("{:.4}", s.at_50.recall),
                format!("{:.4}", s.at_50.f1),
                format!("{:.4}", s.at_75.f1),
                format!("{:.4}", s.mean_iou),
                format!("{:.4}", s.ap),
                format!("{}/{}", s.empty_images_predicted_empty, s.empty_images),
            ]);
        }
        page.heading("Boxes against gold");
        page.table(
            &[
                "method",
                "precision@0.5",
                "recall@0.5",
                "F1@0.5",
                "F1@0.75",
                "mean IoU",
                "AP@[.5:.95]",
                "empty images left empty",
            ],
            &rows,
        );
    }
    page.heading("Box workers");
    page.note(&format!(
        "{}: recall = the share of objects the worker draws; precision = the share of their boxes on objects; localisation error = RMS offset of their box edges in object sizes.",
        if labels.method == BoxMethod::Lean { "Estimated by lean's EM" } else { "Measured against the consolidated boxes" }
    ));
    let mut order: Vec<usize> = (0..data.workers.len()).collect();
    order.sort_by(|&a, &b| {
        labels.workers[b]
            .answers
            .cmp(&labels.workers[a].answers)
            .then(a.cmp(&b))
    });
    let number = |v: f64| {
        if v.is_finite() {
            format!("{v:.3}")
        } else {
            "-".into()
        }
    };
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&w| {
            let s = &labels.workers[w];
            vec![
                data.workers[w].clone(),
                thousands(s.answers),
                thousands(s.boxes),
                number(s.recall),
                number(s.precision),
                number(s.localisation_error),
            ]
        })
        .collect();
    page.table(
        &[
            "worker",
            "answers",
            "boxes",
            "recall",
            "precision",
            "localisation error",
        ],
        &rows,
    );
    let drawn = images_to_draw(data, labels, draw);
    if !drawn.is_empty() {
        page.heading("Images where workers disagreed most");
        page.note("Thin: each worker's boxes, one colour per worker. Thick black: the consolidated boxes, with their confidence. Dashed green: gold, where given.");
        for image in drawn {
            let svg = draw_image(data, labels, gold.map(|g| g.0), image);
            page.raw_figure(&svg, &format!("image {}", data.images[image]));
        }
    }
    Ok(())
}
