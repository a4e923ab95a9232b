//! Matching boxes: IoU, the optimal one-to-one assignment of one worker's
//! boxes to objects, and clustering across workers.

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;

use super::Rect;

/// Intersection over union (Jaccard index) of two boxes; 0 when either is empty.
pub fn iou(a: &Rect, b: &Rect) -> f64 {
    let iw = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0) as f64;
    let ih = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0) as f64;
    let inter = iw * ih;
    let union = a.width() * a.height() + b.width() * b.height() - inter;
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// IoU scaled to integers for the assignment solver (which needs `Ord`).
const SCALE: f64 = 1e6;

/// The one-to-one assignment of `rows` to `columns` that maximises the
/// total score (Hungarian method), keeping only pairs scoring at least
/// `min_score`. `score(r, c)` must be finite. Returns, per row, its column.
pub fn assign(
    rows: usize,
    columns: usize,
    min_score: f64,
    score: impl Fn(usize, usize) -> f64,
) -> Vec<Option<usize>> {
    Assigner::default()
        .assign(rows, columns, min_score, score)
        .to_vec()
}

/// [`assign`] with its buffers kept from call to call: clustering calls
/// it once per answer, millions of times.
#[derive(Debug, Default)]
pub(crate) struct Assigner {
    best: Vec<(usize, f64)>,
    chosen: Vec<Option<usize>>,
}

impl Assigner {
    /// As [`assign`]; the result lives until the next call.
    pub(crate) fn assign(
        &mut self,
        rows: usize,
        columns: usize,
        min_score: f64,
        score: impl Fn(usize, usize) -> f64,
    ) -> &[Option<usize>] {
        let out = &mut self.chosen;
        out.clear();
        out.resize(rows, None);
        if rows == 0 || columns == 0 {
            return out;
        }
        // When every row's best column is a different one, taking it is
        // optimal (it reaches the sum of the row maxima, an upper bound),
        // and that is most answers: skip the solver.
        let best = &mut self.best;
        best.clear();
        best.resize(rows, (0usize, f64::NEG_INFINITY));
        for (r, b) in best.iter_mut().enumerate() {
            for c in 0..columns {
                let v = score(r, c);
                if v > b.1 {
                    *b = (c, v);
                }
            }
        }
        let distinct = best.iter().enumerate().all(|(r, b)| {
            best[..r]
                .iter()
                .all(|o| o.0 != b.0 || o.1 < min_score || b.1 < min_score)
        });
        if distinct {
            for (o, b) in out.iter_mut().zip(best.iter()) {
                if b.1 >= min_score {
                    *o = Some(b.0);
                }
            }
            return out;
        }
        // Pairs below the threshold score 0, so they never displace a real
        // match; they are dropped after solving.
        let scaled = |r: usize, c: usize| {
            let s = score(r, c);
            if s >= min_score {
                (s * SCALE).round() as i64 + 1
            } else {
                0
            }
        };
        if rows <= columns {
            let m = Matrix::from_fn(rows, columns, |(r, c)| scaled(r, c));
            let (_, cols) = kuhn_munkres(&m);
            for (r, c) in cols.into_iter().enumerate() {
                if m[(r, c)] > 0 {
                    out[r] = Some(c);
                }
            }
        } else {
            let m = Matrix::from_fn(columns, rows, |(c, r)| scaled(r, c));
            let (_, rows_of) = kuhn_munkres(&m);
            for (c, r) in rows_of.into_iter().enumerate() {
                if m[(c, r)] > 0 {
                    out[r] = Some(c);
                }
            }
        }
        out
    }
}

/// Some answers of one image with some of their boxes, flat: one buffer
/// per thread serves every image instead of a `Vec` per answer.
#[derive(Debug, Default)]
pub(crate) struct AnswerBoxes {
    answers: Vec<(u32, std::ops::Range<usize>)>,
    ids: Vec<u32>,
}

impl AnswerBoxes {
    pub(crate) fn clear(&mut self) {
        self.answers.clear();
        self.ids.clear();
    }

    /// Adds answer `answer` with the boxes `boxes` (indices into
    /// `BoxData::boxes`), in order.
    pub(crate) fn push(&mut self, answer: u32, boxes: impl IntoIterator<Item = u32>) {
        let start = self.ids.len();
        self.ids.extend(boxes);
        self.answers.push((answer, start..self.ids.len()));
    }

    /// Each answer with its boxes.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &[u32])> {
        self.answers
            .iter()
            .map(|(a, range)| (*a, &self.ids[range.clone()]))
    }
}

/// One box of a cluster: the answer it belongs to and its index in
/// `BoxData::boxes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub answer: u32,
    pub bx: u32,
}

/// Clusters of one image: each holds at most one box per answer.
pub(crate) type Clusters = Vec<Vec<Member>>;

/// The coordinate-wise mean of some boxes.
pub(crate) fn mean_box(members: &[Member], boxes: &[Rect]) -> Rect {
    let mut sum = [0.0f64; 4];
    for m in members {
        for (s, v) in sum.iter_mut().zip(boxes[m.bx as usize].corners()) {
            *s += v;
        }
    }
    let n = members.len().max(1) as f64;
    Rect::from_corners(sum.map(|s| s / n))
}

