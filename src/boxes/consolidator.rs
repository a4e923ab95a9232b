//! The front door of the box task: [`BoxConsolidator`] → [`BoxLabels`].

use super::cluster::Member;
use super::data::require_answers;
use super::{lean, vote, BoxData, BoxMethod, BoxParams, Rect};
use crate::error::Result;

/// One consolidated box.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FusedBox {
    /// The box.
    pub rect: Rect,
    /// Its class (index into `BoxData::classes`).
    pub class: u32,
    /// `lean`: the probability that the object exists (times the share of
    /// its boxes that gave this class). `iou-mean`, `medoid`: the share of
    /// the image's workers who drew it times their mean IoU with it. `wbf`:
    /// the weight of the workers who drew it over the weight of all who
    /// answered.
    pub confidence: f64,
    /// How many workers drew it.
    pub support: u32,
}

/// A kept box and the worker boxes it was made from.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    pub fused: FusedBox,
    pub members: Vec<Member>,
}

/// What a method estimates, or measures against the consolidated boxes,
/// about one worker.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WorkerBoxStats {
    /// Images the worker answered.
    pub answers: u32,
    /// Boxes the worker drew.
    pub boxes: u32,
    /// The share of objects the worker draws (1 - miss rate).
    pub recall: f64,
    /// The share of the worker's boxes that are on objects (1 - the
    /// false-positive share); NaN for a worker who drew no box.
    pub precision: f64,
    /// Root-mean-square offset of the worker's box edges from the object's,
    /// in units of the object's width (left, right) and height (top, bottom).
    pub localisation_error: f64,
}

/// The consolidated boxes of every image.
#[derive(Debug, Clone)]
pub struct BoxLabels {
    /// The method that made them.
    pub method: BoxMethod,
    /// Per image (in `BoxData::images` order), its boxes; empty where no
    /// object was found.
    pub objects: Vec<Vec<FusedBox>>,
    /// Per worker (in `BoxData::workers` order). `lean` gives its model's
    /// estimates; the voting methods measure against their own output.
    pub workers: Vec<WorkerBoxStats>,
    /// EM iterations (`lean`, and `wbf` whose weights come from it); 0 for the votes.
    pub iterations: usize,
    /// Whether EM met its stopping test.
    pub converged: bool,
    /// EM's final log-likelihood.
    pub log_likelihood: Option<f64>,
}

/// Consolidates boxes: the method and its parameters, then [`fit`](Self::fit).
#[derive(Debug, Clone)]
pub struct BoxConsolidator {
    params: BoxParams,
}

impl BoxConsolidator {
    /// A consolidator with `method`'s default parameters.
    pub fn new(method: BoxMethod) -> BoxConsolidator {
        BoxConsolidator {
            params: BoxParams::new(method),
        }
    }

    /// Replaces every parameter.
    pub fn params(mut self, params: BoxParams) -> BoxConsolidator {
        self.params = params;
        self
    }

    /// The parameters in force.
    pub fn parameters(&self) -> &BoxParams {
        &self.params
    }

    /// Checks the parameters, then consolidates every image of `data`.
    pub fn fit(&self, data: &BoxData) -> Result<BoxLabels> {
        self.params.validate()?;
        require_answers(data)?;
        let params = &self.params;
        // The votes measure their workers against their own boxes; lean
        // estimates them.
        let measured = |kept: Vec<Vec<Kept>>| {
            let workers = measured_workers(data, &kept);
            let objects = kept
                .into_iter()
                .map(|image| image.into_iter().map(|k| k.fused).collect())
                .collect();
            (objects, workers)
        };
        let (objects, workers, iterations, converged, ll) = match params.method {
            BoxMethod::Lean => {
                let fit = lean::fit_lean(data, params);
                (
                    fit.objects,
                    fit.workers,
                    fit.iterations,
                    fit.converged,
                    Some(fit.log_likelihood),
                )
            }
            BoxMethod::IouMean | BoxMethod::Medoid => {
                let (objects, workers) = measured(vote::fit_cluster_vote(data, params));
                (objects, workers, 0, true, None)
            }
            BoxMethod::Wbf => {
                // The weights: each worker's precision as lean estimates it
                // (a worker with no boxes has no weight to give).
                let mut lean_params = BoxParams::new(BoxMethod::Lean);
                lean_params.seed = params.seed;
                let fit = lean::fit_lean(data, &lean_params);
                let weights: Vec<f64> = fit
                    .workers
                    .iter()
                    .map(|w| {
                        if w.precision.is_finite() {
                            w.precision.max(1e-3)
                        } else {
                            1e-3
                        }
                    })
                    .collect();
                let (objects, workers) = measured(vote::fit_wbf(data, params, &weights));
                (
                    objects,
                    workers,
                    fit.iterations,
                    fit.converged,
                    Some(fit.log_likelihood),
                )
            }
        };
        let mut objects: Vec<Vec<FusedBox>> = objects;
        for boxes in &mut objects {
            // Most confident first, as detectors list them; then left to right.
            boxes.sort_by(|a, b| {
                b.confidence
                    .total_cmp(&a.confidence)
                    .then(a.rect.x1.total_cmp(&b.rect.x1))
                    .then(a.rect.y1.total_cmp(&b.rect.y1))
            });
        }
        Ok(BoxLabels {
            method: params.method,
            objects,
            workers,
            iterations,
            converged,
            log_likelihood: ll,
        })
    }
}

/// Worker figures against the consolidated boxes: recall = share of the
/// kept objects on their images they drew, precision = share of their boxes
/// in a kept object, localisation = RMS size-normalised edge offset.
fn measured_workers(data: &BoxData, kept: &[Vec<Kept>]) -> Vec<WorkerBoxStats> {
    let n = data.workers.len();
    let mut answers = vec![0u32; n];
    let mut boxes = vec![0u32; n];
    let mut objects_seen = vec![0u64; n];
    let mut drawn = vec![0u64; n];
    let mut square = vec![0.0f64; n];
    for (image, image_kept) in kept.iter().enumerate() {
        for a in data.answers(image) {
            let w = data.answer_worker[a] as usize;
            answers[w] += 1;
            boxes[w] += data.answer_boxes(a).len() as u32;
            objects_seen[w] += image_kept.len() as u64;
        }
        for k in image_kept {
            let o = k.fused.rect;
            for m in &k.members {
                let w = data.answer_worker[m.answer as usize] as usize;
                drawn[w] += 1;
                let b = data.boxes[m.bx as usize];
                let (ow, oh) = (o.width().max(1.0), o.height().max(1.0));
                let (bc, oc) = (b.corners(), o.corners());
                square[w] += ((bc[0] - oc[0]) / ow).powi(2)
                    + ((bc[1] - oc[1]) / oh).powi(2)
                    + ((bc[2] - oc[2]) / ow).powi(2)
                    + ((bc[3] - oc[3]) / oh).powi(2);
            }
        }
    }
    (0..n)
        .map(|w| WorkerBoxStats {
            answers: answers[w],
            boxes: boxes[w],
            recall: if objects_seen[w] > 0 {
                drawn[w] as f64 / objects_seen[w] as f64
            } else {
                f64::NAN
            },
            precision: if boxes[w] > 0 {
                drawn[w] as f64 / boxes[w] as f64
            } else {
                f64::NAN
            },
            localisation_error: if drawn[w] > 0 {
                (square[w] / (4.0 * drawn[w] as f64)).sqrt()
            } else {
                f64::NAN
            },
        })
        .collect()
}
