//! The report on one labelled dataset: summary, agreement, class
//! distribution, workers, and with gold the scores, confusion heatmaps,
//! calibration and the annotator-count experiment; then the items most
//! worth more labels. `accord report` writes it as one HTML page.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::plot::{
    CalibrationCurve, ClassDistribution, ConfusionHeatmaps, ErrorVsAnnotators, WorkerAccuracy,
};
use super::{thousands, HtmlPage};
use crate::classification::review::{rank_for_review, ReviewBy};
use crate::classification::{fit, Consolidation, Method, Params};
use crate::engine::backend::Backend;
use crate::engine::pack::Packed;
use crate::error::Result;
use crate::eval::gold::{Gold, PackedGold};
use crate::eval::metrics::{
    annotation_scores, label_scores, sorted_classes, worker_gold_accuracy, Scores,
};
use crate::eval::simulate::{restrict_items, run as run_experiment, Design};

/// What the report covers beyond the data.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The method reported on beside majority vote.
    pub method: Method,
    /// Annotator-count experiment: annotations per item from 1 to this
    /// (`None`: the most any item has, at most 10).
    pub max_annotators: Option<usize>,
    /// Random subsamples per annotator count; 0 leaves the experiment out.
    pub repeats: usize,
    /// How many of the least settled items to list.
    pub review_count: usize,
    /// How many annotations the experiment's subsamples may hold in all.
    /// Above it the experiment first draws fewer subsamples per count (down
    /// to [`MIN_CAPPED_REPEATS`]), then runs on a random sample of the
    /// items; the page says which.
    pub experiment_budget: ExperimentBudget,
}

/// The cap on the annotator-count experiment's work: the annotations of
/// all its subsamples together (each subsample is fitted once by every
/// compared method, so the cost grows with this sum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExperimentBudget {
    /// Twice the data's annotations, and at least [`MIN_AUTO_BUDGET`]: the
    /// experiment then costs about two fits of the whole set per method.
    #[default]
    Auto,
    /// At most this many.
    Annotations(u64),
    /// No cap: every subsample asked for, on every item.
    Unlimited,
}

/// The least [`ExperimentBudget::Auto`] allows: below it (up to about a
/// million annotations with the defaults) the experiment runs as asked.
pub const MIN_AUTO_BUDGET: u64 = 20_000_000;

impl ExperimentBudget {
    /// The cap for a data set of `annotations` (`None`: no cap).
    pub fn for_annotations(self, annotations: usize) -> Option<u64> {
        match self {
            ExperimentBudget::Auto => Some((2 * annotations as u64).max(MIN_AUTO_BUDGET)),
            ExperimentBudget::Annotations(n) => Some(n),
            ExperimentBudget::Unlimited => None,
        }
    }
}

/// Subsamples per count that a budget leaves at least (when more were asked
/// for): enough for a standard error.
pub const MIN_CAPPED_REPEATS: usize = 3;

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            method: Method::default(),
            max_annotators: None,
            repeats: 10,
            review_count: 20,
            experiment_budget: ExperimentBudget::Auto,
        }
    }
}

/// Majority vote, and `method` beside it.
fn compared_methods(method: Method) -> Vec<Method> {
    let mut methods = vec![Method::Mv];
    if method != Method::Mv {
        methods.push(method);
    }
    methods
}

/// What the report is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Fitting a method on the whole data set; `iteration` counts its EM
    /// iterations (0 before the first, and for methods without any).
    Fit {
        /// The method.
        method: Method,
        /// EM iterations done.
        iteration: u64,
    },
    /// Writing the sections: agreement, scores, figures.
    Sections,
    /// The annotator-count experiment: subsamples fitted, of `total`.
    Experiment {
        /// Subsamples fitted so far.
        done: u64,
        /// Subsamples in all.
        total: u64,
    },
}

/// Where progress goes: called at each step and within the slow ones.
pub type Progress<'a> = dyn Fn(Step) + Sync + 'a;

