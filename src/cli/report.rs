//! `accord report`: one self-contained HTML page about a labelled dataset:
//! summary, agreement, class distribution, workers, and with gold the
//! scores, confusion heatmaps, calibration and the annotator-count
//! experiment; then the items most worth more labels.

use std::collections::HashMap;
use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::classification::review::{rank_for_review, ReviewBy};
use accord::engine::backend::Backend;
use accord::engine::pack::{pack, DuplicatePolicy, Packed};
use accord::eval::metrics::{
    annotation_pairs, score, sorted_classes, worker_gold_accuracy, Scores,
};
use accord::eval::simulate::{run as run_experiment, Design};
use accord::report::plot::{
    CalibrationCurve, ClassDistribution, ConfusionHeatmaps, ErrorVsAnnotators, WorkerAccuracy,
};
use accord::report::HtmlPage;
use accord::Error;
use accord::{
    classification::fit, classification::Consolidation, classification::Method,
    classification::Params,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::consolidate::{classification_method, same_file, select_backend, MethodArg};
use accord::engine::select::BackendChoice;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Annotations (CSV/TSV, JSON Lines or a Ground Truth request).
    pub input: PathBuf,
    /// Gold labels, CSV item,label: adds the scores, confusion heatmaps, calibration curve and
    /// the annotator-count experiment.
    #[arg(long)]
    gold: Option<PathBuf>,
    /// The HTML page to write (figures inlined: one file, no other needed).
    #[arg(short, long, value_name = "report.html")]
    out: PathBuf,
    /// The method reported on, beside majority vote (default: consolidate's default).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Where the fits run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Annotator-count experiment: annotations per item from 1 to this (default: the most any
    /// item has, at most 10).
    #[arg(long)]
    max_annotators: Option<usize>,
    /// Annotator-count experiment: random subsamples per count; 0 leaves the experiment out.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// How many of the least settled items to list.
    #[arg(long, default_value_t = 20)]
    review_count: usize,
    /// Also write each figure as its own file in this folder (created if missing):
    /// class-distribution, confusion, calibration, worker-accuracy, error-vs-annotators.
    #[arg(long, value_name = "DIR")]
    figures: Option<PathBuf>,
    /// Format of the files --figures writes.
    #[arg(long, value_enum, default_value_t = FigureFormat::Svg)]
    figure_format: FigureFormat,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FigureFormat {
    Svg,
    Png,
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
fn score_fit(data: &Packed, fit: &Consolidation, gold: &HashMap<String, String>) -> Scores {
    let pairs: Vec<(&str, &str, Option<f64>)> = data
        .item_names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let truth = gold.get(name)?;
            let label = data.class_names[fit.labels[i] as usize].as_str();
            Some((truth.as_str(), label, Some(fit.confidence[i] as f64)))
        })
        .collect();
    score(pairs.iter().copied())
}

/// Min, median and max of `counts`.
fn spread(mut counts: Vec<usize>) -> String {
    counts.sort_unstable();
    match (counts.first(), counts.last()) {
        (Some(lo), Some(hi)) => format!("{lo} / {} / {hi}", counts[counts.len() / 2]),
        _ => "–".into(),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if same_file(&args.out, &args.input) {
        return Err(Error::Usage(format!(
            "the output {} is the input file: choose another path",
            args.out.display()
        ))
        .into());
    }
    let method = classification_method(args.method)?;
    let gold = args
        .gold
        .as_deref()
        .map(accord::eval::read_gold)
        .transpose()?;
    let input = accord::classification::read::read(&args.input, &ReadOptions::default(), &|_| {})?;
    let data = pack(input.annotations, DuplicatePolicy::Keep)?;
    if data.n_items() == 0 {
        return Err(Error::Usage(format!("{}: no annotations", args.input.display())).into());
    }
    let selected = select_backend(args.backend, args.quiet)?;
    let backend: &dyn accord::engine::backend::Backend = selected.backend.as_ref();
    let mut methods = vec![Method::Mv];
    if method != Method::Mv {
        methods.push(method);
    }
    let fits = methods
        .iter()
        .map(|&m| fit(&data, backend, &Params::new(m), &mut |_, _| {}))
        .collect::<Result<Vec<Consolidation>, Error>>()?;
    let main_fit = fits.last().expect("at least mv");

    let mut page = match &args.figures {
        None => HtmlPage::new(),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            let extension = match args.figure_format {
                FigureFormat::Svg => "svg",
                FigureFormat::Png => "png",
            };
            HtmlPage::with_figure_files(dir.clone(), extension)
        }
    };
    summary(&mut page, &data);
    agreement(&mut page, &data);
    class_distribution(&mut page, &data, main_fit, gold.as_ref())?;
    match &gold {
        Some(gold) => scores(&mut page, &data, &fits, gold)?,
        None => {
            page.heading("Scores against gold");
            page.note("No --gold given: accuracy, confusion and calibration need gold labels.");
        }
    }
    workers(&mut page, &data, main_fit, gold.as_ref())?;
    if let Some(gold) = &gold {
        experiment(
            &mut page,
            &args,
            &data,
            gold,
            &methods,
            backend,
            !selected.is_gpu,
        )?;
    }
    review(&mut page, &data, main_fit, args.review_count);

    let title = format!("accord report: {}", args.input.display());
    let subtitle = format!(
        "accord {}, {}; method {}, backend {}{}",
        env!("CARGO_PKG_VERSION"),
        chrono::Local::now().format("%Y-%m-%d %H:%M"),
        method.name(),
        backend.name(),
        args.gold
            .as_ref()
            .map_or(String::new(), |g| format!("; gold {}", g.display()))
    );
    let html = page.finish(&title, &subtitle);
    accord::io::write_atomic(&args.out, |out| out.write_all(html.as_bytes()))?;
    if !args.quiet {
        eprintln!("accord: wrote {}", args.out.display());
    }
    Ok(())
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
            vec!["items".into(), data.n_items().to_string()],
            vec!["workers".into(), data.n_workers().to_string()],
            vec!["annotations".into(), data.n_annotations().to_string()],
            vec!["classes".into(), data.n_classes().to_string()],
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
    let a = accord::eval::metrics::agreement(data);
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
    gold: Option<&HashMap<String, String>>,
) -> accord::Result<()> {
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
        annotations[slot(l)] += 1;
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
        for name in data.item_names.iter() {
            if let Some(&c) = gold.get(name).and_then(|g| position.get(g.as_str())) {
                counts[c] += 1;
            }
        }
        series.push(("gold".to_owned(), counts));
    }
    let rows = classes
        .iter()
        .enumerate()
        .map(|(c, name)| {
            std::iter::once(name.clone())
                .chain(series.iter().map(|(_, counts)| counts[c].to_string()))
                .collect()
        })
        .collect::<Vec<Vec<String>>>();
    let mut header = vec!["class"];
    header.extend(series.iter().map(|(name, _)| name.as_str()));
    page.table(&header, &rows);
    page.figure(
        "class-distribution",
        &ClassDistribution { classes, series },
        "Counts per class, linear (left) and log scale (right).",
    )
}

