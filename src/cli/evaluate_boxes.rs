//! `accord evaluate --task boxes`: consolidated boxes against gold boxes.

use std::collections::HashSet;
use std::io::Write;

use accord::boxes::{read_boxes, BoxReadOptions};
use accord::eval::boxes::{read_box_csv, read_image_list, score_boxes, BoxesByImage, ScoredBox};
use accord::io::Rejects;
use accord::Error;
use serde_json::json;

use super::evaluate::Args;

pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.plot_confusion.is_some() {
        return Err(Error::Usage("--plot-confusion is for classification".into()).into());
    }
    let pred = read_box_csv(&args.pred)?;
    let gold = read_box_csv(&args.gold)?;
    let (images, images_note) = match &args.gold_images {
        Some(path) => (read_image_list(path)?, None),
        None => {
            let mut images: Vec<String> = gold.keys().cloned().collect();
            images.sort();
            (
                images,
                Some("no --gold-images: only images with a gold box are scored, so images where the expert found nothing are not counted"),
            )
        }
    };
    if images.is_empty() {
        return Err(Error::Usage(format!(
            "nothing to score: {} has no gold box{}",
            args.gold.display(),
            if args.gold_images.is_some() {
                " and --gold-images lists no image"
            } else {
                ""
            }
        ))
        .into());
    }
    let scored: HashSet<&str> = images.iter().map(String::as_str).collect();
    if let Some(list) = &args.gold_images {
        let mut outside: Vec<&String> = gold
            .iter()
            .filter(|(image, boxes)| !boxes.is_empty() && !scored.contains(image.as_str()))
            .map(|(image, _)| image)
            .collect();
        outside.sort();
        if let Some(first) = outside.first() {
            return Err(Error::Usage(format!(
                "{} has boxes on {} image{} that {} does not list, e.g. {first:?}: gold images must all be listed",
                args.gold.display(),
                outside.len(),
                if outside.len() == 1 { "" } else { "s" },
                list.display()
            ))
            .into());
        }
    }
    let scores = score_boxes(&pred, &gold, &images);
    let unscored = pred.keys().filter(|i| !scored.contains(i.as_str())).count();
    let workers = match &args.annotations {
        Some(path) => Some(worker_scores(args, path, &gold, &scored)?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut value = serde_json::to_value(&scores)?;
        value["unscored_images"] = json!(unscored);
        if let Some(w) = &workers {
            value["workers"] = json!(w
                .iter()
                .map(|(name, images, s)| json!({"worker": name, "images": images, "precision": s.precision, "recall": s.recall, "f1": s.f1}))
                .collect::<Vec<_>>());
        }
        writeln!(out, "{value}")?;
        return Ok(());
    }
    if let Some(note) = images_note {
        writeln!(out, "note: {note}")?;
    }
    writeln!(
        out,
        "images scored: {} ({} gold boxes); predicted images not in gold: {unscored}",
        scores.images, scores.gold_boxes
    )?;
    for (name, c) in [("IoU 0.5", &scores.at_50), ("IoU 0.75", &scores.at_75)] {
        writeln!(
            out,
            "{name}: precision {:.4}, recall {:.4}, F1 {:.4} (TP {}, FP {}, FN {})",
            c.precision, c.recall, c.f1, c.true_positives, c.false_positives, c.false_negatives
        )?;
    }
    writeln!(
        out,
        "mean IoU of boxes matched at 0.5: {:.4}",
        scores.mean_iou
    )?;
    writeln!(
        out,
        "AP@[.5:.95] {:.4}, AP@.5 {:.4} (ranked by confidence)",
        scores.ap, scores.ap_50
    )?;
    writeln!(
        out,
        "images with no gold box predicted empty: {} of {}",
        scores.empty_images_predicted_empty, scores.empty_images
    )?;
    if scores.per_class.len() > 1 {
        for (class, c) in &scores.per_class {
            writeln!(
                out,
                "  {class}: F1@0.5 {:.4} (precision {:.4}, recall {:.4}), AP {:.4}",
                c.at_50.f1, c.at_50.precision, c.at_50.recall, c.ap
            )?;
        }
    }
    if let Some(w) = workers {
        writeln!(out, "workers against gold (IoU 0.5):")?;
        for (name, images, s) in w {
            writeln!(
                out,
                "  {name}: {images} gold images, precision {:.4}, recall {:.4}, F1 {:.4}",
                s.precision, s.recall, s.f1
            )?;
        }
    }
    Ok(())
}

/// Each worker's boxes scored against gold on the gold images they answered.
fn worker_scores(
    args: &Args,
    path: &std::path::Path,
    gold: &BoxesByImage,
    scored: &HashSet<&str>,
) -> anyhow::Result<Vec<(String, usize, accord::eval::boxes::DetectionCounts)>> {
    let input = read_boxes(
        path,
        args.responses.as_deref(),
        None,
        &BoxReadOptions::default(),
        &mut Rejects::strict(),
    )?;
    let data = input.data;
    let mut per_worker: Vec<(BoxesByImage, Vec<String>)> =
        vec![Default::default(); data.workers.len()];
    for image in 0..data.n_images() {
        let name = &data.images[image];
        if !scored.contains(name.as_str()) {
            continue;
        }
        for a in data.answers(image) {
            let (boxes, seen) = &mut per_worker[data.answer_worker[a] as usize];
            seen.push(name.clone());
            boxes.insert(
                name.clone(),
                data.answer_boxes(a)
                    .map(|b| ScoredBox {
                        class: data.classes[data.box_class[b] as usize].clone(),
                        rect: data.boxes[b],
                        confidence: 1.0,
                    })
                    .collect(),
            );
        }
    }
    Ok(data
        .workers
        .iter()
        .zip(per_worker)
        .filter(|(_, (_, seen))| !seen.is_empty())
        .map(|(name, (boxes, seen))| {
            let s = score_boxes(&boxes, gold, &seen);
            (name.clone(), seen.len(), s.at_50)
        })
        .collect())
}