/// Fills `page` with every section for `data` (and `gold`, when given),
/// fitting majority vote and `options.method` on `backend` (`parallel`:
/// whether the experiment may run fits side by side, true on the CPU).
pub fn dataset_report(
    page: &mut HtmlPage,
    data: &Packed,
    gold: Option<&Gold>,
    options: &ReportOptions,
    backend: &dyn Backend,
    parallel: bool,
    progress: &Progress<'_>,
) -> Result<()> {
    let methods = compared_methods(options.method);
    let fits = methods
        .iter()
        .map(|&method| {
            progress(Step::Fit {
                method,
                iteration: 0,
            });
            fit(data, backend, &Params::new(method), &mut |iteration, _| {
                progress(Step::Fit {
                    method,
                    iteration: iteration as u64,
                })
            })
        })
        .collect::<Result<Vec<Consolidation>>>()?;
    progress(Step::Sections);
    let main_fit = fits.last().expect("at least mv");
    // Gold by item id, looked up once: every section below reads arrays.
    let gold = gold.map(|g| g.for_packed(data));
    let gold = gold.as_ref();
    summary(page, data);
    agreement(page, data);
    class_distribution(page, data, main_fit, gold)?;
    match gold {
        Some(gold) => scores(page, data, &fits, gold)?,
        None => {
            page.heading("Scores against gold");
            page.note("No gold labels given: accuracy, confusion and calibration need them.");
        }
    }
    workers(page, data, main_fit, gold)?;
    if let Some(gold) = gold {
        experiment(page, options, data, gold, backend, parallel, progress)?;
    }
    review(page, data, main_fit, options.review_count);
    Ok(())
}

/// Workers need this many scored annotations to be listed among the least
/// accurate: below it an accuracy is mostly noise.
const MIN_ANNOTATIONS_LISTED: u64 = 5;

fn percent(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn figure4(x: f64) -> String {
    format!("{x:.4}")
}

/// `fit`'s labels scored against gold, with its confidences.
fn score_fit(fit: &Consolidation, gold: &PackedGold) -> Scores {
    label_scores(gold, &fit.labels, Some(&fit.confidence))
}

/// Min, median and max of `counts`.
fn spread(mut counts: Vec<usize>) -> String {
    counts.sort_unstable();
    match (counts.first(), counts.last()) {
        (Some(&lo), Some(&hi)) => format!(
            "{} / {} / {}",
            thousands(lo),
            thousands(counts[counts.len() / 2]),
            thousands(hi)
        ),
        _ => "–".into(),
    }
}

fn summary(page: &mut HtmlPage, data: &Packed) {
    page.heading("Summary");
    let per_item = (0..data.n_items())
        .map(|i| data.item_range(i).len())
        .collect();
    let per_worker = (0..data.n_workers())
        .map(|w| data.worker_range(w).len())
        .collect();
    page.table(
        &["", "value"],
        &[
            vec!["items".into(), thousands(data.n_items())],
            vec!["workers".into(), thousands(data.n_workers())],
            vec!["annotations".into(), thousands(data.n_annotations())],
            vec!["classes".into(), thousands(data.n_classes())],
            vec![
                "annotations per item (min / median / max)".into(),
                spread(per_item),
            ],
            vec![
                "annotations per worker (min / median / max)".into(),
                spread(per_worker),
            ],
        ],
    );
}

fn agreement(page: &mut HtmlPage, data: &Packed) {
    page.heading("Agreement (no gold needed)");
    let a = crate::eval::metrics::agreement(data);
    page.table(
        &["measure", "value", "meaning"],
        &[
            vec![
                "Krippendorff's alpha (nominal)".into(),
                a.alpha.map_or("undefined".into(), figure4),
                "1 = perfect agreement, 0 = chance".into(),
            ],
            vec![
                "consistency".into(),
                figure4(a.consistency),
                "mean posterior of the majority label (crowd-kit)".into(),
            ],
            vec![
                "uncertainty".into(),
                figure4(a.uncertainty),
                "mean entropy of the vote shares, nats (crowd-kit)".into(),
            ],
        ],
    );
}

fn class_distribution(
    page: &mut HtmlPage,
    data: &Packed,
    fit: &Consolidation,
    gold: Option<&PackedGold>,
) -> Result<()> {
    page.heading("Class distribution");
    let classes = sorted_classes(data.class_names.iter().map(String::as_str));
    let position: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let slot = |id: u32| position[data.class_names[id as usize].as_str()];
    let mut annotations = vec![0u64; classes.len()];
    for &l in &data.item_label {
        annotations[slot(u32::from(l))] += 1;
    }
    let mut labels = vec![0u64; classes.len()];
    for &l in &fit.labels {
        labels[slot(l)] += 1;
    }
    let mut series = vec![
        ("annotations".to_owned(), annotations),
        (format!("labels ({})", fit.method.name()), labels),
    ];
    if let Some(gold) = gold {
        let mut counts = vec![0u64; classes.len()];
        // Gold classes past the data's are counted nowhere, as no bar has them.
        for &g in gold
            .class
            .iter()
            .filter(|&&g| (g as usize) < data.n_classes())
        {
            counts[slot(g)] += 1;
        }
        series.push(("gold".to_owned(), counts));
    }
    let rows = classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            std::iter::once(name.clone())
                .chain(series.iter().map(|(_, counts)| thousands(counts[c])))
                .collect()
        })
        .collect::<Vec<Vec<String>>>();
    let mut header = vec!["class"];
    header.extend(series.iter().map(|(name, _)| name.as_str()));
    page.table(&header, &rows);
    page.figure(
        "class-distribution",
        &ClassDistribution { classes, series },
        "Counts per class, on a linear scale (top) and a log scale (bottom).",
    )
}

