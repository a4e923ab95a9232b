//! The annotator-count experiment of Ground Truth's consolidation notebook:
//! how the error against gold falls as each item gets more annotations,
//! per method, with the single worker as the baseline.

use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::engine::backend::Backend;
use crate::engine::pack::{pack, AnnotationBuilder, DuplicatePolicy, Interner, Packed};
use crate::error::Result;
use crate::eval::gold::{packed_gold_accuracy, PackedGold};
use crate::eval::metrics::annotation_scores;
use crate::{classification::fit, classification::Method, classification::Params};

/// The error of one method with `annotators` annotations per item, over
/// the repeats.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Annotations per item (at most; items with fewer keep all theirs).
    pub annotators: usize,
    /// The method's name.
    pub method: String,
    /// Mean over the repeats of the error against gold (1 − accuracy).
    pub mean_error: f64,
    /// Standard error of the mean over the repeats (0 for one repeat).
    pub standard_error: f64,
    /// The error of each repeat, in order.
    pub errors: Vec<f64>,
}

/// The experiment's results.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// Error of a single annotation against gold, over all annotations of
    /// gold items: the notebook's "single worker" line.
    pub single_worker_error: f64,
    /// Items with a gold label.
    pub gold_items: usize,
    /// One point per count of annotators and method, counts ascending,
    /// methods in the design's order within a count.
    pub points: Vec<Point>,
}

/// `annotators` annotations of each item (all, where it has fewer), drawn
/// without replacement from the seed.
pub fn subsample(data: &Packed, annotators: usize, seed: u64) -> Result<Packed> {
    Subsampler::new(data)?.draw(annotators, seed)
}

/// Draws subsamples of one data set in id space: the item names are
/// interned once and copied per draw, the workers re-interned in the order
/// the draw meets them, so a draw packs exactly as the same annotations
/// read from a file would, without a string per annotation.
struct Subsampler<'a> {
    data: &'a Packed,
    items: Interner,
}

impl<'a> Subsampler<'a> {
    fn new(data: &'a Packed) -> Result<Self> {
        let mut items = Interner::default();
        let bytes = data.item_names.iter().map(str::len).sum();
        items.reserve(data.n_items(), bytes);
        for name in data.item_names.iter() {
            items.intern(name);
        }
        Ok(Subsampler { data, items })
    }

    fn draw(&self, annotators: usize, seed: u64) -> Result<Packed> {
        let data = self.data;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut annotations = AnnotationBuilder::with_categories(&data.class_names)?.finish();
        annotations.items = self.items.clone();
        let kept: usize = (0..data.n_items())
            .map(|i| data.item_range(i).len().min(annotators))
            .sum();
        let mut worker_id = vec![u32::MAX; data.n_workers()];
        let (mut item, mut worker, mut label) = (
            Vec::with_capacity(kept),
            Vec::with_capacity(kept),
            Vec::with_capacity(kept),
        );
        let mut chosen: Vec<usize> = Vec::new();
        for i in 0..data.n_items() {
            let range = data.item_range(i);
            chosen.clear();
            chosen.extend(sample(&mut rng, range.len(), annotators.min(range.len())));
            // Input order, so a subsample is packed like a shorter input.
            chosen.sort_unstable();
            for &a in &chosen {
                let a = range.start + a;
                let w = data.item_worker[a] as usize;
                if worker_id[w] == u32::MAX {
                    worker_id[w] = annotations.workers.intern(data.worker_names.get(w));
                }
                item.push(i as u32);
                worker.push(worker_id[w]);
                // The categories are the data's classes, in order.
                label.push(data.item_label[a]);
            }
        }
        (annotations.item, annotations.worker, annotations.label) = (item, worker, label);
        pack(annotations, DuplicatePolicy::Keep)
    }
}

