//! The voting methods: `iou-mean` (Ground Truth's), `medoid` (CVAT's
//! consensus) and `wbf` (ensemble-boxes' weighted box fusion), per image and
//! class.

use rayon::prelude::*;

use super::cluster::{cluster_answers, iou, mean_box, AnswerBoxes, Assigner, Clusters, Member};
use super::consolidator::{FusedBox, Kept};
use super::{BoxData, BoxMethod, BoxParams, Rect};

/// Each image's answers with their boxes of class `class`, into `out`.
fn answers_of_class(data: &BoxData, image: usize, class: u32, out: &mut AnswerBoxes) {
    out.clear();
    for a in data.answers(image) {
        let own = data
            .answer_boxes(a)
            .filter(|&b| data.box_class[b] == class)
            .map(|b| b as u32);
        out.push(a as u32, own);
    }
}

/// Classes present on an image, ascending.
fn classes_on(data: &BoxData, image: usize) -> Vec<u32> {
    let range = data.answers(image);
    let (from, to) = (
        data.answer_offsets[range.start],
        data.answer_offsets[range.end],
    );
    let mut classes: Vec<u32> = data.box_class[from..to].to_vec();
    classes.sort_unstable();
    classes.dedup();
    classes
}

/// `iou-mean` and `medoid`: clusters per class, kept at the quorum.
pub(crate) fn fit_cluster_vote(data: &BoxData, params: &BoxParams) -> Vec<Vec<Kept>> {
    let threshold = params.iou_threshold();
    (0..data.n_images())
        .into_par_iter()
        .map_init(
            || (AnswerBoxes::default(), Assigner::default()),
            |(answers, assigner), image| {
                let answered = data.answers(image).len() as f64;
                let mut kept = Vec::new();
                for class in classes_on(data, image) {
                    answers_of_class(data, image, class, answers);
                    let clusters: Clusters =
                        cluster_answers(answers, &data.boxes, threshold, assigner);
                    for members in clusters {
                        if (members.len() as f64) < params.quorum * answered - 1e-9 {
                            continue;
                        }
                        let mean = mean_box(&members, &data.boxes);
                        let rect = match params.method {
                            BoxMethod::Medoid => medoid(&members, &data.boxes, &mean),
                            _ => mean,
                        };
                        let agreement = members
                            .iter()
                            .map(|m| iou(&data.boxes[m.bx as usize], &rect))
                            .sum::<f64>()
                            / members.len() as f64;
                        kept.push(Kept {
                            fused: FusedBox {
                                rect,
                                class,
                                confidence: members.len() as f64 / answered * agreement,
                                support: members.len() as u32,
                            },
                            members,
                        });
                    }
                }
                kept
            },
        )
        .collect()
}

/// The member box closest (by IoU) to the mean; the first on ties.
fn medoid(members: &[Member], boxes: &[Rect], mean: &Rect) -> Rect {
    let mut best = boxes[members[0].bx as usize];
    let mut best_iou = f64::NEG_INFINITY;
    for m in members {
        let b = boxes[m.bx as usize];
        let v = iou(&b, mean);
        if v > best_iou {
            best = b;
            best_iou = v;
        }
    }
    best
}

/// `wbf`: ensemble-boxes' weighted box fusion. Boxes are taken in order of
/// falling score (the worker's weight); each joins the cluster whose running
/// fused box it overlaps most (IoU above the threshold) unless that cluster
/// has a box of the same worker; the fused box is the score-weighted mean.
/// Confidence = the cluster's weight over the weight of all who answered.
pub(crate) fn fit_wbf(data: &BoxData, params: &BoxParams, weights: &[f64]) -> Vec<Vec<Kept>> {
    let threshold = params.iou_threshold();
    (0..data.n_images())
        .into_par_iter()
        .map_init(AnswerBoxes::default, |answers, image| {
            let total: f64 = data
                .answers(image)
                .map(|a| weights[data.answer_worker[a] as usize])
                .sum();
            let mut kept = Vec::new();
            for class in classes_on(data, image) {
                answers_of_class(data, image, class, answers);
                let mut entries: Vec<(f64, Member)> = answers
                    .iter()
                    .flat_map(|(answer, own)| {
                        let w = weights[data.answer_worker[answer as usize] as usize];
                        own.iter().map(move |&bx| (w, Member { answer, bx }))
                    })
                    .collect();
                // Stable: equal scores keep input order, as ensemble-boxes' argsort does not promise but we do.
                entries.sort_by(|a, b| b.0.total_cmp(&a.0));
                let mut clusters: Vec<(Vec<Member>, [f64; 4], f64)> = Vec::new();
                for (w, member) in entries {
                    let bx = data.boxes[member.bx as usize];
                    let mut best: Option<usize> = None;
                    let mut best_iou = threshold;
                    for (c, (members, sum, weight)) in clusters.iter().enumerate() {
                        if members.iter().any(|m| m.answer == member.answer) {
                            continue;
                        }
                        let fused = Rect::from_corners(sum.map(|s| s / weight));
                        let v = iou(&bx, &fused);
                        if v > best_iou {
                            best = Some(c);
                            best_iou = v;
                        }
                    }
                    let corners = bx.corners();
                    match best {
                        Some(c) => {
                            let (members, sum, weight) = &mut clusters[c];
                            members.push(member);
                            for (s, v) in sum.iter_mut().zip(corners) {
                                *s += w * v;
                            }
                            *weight += w;
                        }
                        None => clusters.push((vec![member], corners.map(|v| w * v), w)),
                    }
                }
                for (members, sum, weight) in clusters {
                    let confidence = if total > 0.0 { weight / total } else { 0.0 };
                    if confidence < params.quorum - 1e-9 {
                        continue;
                    }
                    kept.push(Kept {
                        fused: FusedBox {
                            rect: Rect::from_corners(sum.map(|s| s / weight)),
                            class,
                            confidence,
                            support: members.len() as u32,
                        },
                        members,
                    });
                }
            }
            kept
        })
        .collect()
}
