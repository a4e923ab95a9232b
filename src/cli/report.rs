//! `accord report`: one self-contained HTML page about a labelled dataset:
//! summary, agreement, class distribution, workers, and with gold the
//! scores, confusion heatmaps, calibration and the annotator-count
//! experiment; then the items most worth more labels.

use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::engine::pack::{pack, DuplicatePolicy};
use accord::report::{dataset_report, ExperimentBudget, HtmlPage, ReportOptions, Step};
use accord::Error;
use indicatif::ProgressStyle;

use super::consolidate::{same_file, select_backend};
use accord::classification::Method;
use accord::engine::select::BackendChoice;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Annotations (CSV/TSV, JSON Lines or a Ground Truth request). With --task spans: a Ground
    /// Truth named-entity request, or spans.csv with --responses and --texts.
    pub input: PathBuf,
    /// Spans: the texts (JSON Lines {"item", "text"}) of a spans.csv input.
    #[arg(long, value_name = "FILE")]
    pub texts: Option<PathBuf>,
    /// Gold labels, CSV item,label: adds the scores, confusion heatmaps, calibration curve and
    /// the annotator-count experiment. Spans: gold spans, CSV item,start,end,label.
    #[arg(long)]
    pub gold: Option<PathBuf>,
    /// The HTML page to write (figures inlined: one file, no other needed).
    #[arg(short, long, value_name = "report.html")]
    pub out: PathBuf,
    /// The method reported on, beside majority vote (default: consolidate's default).
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// Where the fits run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// Annotator-count experiment: annotations per item from 1 to this (default: the most any
    /// item has, at most 10).
    #[arg(long)]
    max_annotators: Option<usize>,
    /// Annotator-count experiment: random subsamples per count; 0 leaves the experiment out.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Annotator-count experiment: most annotations its subsamples may hold in all: `auto` (twice
    /// the input's annotations, at least 20M), a number, or `none`. Above it, fewer subsamples per
    /// count (at least 3), then a random sample of the items; the page says so.
    #[arg(long, value_name = "auto|N|none", default_value = "auto", value_parser = parse_budget)]
    experiment_budget: ExperimentBudget,
    /// How many of the least settled items to list (spans: texts drawn with every worker's spans).
    #[arg(long, default_value_t = 20)]
    pub review_count: usize,
    /// Also write each figure as its own file in this folder (created if missing):
    /// class-distribution, confusion, calibration, worker-accuracy, error-vs-annotators.
    #[arg(long, value_name = "DIR")]
    figures: Option<PathBuf>,
    /// Format of the files --figures writes.
    #[arg(long, value_enum, default_value_t = FigureFormat::Svg)]
    figure_format: FigureFormat,
    /// What the annotations label: classification, segmentation (INPUT a manifest of masks,
    /// --gold a JSON Lines manifest of gold masks, image and mask), boxes (then INPUT is a box
    /// table or a Ground Truth box request, and --gold a CSV of gold boxes) or spans (INPUT a
    /// Ground Truth named-entity request or spans.csv, --gold a CSV of gold spans).
    #[arg(long, value_enum, default_value_t = super::consolidate::Task::Classification)]
    pub task: super::consolidate::Task,
    /// Boxes and spans: every answer, item,worker (as consolidate --responses).
    #[arg(long, value_name = "FILE")]
    pub responses: Option<PathBuf>,
    /// Boxes: image sizes, item,width,height (as consolidate --images).
    #[arg(long, value_name = "FILE")]
    images: Option<PathBuf>,
    /// Boxes with --gold: every gold image (item column), so images without gold boxes count.
    #[arg(long, value_name = "FILE")]
    gold_images: Option<PathBuf>,
    /// Boxes: how many images to draw with the workers' and the consolidated boxes.
    #[arg(long, default_value_t = 6)]
    draw: usize,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `accord report --task boxes`: the box sections on their own page.