/// The items of `data` listed in `items` (ascending ids), with all their
/// annotations, packed as if read alone; and `gold` lined up with them.
pub fn restrict_items(
    data: &Packed,
    gold: &PackedGold,
    items: &[usize],
) -> Result<(Packed, PackedGold)> {
    let mut annotations = AnnotationBuilder::with_categories(&data.class_names)?.finish();
    let mut worker_id = vec![u32::MAX; data.n_workers()];
    let kept: usize = items.iter().map(|&i| data.item_range(i).len()).sum();
    let (mut item, mut worker, mut label) = (
        Vec::with_capacity(kept),
        Vec::with_capacity(kept),
        Vec::with_capacity(kept),
    );
    let mut class = Vec::with_capacity(items.len());
    for &i in items {
        let id = annotations.items.intern(data.item_names.get(i));
        class.push(gold.class[i]);
        for a in data.item_range(i) {
            let w = data.item_worker[a] as usize;
            if worker_id[w] == u32::MAX {
                worker_id[w] = annotations.workers.intern(data.worker_names.get(w));
            }
            item.push(id);
            worker.push(worker_id[w]);
            label.push(data.item_label[a]);
        }
    }
    (annotations.item, annotations.worker, annotations.label) = (item, worker, label);
    let packed = pack(annotations, DuplicatePolicy::Keep)?;
    let items = class.iter().filter(|&&c| c != PackedGold::NONE).count();
    let gold = PackedGold {
        class,
        class_names: gold.class_names.clone(),
        items,
    };
    Ok((packed, gold))
}

/// What the experiment fits.
#[derive(Debug, Clone)]
pub struct Design {
    /// The methods to fit, in the order of the results.
    pub methods: Vec<Method>,
    /// Annotations per item from 1 to this.
    pub max_annotators: usize,
    /// Subsamples per count.
    pub repeats: usize,
    /// Base seed of the subsamples.
    pub seed: u64,
}