/// Greedy clustering across answers, in answer order: each answer's boxes
/// are assigned (Hungarian, IoU ≥ `threshold`) to the clusters' running
/// mean boxes, and the unassigned ones start clusters. A worker's boxes never
/// merge with each other.
pub(crate) fn cluster_answers(
    answers: &AnswerBoxes,
    boxes: &[Rect],
    threshold: f64,
    assigner: &mut Assigner,
) -> Clusters {
    let mut scratch = ClusterScratch::default();
    cluster_answers_into(answers, boxes, threshold, assigner, &mut scratch).to_vec()
}

/// The buffers of [`cluster_answers_into`], kept from image to image: the
/// clusters' member lists keep their capacity, so clustering millions of
/// images allocates almost nothing.
#[derive(Debug, Default)]
pub(crate) struct ClusterScratch {
    clusters: Vec<Vec<Member>>,
    means: Vec<Rect>,
}

/// [`cluster_answers`] into `scratch`; the clusters live until its next use.
pub(crate) fn cluster_answers_into<'s>(
    answers: &AnswerBoxes,
    boxes: &[Rect],
    threshold: f64,
    assigner: &mut Assigner,
    scratch: &'s mut ClusterScratch,
) -> &'s [Vec<Member>] {
    let ClusterScratch { clusters, means } = scratch;
    let mut used = 0;
    means.clear();
    for (answer, own) in answers.iter() {
        let fixed = used;
        let chosen = assigner.assign(own.len(), fixed, threshold, |r, c| {
            iou(&boxes[own[r] as usize], &means[c])
        });
        for (&bx, &target) in own.iter().zip(chosen) {
            let member = Member { answer, bx };
            match target {
                Some(c) => {
                    clusters[c].push(member);
                    means[c] = mean_box(&clusters[c], boxes);
                }
                None => {
                    if used == clusters.len() {
                        clusters.push(Vec::new());
                    }
                    clusters[used].clear();
                    clusters[used].push(member);
                    means.push(boxes[bx as usize]);
                    used += 1;
                }
            }
        }
    }
    &clusters[..used]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = Rect::from_ltwh(0.0, 0.0, 10.0, 10.0);
        let b = Rect::from_ltwh(5.0, 0.0, 10.0, 10.0);
        assert!((iou(&a, &b) - 50.0 / 150.0).abs() < 1e-9);
        assert_eq!(iou(&a, &Rect::from_ltwh(20.0, 20.0, 1.0, 1.0)), 0.0);
        assert!((iou(&a, &a) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn assignment_is_optimal_not_greedy() {
        // Greedy would take (0,0) = 0.9 and leave row 1 with 0.1; the
        // optimum pairs (0,1) and (1,0): 0.8 + 0.8.
        let s = [[0.9, 0.8], [0.8, 0.1]];
        assert_eq!(assign(2, 2, 0.05, |r, c| s[r][c]), [Some(1), Some(0)]);
        // Below the threshold nothing is matched; more rows than columns works.
        assert_eq!(assign(2, 1, 0.5, |r, _| [0.6, 0.4][r]), [Some(0), None]);
        assert_eq!(assign(0, 3, 0.5, |_, _| 1.0), Vec::<Option<usize>>::new());
    }

    #[test]
    fn a_workers_own_boxes_never_merge() {
        let boxes = [
            Rect::from_ltwh(0.0, 0.0, 10.0, 10.0),
            Rect::from_ltwh(1.0, 0.0, 10.0, 10.0),
            Rect::from_ltwh(0.5, 0.0, 10.0, 10.0),
        ];
        // Answer 0 drew two overlapping boxes; answer 1 one between them.
        let mut answers = AnswerBoxes::default();
        answers.push(0, [0, 1]);
        answers.push(1, [2]);
        let clusters = cluster_answers(&answers, &boxes, 0.5, &mut Assigner::default());
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters.iter().map(Vec::len).sum::<usize>(), 3);
    }

    #[test]
    fn clustering_with_reused_buffers_gives_what_fresh_ones_give() {
        let boxes: Vec<Rect> = (0..60)
            .map(|i| {
                let at = (i % 7) as f64 * 12.0 + (i % 3) as f64;
                Rect::from_ltwh(at, at / 2.0, 10.0 + (i % 4) as f64, 10.0)
            })
            .collect();
        let mut scratch = ClusterScratch::default();
        let mut assigner = Assigner::default();
        // Images of different sizes one after the other, as a thread sees them.
        for (first, answers, per_answer) in [(0, 5, 6), (30, 2, 3), (36, 6, 4), (0, 1, 1)] {
            let mut image = AnswerBoxes::default();
            for a in 0..answers {
                let start = first + a * per_answer;
                image.push(a as u32, (start..start + per_answer).map(|b| b as u32));
            }
            let fresh = cluster_answers(&image, &boxes, 0.5, &mut Assigner::default());
            let reused = cluster_answers_into(&image, &boxes, 0.5, &mut assigner, &mut scratch);
            assert_eq!(reused, &fresh[..]);
        }
    }
}