fn scores(
    page: &mut HtmlPage,
    data: &Packed,
    fits: &[Consolidation],
    gold: &PackedGold,
) -> Result<()> {
    page.heading("Scores against gold");
    let raw = annotation_scores(data, gold);
    let scored: Vec<Scores> = fits.iter().map(|f| score_fit(f, gold)).collect();
    let mut rows = vec![vec![
        "single annotation".to_owned(),
        percent(raw.accuracy),
        "–".into(),
        thousands(raw.scored),
    ]];
    for (f, s) in fits.iter().zip(&scored) {
        rows.push(vec![
            f.method.name().to_owned(),
            percent(s.accuracy),
            s.ece.map_or("–".into(), figure4),
            thousands(s.scored),
        ]);
    }
    page.table(
        &["labels", "accuracy", "calibration error (ECE)", "scored"],
        &rows,
    );
    let main = scored.last().expect("at least mv");
    let main_name = fits.last().expect("at least mv").method.name();
    page.paragraph(&format!("Per class, {main_name}:"));
    page.table(
        &["class", "precision", "recall", "F1", "gold items"],
        &main
            .per_class
            .iter()
            .map(|c| {
                vec![
                    c.class.clone(),
                    figure4(c.precision),
                    figure4(c.recall),
                    figure4(c.f1),
                    thousands(c.support),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let titles: Vec<String> = fits.iter().map(|f| f.method.name().to_owned()).collect();
    let mut panels: Vec<super::plot::ConfusionPanel> =
        vec![("raw annotations", &raw.classes, &raw.confusion_normalised)];
    for (title, s) in titles.iter().zip(&scored) {
        panels.push((title.as_str(), &s.classes, &s.confusion_normalised));
    }
    page.figure(
        "confusion",
        &ConfusionHeatmaps { panels },
        "Row-normalised confusion: rows gold, columns the answer given (raw) or the label.",
    )?;
    page.figure(
        "calibration",
        &CalibrationCurve {
            bins: &main.calibration,
            ece: main.ece,
            compare: None,
            title: format!("calibration of {main_name}'s confidence"),
        },
        "Accuracy against confidence per 0.1-wide bin (a calibrated confidence lies on the diagonal); below, items per bin.",
    )
}

fn workers(
    page: &mut HtmlPage,
    data: &Packed,
    fit: &Consolidation,
    gold: Option<&PackedGold>,
) -> Result<()> {
    page.heading("Workers");
    // (worker, accuracy, annotations it rests on)
    let (measured, against): (Vec<(usize, f64, u64)>, &str) = match gold {
        Some(gold) => (
            worker_gold_accuracy(data, gold)
                .into_iter()
                .enumerate()
                .filter_map(|(w, a)| a.map(|(acc, n)| (w, acc, n)))
                .collect(),
            "gold",
        ),
        None => (
            fit.worker_accuracy
                .iter()
                .enumerate()
                .map(|(w, &a)| (w, a as f64, data.worker_range(w).len() as u64))
                .collect(),
            "the model's estimate",
        ),
    };
    if measured.is_empty() {
        page.note("No worker annotated a gold item.");
        return Ok(());
    }
    page.figure(
        "worker-accuracy",
        &WorkerAccuracy {
            accuracies: measured.iter().map(|&(_, a, _)| a).collect(),
            against: against.to_owned(),
        },
        &format!("Workers by accuracy (against {against}), in bins of 0.05."),
    )?;
    let mut weakest: Vec<&(usize, f64, u64)> = measured
        .iter()
        .filter(|&&(_, _, n)| n >= MIN_ANNOTATIONS_LISTED)
        .collect();
    weakest.sort_by(|a, b| a.1.total_cmp(&b.1));
    page.paragraph(&format!(
        "The least accurate workers (against {against}) with at least {MIN_ANNOTATIONS_LISTED} annotations:"
    ));
    let scores = crate::classification::spammer::spammer_scores(fit);
    page.table(
        &["worker", "accuracy", "annotations", "spammer score"],
        &weakest
            .iter()
            .take(10)
            .map(|&&(w, a, n)| {
                vec![
                    data.worker_names.get(w).to_owned(),
                    figure4(a),
                    thousands(n),
                    figure4(scores[w] as f64),
                ]
            })
            .collect::<Vec<_>>(),
    );
    spammers(page, data, &scores);
    Ok(())
}

/// The workers most like spammers: highest spammer score (1 − √ of Raykar &
/// Yu's score of the fitted confusion table) among those with enough
/// annotations.
fn spammers(page: &mut HtmlPage, data: &Packed, scores: &[f32]) {
    let mut order: Vec<usize> = (0..data.n_workers())
        .filter(|&w| data.worker_range(w).len() as u64 >= MIN_ANNOTATIONS_LISTED)
        .collect();
    if order.is_empty() {
        return;
    }
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    page.paragraph(&format!(
        "The workers most like spammers, with at least {MIN_ANNOTATIONS_LISTED} annotations: spammer score = 1 − √S, S being Raykar & Yu's (2012) score of the fitted confusion table: 1 when the answers do not depend on the true class, 0 for a perfect worker (accord consolidate --drop-spammers THRESHOLD refits without those at or above it):"
    ));
    page.table(
        &["worker", "spammer score", "annotations"],
        &order
            .iter()
            .take(10)
            .map(|&w| {
                vec![
                    data.worker_names.get(w).to_owned(),
                    figure4(scores[w] as f64),
                    thousands(data.worker_range(w).len() as u64),
                ]
            })
            .collect::<Vec<_>>(),
    );
}

/// How the experiment fits in its budget: subsamples per count, and the
/// items it runs on (`None`: all of them).
#[derive(Debug, Clone, PartialEq)]
struct ExperimentPlan {
    repeats: usize,
    items: Option<Vec<usize>>,
}

/// Fewer repeats first (a large set's error barely varies between
/// subsamples), then a random sample of the items: all gold items and
/// others at random while they fit, else gold items at random. Seeded, so
/// the same data gives the same plan.
fn plan_experiment(
    data: &Packed,
    gold: &PackedGold,
    max_annotators: usize,
    repeats: usize,
    budget: Option<u64>,
) -> ExperimentPlan {
    // Annotations in one repeat's subsamples, over every count of annotators.
    let full: u64 = (0..data.n_items())
        .map(|i| {
            let n = data.item_range(i).len();
            (1..=max_annotators).map(|r| r.min(n) as u64).sum::<u64>()
        })
        .sum();
    let all = ExperimentPlan {
        repeats,
        items: None,
    };
    let Some(budget) = budget else { return all };
    if full.saturating_mul(repeats as u64) <= budget {
        return all;
    }
    let floor = repeats.min(MIN_CAPPED_REPEATS);
    let repeats = ((budget / full.max(1)) as usize).clamp(floor, repeats);
    if full.saturating_mul(repeats as u64) <= budget {
        return ExperimentPlan {
            repeats,
            items: None,
        };
    }
    // Items in the budget, at the data's mean cost per item.
    let per_item = full as f64 / data.n_items() as f64;
    let wanted = ((budget as f64 / repeats as f64 / per_item) as usize).clamp(1, data.n_items());
    let (with_gold, without): (Vec<usize>, Vec<usize>) =
        (0..data.n_items()).partition(|&i| gold.class[i] != PackedGold::NONE);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut pick = |from: &[usize], amount: usize| -> Vec<usize> {
        rand::seq::index::sample(&mut rng, from.len(), amount.min(from.len()))
            .into_iter()
            .map(|k| from[k])
            .collect()
    };
    let mut items = if with_gold.len() >= wanted {
        pick(&with_gold, wanted)
    } else {
        let mut items = with_gold.clone();
        items.extend(pick(&without, wanted - with_gold.len()));
        items
    };
    items.sort_unstable();
    ExperimentPlan {
        repeats,
        items: Some(items),
    }
}

fn experiment(
    page: &mut HtmlPage,
    options: &ReportOptions,
    data: &Packed,
    gold: &PackedGold,
    backend: &dyn Backend,
    parallel: bool,
    progress: &Progress<'_>,
) -> Result<()> {
    let methods = &compared_methods(options.method);
    page.heading("Error against the number of annotators");
    if options.repeats == 0 {
        page.note("Left out: no repeats asked for.");
        return Ok(());
    }
    let most = (0..data.n_items())
        .map(|i| data.item_range(i).len())
        .max()
        .unwrap_or(1);
    let max_annotators = options.max_annotators.unwrap_or(10).min(most).max(1);
    let budget = options
        .experiment_budget
        .for_annotations(data.n_annotations());
    let plan = plan_experiment(data, gold, max_annotators, options.repeats, budget);
    let total = (max_annotators * plan.repeats) as u64;
    progress(Step::Experiment { done: 0, total });
    let done = std::sync::atomic::AtomicU64::new(0);
    let design = Design {
        methods: methods.to_vec(),
        max_annotators,
        repeats: plan.repeats,
        seed: 0,
    };
    let on_done = || {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(Step::Experiment { done: n, total });
    };
    let experiment = match &plan.items {
        None => run_experiment(data, gold, &design, backend, parallel, &on_done)?,
        Some(items) => {
            let (sample, sample_gold) = restrict_items(data, gold, items)?;
            run_experiment(&sample, &sample_gold, &design, backend, parallel, &on_done)?
        }
    };
    page.paragraph(&format!(
        "Each item keeps r of its annotations, drawn at random {} times per r; the error is the mean over draws ± its standard error.",
        thousands(plan.repeats)
    ));
    if plan.repeats < options.repeats || plan.items.is_some() {
        let budget = budget.unwrap_or(u64::MAX);
        let mut note = format!(
            "To keep the experiment within {} annotations over all its subsamples, ",
            thousands(budget)
        );
        if plan.repeats < options.repeats {
            note.push_str(&format!(
                "it draws {} subsamples per r rather than {}",
                thousands(plan.repeats),
                thousands(options.repeats)
            ));
        }
        if let Some(items) = &plan.items {
            if plan.repeats < options.repeats {
                note.push_str(", and ");
            }
            note.push_str(&format!(
                "it runs on a random sample of {} of the {} items ({} of the {} gold items), each with all its annotations. Workers' skills are then learnt from fewer items than the whole set holds, so the fitted methods' errors may lie somewhat above what the whole set would give",
                thousands(items.len()),
                thousands(data.n_items()),
                thousands(experiment.gold_items),
                thousands(gold.items)
            ));
        }
        note.push('.');
        page.note(&note);
    }
    let mut header = vec!["annotators".to_owned()];
    header.extend(methods.iter().map(|m| m.name().to_owned()));
    let rows = (1..=max_annotators)
        .map(|r| {
            std::iter::once(thousands(r))
                .chain(
                    experiment
                        .points
                        .iter()
                        .filter(|p| p.annotators == r)
                        .map(|p| format!("{:.4} ± {:.4}", p.mean_error, p.standard_error)),
                )
                .collect()
        })
        .collect::<Vec<Vec<String>>>();
    page.table(
        &header.iter().map(String::as_str).collect::<Vec<_>>(),
        &rows,
    );
    page.figure(
        "error-vs-annotators",
        &ErrorVsAnnotators {
            experiment: &experiment,
            title: "error against gold by annotators per item".into(),
        },
        &format!(
            "Mean error ± standard error; dashed: a single annotation ({:.4}).",
            experiment.single_worker_error
        ),
    )
}

fn review(page: &mut HtmlPage, data: &Packed, fit: &Consolidation, count: usize) {
    page.heading("Items most worth more labels");
    page.paragraph(&format!(
        "The {} items whose {} posterior is least settled (highest entropy): send these to more workers first.",
        thousands(count),
        fit.method.name()
    ));
    let rows = rank_for_review(data, fit, ReviewBy::Entropy)
        .into_iter()
        .take(count)
        .map(|u| {
            vec![
                data.item_names.get(u.item).to_owned(),
                data.class_names[fit.labels[u.item] as usize].clone(),
                figure4(fit.confidence[u.item] as f64),
                figure4(u.entropy),
                figure4(u.margin),
                thousands(u.annotations),
            ]
        })
        .collect::<Vec<_>>();
    page.table(
        &[
            "item",
            "label",
            "confidence",
            "entropy (bits)",
            "margin",
            "annotations",
        ],
        &rows,
    );
}