fn run_boxes(args: &Args) -> anyhow::Result<()> {
    use accord::boxes::{read_boxes, BoxConsolidator, BoxMethod, BoxReadOptions};
    use accord::eval::boxes::{read_box_csv, read_image_list};
    let inputs: Vec<&std::path::Path> = [
        Some(args.input.as_path()),
        args.gold.as_deref(),
        args.responses.as_deref(),
        args.images.as_deref(),
        args.gold_images.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    super::consolidate::refuse_clashes(&[&args.out], &inputs)?;
    let input = read_boxes(
        &args.input,
        args.responses.as_deref(),
        args.images.as_deref(),
        &BoxReadOptions::default(),
        &mut accord::io::Rejects::strict(),
    )?;
    let labels = BoxConsolidator::new(BoxMethod::default()).fit(&input.data)?;
    let gold = args.gold.as_deref().map(read_box_csv).transpose()?;
    let gold_images = match (&gold, &args.gold_images) {
        (Some(_), Some(path)) => Some(read_image_list(path)?),
        (Some(g), None) => {
            let mut images: Vec<String> = g.keys().cloned().collect();
            images.sort();
            Some(images)
        }
        _ => None,
    };
    let mut page = HtmlPage::new();
    for note in &input.notes {
        page.note(note);
    }
    accord::report::boxes::boxes_report(
        &mut page,
        &input.data,
        &labels,
        gold.as_ref().zip(gold_images.as_deref()),
        args.draw,
    )?;
    let html = page.finish("accord report: boxes", &args.input.display().to_string());
    accord::io::write_atomic(&args.out, |out| out.write_all(html.as_bytes()))?;
    if !args.quiet {
        say!("accord: wrote {}", args.out.display());
    }
    Ok(())
}

fn parse_budget(text: &str) -> Result<ExperimentBudget, String> {
    match text {
        "auto" => Ok(ExperimentBudget::Auto),
        "none" => Ok(ExperimentBudget::Unlimited),
        n => n
            .replace('_', "")
            .parse::<u64>()
            .map(ExperimentBudget::Annotations)
            .map_err(|_| format!("{n:?} is not auto, none or a number of annotations")),
    }
}

/// The files `--figures` writes, by figure.
const FIGURE_NAMES: [&str; 5] = [
    "class-distribution",
    "confusion",
    "calibration",
    "worker-accuracy",
    "error-vs-annotators",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FigureFormat {
    Svg,
    Png,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.as_os_str() == "-" {
        return Err(Error::Usage(
            "the report is a file (an HTML page): name it with -o report.html".into(),
        )
        .into());
    }
    if args.task == super::consolidate::Task::Spans {
        return super::report_spans::run(&args);
    }
    if args.task == super::consolidate::Task::Boxes {
        return run_boxes(&args);
    }
    if args.task == super::consolidate::Task::Segmentation {
        return super::report_seg::run(&args);
    }
    if args.task != super::consolidate::Task::Classification {
        return Err(Error::Usage(
            "accord report covers classification, segmentation, boxes and spans".into(),
        )
        .into());
    }
    if same_file(&args.out, &args.input) {
        return Err(Error::Usage(format!(
            "the output {} is the input file: choose another path",
            args.out.display()
        ))
        .into());
    }
    // The page and every figure file against the inputs and each other.
    let extension = match args.figure_format {
        FigureFormat::Svg => "svg",
        FigureFormat::Png => "png",
    };
    let figure_files: Vec<PathBuf> = args
        .figures
        .iter()
        .flat_map(|dir| {
            FIGURE_NAMES
                .iter()
                .map(move |name| dir.join(format!("{name}.{extension}")))
        })
        .collect();
    let mut outputs: Vec<&std::path::Path> = vec![&args.out];
    outputs.extend(figure_files.iter().map(PathBuf::as_path));
    let inputs: Vec<&std::path::Path> = std::iter::once(args.input.as_path())
        .chain(args.gold.as_deref())
        .collect();
    super::consolidate::refuse_clashes(&outputs, &inputs)?;
    if args.repeats > super::simulate::MAX_REPEATS {
        return Err(Error::Usage(format!(
            "--repeats {} is more than {}",
            args.repeats,
            super::simulate::MAX_REPEATS
        ))
        .into());
    }
    let method = args.method.unwrap_or_default();
    let gold = args
        .gold
        .as_deref()
        .map(accord::eval::read_gold)
        .transpose()?;
    let bar = super::progress::reading_bar(&args.input, args.quiet)?;
    let input = accord::classification::read::read(&args.input, &ReadOptions::default(), &|n| {
        bar.set_position(n)
    })?;
    bar.finish_and_clear();
    let data = pack(input.annotations, DuplicatePolicy::Keep)?;
    if data.n_items() == 0 {
        return Err(Error::Usage(format!("{}: no annotations", args.input.display())).into());
    }
    let selected = select_backend(args.backend, args.quiet)?;
    let backend: &dyn accord::engine::backend::Backend = selected.backend.as_ref();
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
    let options = ReportOptions {
        method,
        max_annotators: args.max_annotators,
        repeats: args.repeats,
        review_count: args.review_count,
        experiment_budget: args.experiment_budget,
    };
    let bar = super::progress::spinner(args.quiet);
    let counting = ProgressStyle::with_template(
        "accord: {bar:30} {pos}/{len} subsamples fitted, {elapsed} so far, {eta} left",
    )
    .expect("template");
    let on_step = |step: Step| match step {
        Step::Fit { method, iteration } => {
            bar.set_message(if iteration == 0 {
                format!("fitting {}", method.name())
            } else {
                format!("fitting {}: EM iteration {iteration}", method.name())
            });
            bar.tick();
        }
        Step::Sections => {
            bar.set_message("scores, agreement and figures");
            bar.tick();
        }
        Step::Experiment { done, total } => {
            if bar.length() != Some(total) {
                bar.set_style(counting.clone());
                bar.set_length(total);
            }
            bar.set_position(done);
        }
    };
    dataset_report(
        &mut page,
        &data,
        gold.as_ref(),
        &options,
        backend,
        !selected.is_gpu,
        &on_step,
    )?;
    bar.finish_and_clear();

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
        say!("accord: wrote {}", args.out.display());
    }
    Ok(())
}