fn scores(
    page: &mut HtmlPage,
    data: &Packed,
    fits: &[Consolidation],
    gold: &HashMap<String, String>,
) -> accord::Result<()> {
    page.heading("Scores against gold");
    let raw = score(annotation_pairs(data, gold));
    let scored: Vec<Scores> = fits.iter().map(|f| score_fit(data, f, gold)).collect();
    let mut rows = vec![vec![
        "single annotation".to_owned(),
        percent(raw.accuracy),
        "–".into(),
        raw.scored.to_string(),
    ]];
    for (f, s) in fits.iter().zip(&scored) {
        rows.push(vec![
            f.method.name().to_owned(),
            percent(s.accuracy),
            s.ece.map_or("–".into(), figure4),
            s.scored.to_string(),
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
                    c.support.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let titles: Vec<String> = fits.iter().map(|f| f.method.name().to_owned()).collect();
    let mut panels: Vec<accord::report::plot::ConfusionPanel> =
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
            title: format!("calibration of {main_name}'s confidence"),
        },
        "Accuracy against confidence per 0.1-wide bin (a calibrated confidence lies on the diagonal); below, items per bin.",
    )
}

fn workers(
    page: &mut HtmlPage,
    data: &Packed,
    fit: &Consolidation,
    gold: Option<&HashMap<String, String>>,
) -> accord::Result<()> {
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
    page.table(
        &["worker", "accuracy", "annotations"],
        &weakest
            .iter()
            .take(10)
            .map(|&&(w, a, n)| {
                vec![
                    data.worker_names.get(w).to_owned(),
                    figure4(a),
                    n.to_string(),
                ]
            })
            .collect::<Vec<_>>(),
    );
    Ok(())
}

fn experiment(
    page: &mut HtmlPage,
    args: &Args,
    data: &Packed,
    gold: &HashMap<String, String>,
    methods: &[Method],
    backend: &dyn Backend,
    parallel: bool,
) -> accord::Result<()> {
    page.heading("Error against the number of annotators");
    if args.repeats == 0 {
        page.note("Left out (--repeats 0).");
        return Ok(());
    }
    let most = (0..data.n_items())
        .map(|i| data.item_range(i).len())
        .max()
        .unwrap_or(1);
    let max_annotators = args.max_annotators.unwrap_or(most.min(10)).max(1);
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new((max_annotators * args.repeats) as u64).with_style(
            ProgressStyle::with_template(
                "accord: {bar:30} {pos}/{len} subsamples fitted, {eta} left",
            )
            .expect("template"),
        )
    };
    let design = Design {
        methods: methods.to_vec(),
        max_annotators,
        repeats: args.repeats,
        seed: 0,
    };
    let experiment = run_experiment(data, gold, &design, backend, parallel, &|| bar.inc(1))?;
    bar.finish_and_clear();
    page.paragraph(&format!(
        "Each item keeps r of its annotations, drawn at random {} times per r; the error is the mean over draws ± its standard error.",
        args.repeats
    ));
    let mut header = vec!["annotators".to_owned()];
    header.extend(methods.iter().map(|m| m.name().to_owned()));
    let rows = (1..=max_annotators)
        .map(|r| {
            std::iter::once(r.to_string())
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
        "The {count} items whose {} posterior is least settled (highest entropy): send these to more workers first.",
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
                u.annotations.to_string(),
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