/// Runs the experiment: for each count of annotators, `repeats` subsamples
/// (seeded from the seed, the count and the repeat), each fitted with every
/// method on `backend` and scored against `gold` (lined up with `data`'s
/// items); subsamples in parallel when `parallel`. `on_done` is called
/// after each subsample.
pub fn run(
    data: &Packed,
    gold: &PackedGold,
    design: &Design,
    backend: &dyn Backend,
    parallel: bool,
    on_done: &(dyn Fn() + Sync),
) -> Result<Experiment> {
    let Design {
        methods,
        max_annotators,
        repeats,
        seed,
    } = design;
    let (max_annotators, repeats, seed) = (*max_annotators, *repeats, *seed);
    let jobs: Vec<(usize, usize)> = (1..=max_annotators)
        .flat_map(|r| (0..repeats).map(move |rep| (r, rep)))
        .collect();
    let subsampler = Subsampler::new(data)?;
    let one = |&(r, rep): &(usize, usize)| -> Result<Vec<f64>> {
        let job_seed = seed ^ (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ rep as u64;
        let sub = subsampler.draw(r, job_seed)?;
        let errors = methods
            .iter()
            .map(|&m| {
                let fit = fit(&sub, backend, &Params::new(m), &mut |_, _| {})?;
                // A subsample keeps every item, in order: `gold` lines up.
                let (correct, scored) = packed_gold_accuracy(gold, &fit.labels);
                Ok(1.0 - correct as f64 / scored.max(1) as f64)
            })
            .collect::<Result<Vec<f64>>>()?;
        on_done();
        Ok(errors)
    };
    let results: Vec<Vec<f64>> = if parallel {
        jobs.par_iter().map(one).collect::<Result<_>>()?
    } else {
        jobs.iter().map(one).collect::<Result<_>>()?
    };
    let mut points = Vec::new();
    for r in 1..=max_annotators {
        for (m, method) in methods.iter().enumerate() {
            let errors: Vec<f64> = jobs
                .iter()
                .zip(&results)
                .filter(|((jr, _), _)| *jr == r)
                .map(|(_, e)| e[m])
                .collect();
            let n = errors.len() as f64;
            let mean = errors.iter().sum::<f64>() / n;
            let variance = if errors.len() > 1 {
                errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            points.push(Point {
                annotators: r,
                method: method.name().to_owned(),
                mean_error: mean,
                standard_error: (variance / n).sqrt(),
                errors,
            });
        }
    }
    Ok(Experiment {
        single_worker_error: 1.0 - annotation_scores(data, gold).accuracy,
        gold_items: gold.items,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pack::pack_triples;

    #[test]
    fn a_subsample_keeps_every_item_and_at_most_r_annotations_each() {
        let rows: Vec<(String, String, String)> = (0..40)
            .map(|n| {
                (
                    format!("i{}", n % 7),
                    format!("w{n}"),
                    format!("c{}", n % 3),
                )
            })
            .collect();
        let data = pack_triples(&rows, None).unwrap();
        let sub = subsample(&data, 2, 9).unwrap();
        assert_eq!(sub.n_items(), data.n_items());
        assert_eq!(sub.class_names, data.class_names);
        for i in 0..sub.n_items() {
            assert_eq!(sub.item_range(i).len(), 2.min(data.item_range(i).len()));
        }
        let workers = |p: &Packed| -> Vec<String> {
            p.item_worker
                .iter()
                .map(|&w| p.worker_names.get(w as usize).to_owned())
                .collect()
        };
        assert_eq!(workers(&sub), workers(&subsample(&data, 2, 9).unwrap()));
        assert_ne!(workers(&sub), workers(&subsample(&data, 2, 10).unwrap()));
    }

    /// The subsample as it was drawn before it moved to id space: every
    /// annotation pushed again by name.
    fn subsample_by_name(data: &Packed, annotators: usize, seed: u64) -> Packed {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut builder = AnnotationBuilder::with_categories(&data.class_names).unwrap();
        for i in 0..data.n_items() {
            let item = data.item_names.get(i);
            builder.declare_item(item).unwrap();
            let range = data.item_range(i);
            let chosen = sample(&mut rng, range.len(), annotators.min(range.len()));
            let mut chosen: Vec<usize> = chosen.into_iter().collect();
            chosen.sort_unstable();
            for a in chosen {
                let a = range.start + a;
                builder
                    .push(
                        item,
                        data.worker_names.get(data.item_worker[a] as usize),
                        &data.class_names[data.item_label[a] as usize],
                    )
                    .unwrap();
            }
        }
        pack(builder.finish(), DuplicatePolicy::Keep).unwrap()
    }

    #[test]
    fn a_subsample_in_id_space_packs_exactly_like_one_pushed_by_name() {
        // Items with 0 to 6 annotations, workers met out of order, repeats.
        let rows: Vec<(String, String, String)> = (0..400)
            .map(|n: usize| {
                (
                    format!("i{}", (n * 7919) % 97),
                    format!("w{}", (n * 31) % 23),
                    format!("c{}", n % 4),
                )
            })
            .collect();
        let data = pack_triples(&rows, None).unwrap();
        for (r, seed) in [(1, 0), (2, 5), (3, 9), (10, 2)] {
            let ours = subsample(&data, r, seed).unwrap();
            let theirs = subsample_by_name(&data, r, seed);
            assert_eq!(ours.item_names, theirs.item_names);
            assert_eq!(ours.worker_names, theirs.worker_names);
            assert_eq!(ours.class_names, theirs.class_names);
            assert_eq!(ours.class_first_seen, theirs.class_first_seen);
            assert_eq!(ours.item_offsets, theirs.item_offsets);
            assert_eq!(ours.item_worker, theirs.item_worker);
            assert_eq!(ours.item_label, theirs.item_label);
            assert_eq!(ours.worker_offsets, theirs.worker_offsets);
            assert_eq!(ours.worker_item, theirs.worker_item);
            assert_eq!(ours.worker_label, theirs.worker_label);
            assert_eq!(ours.stats, theirs.stats);
        }
    }

    #[test]
    fn restricting_items_keeps_their_annotations_and_gold() {
        use crate::eval::Gold;
        let rows: Vec<(String, String, String)> = (0..60)
            .map(|n| {
                (
                    format!("i{}", n % 10),
                    format!("w{}", n % 7),
                    format!("c{}", n % 3),
                )
            })
            .collect();
        let data = pack_triples(&rows, None).unwrap();
        let gold = Gold::from_pairs([("i1", "c1"), ("i4", "zebra"), ("i9", "c0")])
            .unwrap()
            .for_packed(&data);
        let (sub, sub_gold) = restrict_items(&data, &gold, &[1, 2, 4]).unwrap();
        assert_eq!(sub.item_names.to_vec(), ["i1", "i2", "i4"]);
        assert_eq!(sub.n_annotations(), 18);
        for (s, i) in [(0, 1), (1, 2), (2, 4)] {
            assert_eq!(
                sub.item_label[sub.item_range(s)],
                data.item_label[data.item_range(i)]
            );
        }
        assert_eq!(sub_gold.items, 2);
        assert_eq!(sub_gold.class[1], PackedGold::NONE);
        assert_eq!(sub_gold.class_names[sub_gold.class[2] as usize], "zebra");
    }
}
