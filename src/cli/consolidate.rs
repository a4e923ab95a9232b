//! `accord consolidate`: flags to a [`Consolidator`], then the outputs.
//! Segmentation (`--task segmentation`) is in `segment.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Instant;

use accord::boxes::BoxMethod;
use accord::classification::read::{FieldNames as ReadFields, InputFormat, ReadOptions};
use accord::classification::review::{rank_for_review, write_review, ReviewBy};
use accord::classification::write::{self, DataType, OutputFormat, WriteOptions};
use accord::classification::{Consolidator, Method, Params, StartUsed, METHODS};
use accord::engine::pack::{self, DuplicatePolicy};
use accord::engine::select::{select, BackendChoice, Selected};
use accord::io;
use accord::maths::TieBreak;
use accord::segmentation::{SegMethod, StapleScope};
use accord::spans::SpanMethod;
use accord::Error;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the annotations label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    /// One class per item.
    Classification,
    /// One class per pixel: PNG masks.
    Segmentation,
    /// Bounding boxes: many workers' boxes per image become one set of boxes.
    Boxes,
    /// Named-entity spans in texts.
    Spans,
    /// Any number of labels per item: a confidence for each.
    Multilabel,
}

/// The multi-label decision rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Decide {
    /// Selected when the confidence is at least --threshold.
    Threshold,
    /// Per label, the items that maximise the expected F1 under the confidences.
    ExpectedF1,
}

/// The classification method `--method` names, or the library's default.
pub fn classification_method(arg: Option<MethodArg>) -> Result<Method, Error> {
    arg.map_or(Ok(Method::default()), MethodArg::classification)
}

/// A `--method` value: a name from the classification table, the
/// segmentation list, or both (`mv`), checked against `--task` once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodArg {
    name: &'static str,
    classification: Option<Method>,
    segmentation: Option<SegMethod>,
    boxes: Option<BoxMethod>,
    spans: Option<SpanMethod>,
}

/// Every `--method` value: the classification table, then the segmentation
/// methods that are not also classification names.
static METHOD_ARGS: LazyLock<Vec<MethodArg>> = LazyLock::new(|| {
    let mut all: Vec<MethodArg> = METHODS
        .iter()
        .map(|m| MethodArg {
            name: m.name,
            classification: Some(m.method),
            segmentation: SegMethod::from_name(m.name),
            boxes: None,
            spans: SpanMethod::from_name(m.name),
        })
        .collect();
    all.extend(
        SegMethod::ALL
            .into_iter()
            .filter(|s| Method::from_name(s.name()).is_none())
            .map(|s| MethodArg {
                name: s.name(),
                classification: None,
                segmentation: Some(s),
                boxes: None,
                spans: None,
            }),
    );
    all.extend(BoxMethod::ALL.into_iter().map(|b| MethodArg {
        name: b.name(),
        classification: None,
        segmentation: None,
        boxes: Some(b),
        spans: None,
    }));
    all.extend(
        SpanMethod::ALL
            .into_iter()
            .filter(|s| all.iter().all(|m| m.name != s.name()))
            .map(|s| MethodArg {
                name: s.name(),
                classification: None,
                segmentation: None,
                boxes: None,
                spans: Some(s),
            })
            .collect::<Vec<_>>(),
    );
    all
});

impl clap::ValueEnum for MethodArg {
    fn value_variants<'a>() -> &'a [Self] {
        &METHOD_ARGS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let help = match (
            self.classification,
            self.segmentation,
            self.boxes,
            self.spans,
        ) {
            (Some(c), Some(_), _, _) => format!("{} (both tasks)", c.info().summary),
            (Some(c), None, _, _) => format!("Classification: {}", c.info().summary),
            (None, Some(s), _, _) => format!("Segmentation: {}", s.summary()),
            (None, None, Some(b), _) => format!("Boxes: {}", b.summary()),
            (None, None, None, Some(s)) => format!("Spans: {}", s.summary()),
            (None, None, None, None) => unreachable!("every value names a method"),
        };
        Some(clap::builder::PossibleValue::new(self.name).help(help))
    }
}

impl MethodArg {
    /// The `--method` name as given.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The classification method, or a usage error for a segmentation one.
    pub fn classification(self) -> Result<Method, Error> {
        self.classification.ok_or_else(|| {
            Error::Usage(format!(
                "--method {} is a segmentation method: add --task segmentation, or choose mv, ds, mds or one-coin",
                self.name
            ))
        })
    }

    /// The box method, or a usage error for another task's.
    pub fn boxes(self) -> Result<BoxMethod, Error> {
        self.boxes.ok_or_else(|| {
            let names: Vec<&str> = BoxMethod::ALL.iter().map(|b| b.name()).collect();
            Error::Usage(format!(
                "--method {} is not a box method; --task boxes takes {}",
                self.name,
                or_list(&names)
            ))
        })
    }

    /// The span method, or a usage error for another task's.
    pub fn spans(self) -> Result<SpanMethod, Error> {
        self.spans.ok_or_else(|| {
            let names: Vec<&str> = SpanMethod::ALL.iter().map(|s| s.name()).collect();
            Error::Usage(format!(
                "--method {} is not a span method; --task spans takes {}",
                self.name,
                or_list(&names)
            ))
        })
    }

    /// The segmentation method, or a usage error for a classification one.
    pub fn segmentation(self) -> Result<SegMethod, Error> {
        self.segmentation.ok_or_else(|| {
            let names: Vec<&str> = SegMethod::ALL.iter().map(|s| s.name()).collect();
            Error::Usage(format!(
                "--method {} is a classification method; segmentation takes {}",
                self.name,
                or_list(&names)
            ))
        })
    }
}

/// `a, b, c or d`.
fn or_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Annotations: CSV/TSV or JSON Lines with item (or task), worker, label; a Ground Truth
    /// request; or a Ground Truth consolidation Lambda event. `-` reads standard input.
    /// With --task segmentation: a JSON Lines manifest of PNG masks, or a Ground Truth segmentation request.
    /// With --task multilabel: a CSV item,worker,label of ticked labels (see --responses), or a Ground
    /// Truth multi-select request.
    pub input: PathBuf,
    /// What the annotations label.
    #[arg(long, value_enum, default_value_t = Task::Classification)]
    pub task: Task,

    /// Input format [default: from the extension, then the content].
    #[arg(long, value_enum, help_heading = "Input")]
    pub format: Option<InputFormat>,
    /// Header (or JSON field) names of the three fields when they are not item, worker, label,
    /// e.g. item=image_id,worker=annotator,label=answer.
    #[arg(long, value_name = "FIELD=NAME,...", help_heading = "Input")]
    pub columns: Option<String>,
    /// The label set, in order (e.g. owl,falcon,parrot); a label outside it is an error.
    /// Default: a Lambda event's labelCategories, else the labels found, sorted (numerically when all are integers).
    #[arg(long, value_delimiter = ',', help_heading = "Input")]
    pub categories: Option<Vec<String>>,
    /// What to do when a worker labels the same item more than once.
    #[arg(long, value_enum, default_value_t = DuplicatePolicy::Keep, help_heading = "Input")]
    pub duplicates: DuplicatePolicy,
    /// Skip records that cannot be read (bad fields, labels outside --categories, ...) instead of
    /// stopping; each goes to the rejects file with its line or object and the reason.
    #[arg(long, help_heading = "Input")]
    pub skip_invalid: bool,
    /// The rejects file of --skip-invalid (CSV: location,problem,record), written even when empty
    /// [default: OUT.rejects.csv; required when the output is stdout].
    #[arg(
        long,
        value_name = "FILE",
        requires = "skip_invalid",
        help_heading = "Input"
    )]
    pub rejects: Option<PathBuf>,

    /// Consolidation method [default: auto; segmentation: smooth-mv; boxes: lean; spans: seq; multi-label: hds].
    #[arg(long, value_enum, help_heading = "Method")]
    pub method: Option<MethodArg>,
    /// Where the kernels run.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto, help_heading = "Method")]
    pub backend: BackendChoice,
    /// Most iterations [default: the method's: 100; mds 20; mace 50; mmsr 10000; staple 50];
    /// for segmentation weighted, reliability rounds [default: 10].
    #[arg(long, help_heading = "Method")]
    pub max_iter: Option<usize>,
    /// Stop when the objective's relative change (EM: |ΔLL|/|LL|) falls below this
    /// [default: 1e-5; mds 1e-8; mmsr 1e-10].
    #[arg(long, help_heading = "Method")]
    pub tol: Option<f64>,
    /// Pseudo-counts of a correct answer added to each diagonal cell of every
    /// worker's confusion counts (ds and hds): a Dirichlet prior that workers beat chance.
    /// 0 gives plain Dawid-Skene as crowd-kit fits it [default: 0 for ds, 1 for hds].
    #[arg(long, help_heading = "Method")]
    pub prior_correct: Option<f32>,
    /// Pseudo-annotations per confusion row drawn toward the population's confusion
    /// matrix (hds) [default: 1; multi-label: chosen by the data].
    #[arg(long, help_heading = "Method")]
    pub prior_strength: Option<f32>,
    /// How ds and hds start EM: from majority vote, from the spectral method's tables, or
    /// both, keeping the higher final log-likelihood.
    #[arg(long, value_enum, default_value_t = accord::classification::Init::Votes, help_heading = "Method")]
    init: accord::classification::Init,
    /// Dirichlet smoothing added to each soft count (ds, one-coin).
    #[arg(long, default_value_t = 0.0, help_heading = "Method")]
    smoothing: f32,
    /// How majority vote breaks ties.
    #[arg(long, value_enum, default_value_t = TieBreak::Lowest, help_heading = "Method")]
    pub ties: TieBreak,
    /// Seed of majority vote's random tie-break.
    #[arg(long, default_value_t = 0, help_heading = "Method")]
    pub seed: u64,
    /// Items with known labels (control tasks, audit samples): CSV or TSV with a header
    /// item,label (or task,label). Every EM method clamps them to their label, so worker
    /// models learn from them; the output gives them that label with confidence 1; the summary
    /// and --workers-out give each worker's accuracy on them. Items not in the input are
    /// counted, named and ignored. Classification only.
    #[arg(long, value_name = "FILE", help_heading = "Method")]
    pub known: Option<PathBuf>,
    /// Start from an earlier job's worker model (the JSON --workers-out writes): EM starts
    /// from its tables (new workers from its population table) and each known worker's past
    /// counts are a prior weighted by their past answers. The classes are the model's; auto
    /// also scores its EM candidates fitted from the model and keeps the best. Classification, EM
    /// methods only. --workers-out may name the same file to update it in place.
    #[arg(long, value_name = "MODEL.json", help_heading = "Method")]
    pub workers_in: Option<PathBuf>,
    /// Fit, drop the workers whose spammer score (1 − √ of Raykar & Yu's score of their fitted
    /// confusion table: 1 = answers independent of the truth, 0 = perfect) is at least
    /// THRESHOLD, and refit on the others' answers. Items only dropped workers answered keep
    /// the first fit's label and are listed in the summary. Classification only.
    #[arg(long, value_name = "THRESHOLD", help_heading = "Method")]
    pub drop_spammers: Option<f32>,

    /// Output file, written atomically; `-` is stdout [default: stdout].
    /// With --task segmentation: the output folder (required).
    #[arg(short, long, help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Output format [default: parquet for a FILE ending in .parquet or .pq; gt-response for a
    /// Lambda event; else csv].
    #[arg(long, value_enum, help_heading = "Output")]
    pub out_format: Option<OutputFormat>,
    /// Add a p_<class> posterior column per class (CSV output).
    #[arg(long, help_heading = "Output")]
    pub posteriors: bool,
    /// What the confidence (and the p_<class> columns, the manifest's and Lambda response's
    /// confidence, the review list) reports, classification.
    #[arg(long, value_enum, default_value_t = ConfidenceArg::Calibrated, help_heading = "Output")]
    pub confidence: ConfidenceArg,
    /// Also write a worker report (id, annotations, accuracy, confusion); JSON if FILE ends in .json
    /// (classification: the versioned worker model --workers-in reads), Parquet if in .parquet or
    /// .pq, else CSV.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub workers_out: Option<PathBuf>,
    /// Also write the items most worth sending to more workers (CSV: item, label, confidence,
    /// entropy in bits, margin, annotations), most uncertain first.
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub review_out: Option<PathBuf>,
    /// How --review-out ranks items.
    #[arg(long, value_enum, default_value_t = ReviewBy::Entropy, help_heading = "Output")]
    review_by: ReviewBy,
    /// How many items --review-out lists [default: all].
    #[arg(long, value_name = "N", help_heading = "Output")]
    review_count: Option<usize>,

    /// Ground Truth label attribute name (manifest, gt-response) [default: a Lambda event's
    /// labelAttributeName, else label].
    #[arg(long, help_heading = "Ground Truth output")]
    pub label_attribute: Option<String>,
    /// Ground Truth task type written in the metadata.
    #[arg(long, value_enum, default_value_t = DataType::Image, help_heading = "Ground Truth output")]
    pub data_type: DataType,
    /// Ground Truth job name written in the metadata [default: the Lambda event's job, else accord].
    #[arg(long, help_heading = "Ground Truth output")]
    pub job_name: Option<String>,
    /// creation-date written in the metadata [default: now, UTC, ISO 8601].
    #[arg(long, help_heading = "Ground Truth output")]
    pub creation_date: Option<String>,

    /// Multi-label: a label is selected when its confidence is at least this.
    #[arg(long, default_value_t = 0.5, help_heading = "Multi-label")]
    pub threshold: f32,
    /// Multi-label: the decision rule: the --threshold, or per label the items that maximise the
    /// expected F1.
    #[arg(long, value_enum, default_value_t = Decide::Threshold, help_heading = "Multi-label")]
    pub decide: Decide,

    /// Segmentation: standard deviation in pixels of the Gaussian that votes are smoothed with [default: 1].
    #[arg(long, conflicts_with = "radius", help_heading = "Segmentation")]
    pub sigma: Option<f32>,
    /// Segmentation: smooth votes with a box of 2·RADIUS+1 pixels instead of a Gaussian.
    #[arg(long, help_heading = "Segmentation")]
    pub radius: Option<u32>,
    /// Segmentation: also write an 8-bit confidence map per image.
    #[arg(long, help_heading = "Segmentation")]
    pub confidence_maps: bool,
    /// Segmentation: refuse masks of more pixels than this.
    #[arg(long, default_value_t = 100_000_000, help_heading = "Segmentation")]
    pub max_pixels: u64,
    /// Segmentation: a folder outside the manifest's that mask paths may name (repeatable). By
    /// default masks must lie in the manifest's folder or below.
    #[arg(long, value_name = "DIR", help_heading = "Segmentation")]
    pub allow_paths_outside: Vec<PathBuf>,
    /// Segmentation staple: one confusion table per worker across the batch, or per mask (image by image).
    #[arg(long, value_enum, default_value_t = StapleScope::Shared, help_heading = "Segmentation")]
    pub staple_scope: StapleScope,
    /// Segmentation: memory the masks are consolidated in, batch by batch (e.g. 512M, 2G, or bytes):
    /// runs larger than this are decoded, fitted and written a batch at a time.
    #[arg(long, value_name = "BYTES", default_value = "512M", value_parser = super::segment::parse_bytes, help_heading = "Segmentation")]
    pub memory_budget: u64,

    /// Boxes: every answer, CSV (or JSON Lines) item,worker, including answers with no box; without
    /// it only workers who drew a box on an image count as having answered it. Multi-label: the
    /// same, CSV item,worker: a worker who answered and ticked nothing is a "no" to every label.
    /// Spans: the answers (CSV item,worker, empty answers included) of a spans.csv input.
    #[arg(long, value_name = "FILE", help_heading = "Boxes")]
    pub responses: Option<PathBuf>,
    /// Boxes: image sizes, CSV item,width,height: boxes are clipped to them and the manifest
    /// gives image_size.
    #[arg(long, value_name = "FILE", help_heading = "Boxes")]
    pub images: Option<PathBuf>,
    /// Boxes: least IoU for two boxes to be one object [default: lean 0.3, iou-mean and medoid
    /// 0.5, wbf 0.55].
    #[arg(long, help_heading = "Boxes")]
    pub iou: Option<f64>,
    /// Boxes (iou-mean, medoid, wbf): keep a box drawn by at least this share of the workers who
    /// answered the image [default: 0.5]. Spans (jaccard): keep a cluster with at least this share
    /// of the text's workers [default: 0.5].
    #[arg(long, help_heading = "Boxes")]
    pub quorum: Option<f64>,
    /// Boxes (lean): keep a box whose probability of existing is at least this [default: 0.5].
    #[arg(long, help_heading = "Boxes")]
    pub min_confidence: Option<f64>,

    /// Spans: the texts (JSON Lines {"item", "text"}) that go with a spans.csv input.
    #[arg(long, value_name = "FILE", help_heading = "Spans")]
    pub texts: Option<PathBuf>,
    /// Spans: what offsets count, in the input and the outputs.
    #[arg(long, value_enum, default_value_t = accord::spans::read::OffsetUnit::CodePoints, help_heading = "Spans")]
    pub offsets: accord::spans::read::OffsetUnit,
    /// Spans, seq and token-mv: what a token is (words: whitespace-separated, a span marks every
    /// word it touches; boundaries: words cut at every worker's span boundary).
    #[arg(long, value_enum, default_value_t = accord::spans::tokens::Tokens::Words, help_heading = "Spans")]
    pub tokens: accord::spans::tokens::Tokens,
    /// Spans, seq: the true tags obey BIO (I-L only after B-L or I-L); by default I-L after
    /// anything else is a second way to start an entity.
    #[arg(long, help_heading = "Spans")]
    pub strict_bio: bool,
    /// Spans, seq: stop when the count of tokens whose most probable tag changed in an iteration
    /// has not set a new low for this many iterations (the decisions have settled as far as they
    /// will), with or without --strict-bio; 0: stop on --tol and --max-iter only.
    #[arg(long, default_value_t = 3, value_name = "N", help_heading = "Spans")]
    pub patience: usize,
    /// Spans, jaccard: character Jaccard similarity at which two spans join a cluster.
    #[arg(long, default_value_t = 0.5, help_heading = "Spans")]
    pub jaccard_threshold: f64,

    /// Gold labels (CSV item,label): print the accuracy on the items they cover.
    #[arg(long, value_name = "FILE", help_heading = "Reporting")]
    pub gold: Option<PathBuf>,
    /// Print the backend choice, each phase's time and each EM iteration's log-likelihood.
    #[arg(short, long, help_heading = "Reporting")]
    pub verbose: bool,
    /// Print nothing on success.
    #[arg(short, long, help_heading = "Reporting")]
    pub quiet: bool,
}

/// Where `--skip-invalid` writes the records it skipped: `--rejects`, or
/// `beside` (a default next to the output; `None` when writing to stdout).
pub fn rejects_path(args: &Args, beside: Option<PathBuf>) -> anyhow::Result<Option<PathBuf>> {
    if !args.skip_invalid {
        return Ok(None);
    }
    let Some(path) = args.rejects.clone().or(beside) else {
        return Err(Error::Usage(
            "--skip-invalid with output to stdout: name the rejects file with --rejects FILE"
                .into(),
        )
        .into());
    };
    if same_file(&path, &args.input) {
        return Err(Error::Usage(format!(
            "the rejects file {} is the input file: choose another path",
            path.display()
        ))
        .into());
    }
    Ok(Some(path))
}

/// The outputs of a run that writes files beside `--out`: `--skip-invalid`'s
/// rejects file (`--rejects`, else OUT.rejects.csv), then `--out`,
/// `--workers-out`, that rejects file and `more`, each opened under a
/// temporary name before any work (so a missing folder stops the run at
/// once; all are renamed together at the end), and none of them one of
/// `inputs` under any name (`-`, standard input, is skipped).
pub fn open_outputs(
    args: &Args,
    more: &[&Option<PathBuf>],
    inputs: &[Option<&PathBuf>],
) -> anyhow::Result<(io::OutputSet, Option<PathBuf>)> {
    let beside = args.out.as_ref().map(|out| {
        let mut name = out.as_os_str().to_owned();
        name.push(".rejects.csv");
        PathBuf::from(name)
    });
    let rejects_path = rejects_path(args, beside)?;
    let mut outputs = io::OutputSet::new();
    for path in [&args.out, &args.workers_out, &rejects_path]
        .into_iter()
        .chain(more.iter().copied())
        .flatten()
    {
        outputs.add(path)?;
    }
    for input in std::iter::once(Some(&args.input))
        .chain(inputs.iter().copied())
        .flatten()
    {
        if input != Path::new("-") {
            outputs.refuse_input(input)?;
        }
    }
    Ok((outputs, rejects_path))
}

/// The summary line of `--skip-invalid`.
pub fn report_rejects(count: usize, path: &Path) {
    say!(
        "accord: skipped {count} invalid record{}, listed in {}",
        if count == 1 { "" } else { "s" },
        path.display()
    );
}

/// Parquet and Arrow are read and written for classification only.
fn refuse_columnar(args: &Args) -> anyhow::Result<()> {
    let input = match args.format {
        Some(format) => Some(format),
        None if args.input.is_file() => {
            accord::classification::read::detect_format(&args.input).ok()
        }
        None => None,
    };
    let output = args.out_format == Some(OutputFormat::Parquet)
        || [&args.out, &args.workers_out]
            .into_iter()
            .flatten()
            .any(|p| OutputFormat::from_extension(p).is_some());
    if input.is_some_and(InputFormat::is_columnar) || output {
        return Err(Error::Usage(
            "Parquet and Arrow files are read and written by --task classification only".into(),
        )
        .into());
    }
    Ok(())
}

/// Files at least this large get a progress bar while being read.
const PROGRESS_MIN_BYTES: u64 = 32 << 20;

/// Refuses, before any work, an output that is one of the inputs or
/// another output under any name (links and `./` resolved).
pub fn refuse_clashes(outputs: &[&Path], inputs: &[&Path]) -> anyhow::Result<()> {
    let id = |p: &Path| io::file_identity(p).unwrap_or_else(|| p.to_path_buf());
    for (n, out) in outputs.iter().enumerate() {
        if let Some(input) = inputs.iter().find(|i| id(i) == id(out)) {
            return Err(Error::Usage(format!(
                "the output {} is the input file {}: choose another path",
                out.display(),
                input.display()
            ))
            .into());
        }
        if let Some(other) = outputs[..n].iter().find(|o| id(o) == id(out)) {
            return Err(Error::Usage(format!(
                "{} and {} name the same file as two outputs",
                other.display(),
                out.display()
            ))
            .into());
        }
    }
    Ok(())
}

pub fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The backend `choice` resolves to; `auto`'s reason for the CPU is
/// printed unless `quiet`.
pub fn select_backend(choice: BackendChoice, quiet: bool) -> anyhow::Result<Selected> {
    let selected = select(choice)?;
    if let (Some(notice), false) = (&selected.notice, quiet) {
        say!("accord: {}", super::flags(notice));
    }
    Ok(selected)
}

/// `--confidence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfidenceArg {
    /// How often a label like this one is right, learnt without gold from the answers each
    /// fit did not see (and from --known items when given); the labels do not change. mv,
    /// wawa, zbs, kos and mmsr keep their vote share or score.
    Calibrated,
    /// The method's own posterior.
    Raw,
}

/// Flags to the library's parameters for `method`.
fn params_of(args: &Args, method: Method) -> Params {
    let mut params = Params::new(method);
    if let Some(m) = args.max_iter {
        params.max_iter = m;
    }
    if let Some(t) = args.tol {
        params.tol = t;
    }
    params.smoothing = args.smoothing;
    params.prior_strength = args
        .prior_strength
        .unwrap_or(accord::classification::HDS_PRIOR_STRENGTH);
    params.init = args.init;
    if let Some(p) = args.prior_correct {
        params.prior_correct = p;
    }
    params.seed = args.seed;
    params.ties = args.ties;
    params.confidence = match args.confidence {
        ConfidenceArg::Calibrated => accord::classification::Confidence::Calibrated,
        ConfidenceArg::Raw => accord::classification::Confidence::Raw,
    };
    params
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.task != Task::Classification
        && (args.known.is_some() || args.drop_spammers.is_some() || args.workers_in.is_some())
    {
        return Err(Error::Usage(
            "--known, --drop-spammers and --workers-in are for --task classification".into(),
        )
        .into());
    }
    if args.task != Task::Classification {
        refuse_columnar(&args)?;
    }
    if args.task == Task::Segmentation {
        return super::segment::run(args);
    }
    if args.task == Task::Multilabel {
        return super::multilabel::run(args);
    }
    if args.task == Task::Boxes {
        return super::boxes::run(args);
    }
    if args.task == Task::Spans {
        return super::spans::run(args);
    }
    // `-o -` is stdout, as with most tools, not a file named "-".
    if args.out.as_deref() == Some(Path::new("-")) {
        args.out = None;
    }
    let from_stdin = args.input == Path::new("-");
    let method = classification_method(args.method)?;
    let started = Instant::now();
    if !from_stdin && args.input.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a folder: name the annotations file",
            args.input.display()
        ))
        .into());
    }
    let fields = match &args.columns {
        Some(spec) => ReadFields::parse(spec)?,
        None => ReadFields::default(),
    };
    let params = params_of(&args, method);
    params.validate()?;
    let (mut outputs, rejects_path) = open_outputs(
        &args,
        &[&args.review_out],
        &[args.gold.as_ref(), args.known.as_ref()],
    )?;
    // The model is read whole before anything is written, so --workers-out
    // (only) may update it in place.
    if let Some(model) = &args.workers_in {
        outputs.refuse_input_except(model, args.workers_out.as_deref())?;
    }
    // Read before any work, so a bad gold file stops the run with nothing written.
    let t = Instant::now();
    let gold = args
        .gold
        .as_ref()
        .map(|path| accord::eval::read_gold(path))
        .transpose()?;
    let known = args
        .known
        .as_ref()
        .map(|path| accord::classification::KnownLabels::read(path))
        .transpose()?;
    let workers_in = args
        .workers_in
        .as_ref()
        .map(|path| accord::classification::JobModel::read(path))
        .transpose()?;
    let gold_read_s = t.elapsed().as_secs_f64();
    let selected = select_backend(args.backend, args.quiet || !args.verbose)?;

    // Read.
    let t = Instant::now();
    let categories = match (&args.categories, &workers_in) {
        (Some(given), Some(model)) if *given != model.classes => {
            return Err(Error::Usage(format!(
                "--categories {} differ from the classes of the --workers-in model, {}",
                given.join(","),
                model.classes.join(",")
            ))
            .into())
        }
        (Some(given), _) => Some(given.clone()),
        (None, model) => model.as_ref().map(|m| m.classes.clone()),
    };
    let options = ReadOptions {
        format: args.format,
        categories,
        skip_invalid: args.skip_invalid,
        fields,
    };
    let input = if from_stdin {
        accord::classification::read::read_stdin(&options)?
    } else {
        let size = std::fs::metadata(&args.input)
            .map_err(|e| Error::read(&args.input, e))?
            .len();
        let bar = progress_bar(size, args.quiet);
        let report = |bytes: u64| bar.set_position(bytes);
        let input = accord::classification::read::read(&args.input, &options, &report)?;
        bar.finish_and_clear();
        input
    };
    let read_s = t.elapsed().as_secs_f64();

    // Pack.
    let t = Instant::now();
    let data_objects = input.data_objects;
    let rejects = input.rejects;
    let event = input.event;
    let column_types = input.column_types;
    // A Lambda event's payload is an input too, known only now.
    if let Some(e) = &event {
        outputs.refuse_input(&e.payload)?;
    }
    let class_order = match (&args.categories, &event) {
        (Some(_), _) => "(in --categories order)",
        (None, _) if workers_in.is_some() => "(the --workers-in model's, in its order)",
        (None, Some(e)) if e.categories.is_some() => {
            "(in the Lambda event's labelCategories order)"
        }
        _ => "(sorted: no category order given)",
    };
    let data = pack::pack(input.annotations, args.duplicates)?;
    let pack_s = t.elapsed().as_secs_f64();
    let s = &data.stats;
    if !args.quiet {
        say!(
            "accord: {} of {} by {}, {} {class_order}; {} repeated (item, worker) annotation{}{}",
            count(s.annotations, "annotation"),
            count(s.items, "item"),
            count(s.workers, "worker"),
            count(s.classes, "class"),
            s.duplicates,
            if s.duplicates == 1 { "" } else { "s" },
            match (s.duplicates, args.duplicates) {
                (0, _) => String::new(),
                (_, DuplicatePolicy::Keep) => " (all kept)".into(),
                (_, DuplicatePolicy::First) =>
                    format!(" ({} dropped, first kept)", s.duplicates_dropped),
            }
        );
        if s.items_without_annotations > 0 {
            say!(
                "accord: {} no annotation: no label in CSV output; in Ground Truth output the class prior's label, marked \"human-annotated\": \"no\"",
                if s.items_without_annotations == 1 {
                    "1 item has".to_string()
                } else {
                    format!("{} items have", s.items_without_annotations)
                }
            );
        }
    }

    // Fit.
    let t = Instant::now();
    let spinner = if args.quiet || data.n_annotations() < 1_000_000 {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("accord: {spinner} {msg} ({elapsed})")
                .expect("valid template"),
        )
    };
    let verbose = args.verbose && !args.quiet;
    let mut previous_ll: Option<f64> = None;
    let mut on_iteration = |iteration: usize, ll: f64| {
        if verbose {
            let change = previous_ll.map_or(String::new(), |p| {
                format!(", |ΔLL|/|LL| {:.3e}", (ll - p).abs() / ll.abs())
            });
            spinner.suspend(|| {
                say!("accord: iteration {iteration}: log-likelihood {ll:.10e}{change}")
            });
            previous_ll = Some(ll);
        }
        spinner.set_message(format!("iteration {iteration}, objective {ll:.6e}"));
        spinner.tick();
    };
    let mut consolidator = Consolidator::with_params(params);
    if let Some(known) = known {
        consolidator = consolidator.known(known);
    }
    if let Some(threshold) = args.drop_spammers {
        consolidator = consolidator.drop_spammers(threshold);
    }
    if let Some(model) = workers_in {
        consolidator = consolidator.workers_in(model);
    }
    let labels = consolidator.fit_packed_on(selected, data, &mut on_iteration)?;
    spinner.finish_and_clear();
    let fit_s = t.elapsed().as_secs_f64();
    if let (Some(e), false) = (&labels.gpu_failure, args.quiet) {
        say!(
            "accord: warning: the GPU backend failed ({}); finished on the CPU",
            super::flags(e)
        );
    }
    let (data, fit) = (&labels.data, &labels.fit);

    // Write: every output to its temporary, then all renamed together.
    let t = Instant::now();
    let out_format = args.out_format.unwrap_or(
        match args.out.as_deref().and_then(OutputFormat::from_extension) {
            Some(format) => format,
            None if event.is_some() => OutputFormat::GtResponse,
            None => OutputFormat::Csv,
        },
    );
    let event_attribute = event.as_ref().and_then(|e| e.label_attribute.clone());
    let event_job = event.as_ref().and_then(|e| e.job_name().map(str::to_owned));
    let write_options = WriteOptions {
        format: out_format,
        posteriors: args.posteriors,
        label_attribute: args
            .label_attribute
            .clone()
            .or(event_attribute)
            .unwrap_or_else(|| "label".into()),
        data_type: args.data_type,
        job_name: args
            .job_name
            .clone()
            .or(event_job)
            .unwrap_or_else(|| "accord".into()),
        creation_date: args
            .creation_date
            .clone()
            .unwrap_or_else(write::now_iso8601),
        column_types,
    };
    let fill =
        |out: &mut dyn Write| write::write_labels(out, data, fit, &data_objects, &write_options);
    if let Some(path) = &args.out {
        outputs.write(path, fill)?;
    }
    if let Some(path) = &args.workers_out {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if OutputFormat::from_extension(path) == Some(OutputFormat::Parquet) {
            let worker_type = column_types.map(|t| t.worker);
            outputs.write(path, |out| {
                write::parquet::write_workers(out, data, fit, worker_type)
            })?;
        } else {
            let tally = labels.known_tally();
            let extras = write::WorkerExtras {
                dropped: labels.spammers.as_ref().map(|s| s.dropped.as_slice()),
                known: tally.as_deref(),
            };
            if json {
                let model = labels.job_model();
                outputs.write(path, |out| write::write_job_model(out, &model, &extras))?;
            } else {
                outputs.write(path, |out| {
                    write::write_workers_with(out, data, fit, &extras)
                })?;
            }
        }
    }
    if let Some(path) = &args.review_out {
        let ranked = rank_for_review(data, fit, args.review_by);
        let count = args.review_count.unwrap_or(ranked.len());
        outputs.write(path, |out| write_review(out, data, fit, &ranked, count))?;
    }
    if let Some(path) = &rejects_path {
        outputs.write(path, |out| io::write_rejects_to(out, &rejects))?;
    }
    outputs.commit()?;
    if args.out.is_none() {
        let stdout = std::io::stdout();
        let mut lock = std::io::BufWriter::new(stdout.lock());
        fill(&mut lock)?;
        lock.flush()?;
    }
    let write_s = t.elapsed().as_secs_f64();

    if !args.quiet {
        super::consolidate_known::print_summary(&labels);
        if let (Some(resumed), Some(path)) = (&labels.resumed, &args.workers_in) {
            say!(
                "accord: resumed from {}: {} ({} known worker{} start from their tables with their past counts as a prior; {} new from the population table)",
                path.display(),
                resumed.method.name(),
                resumed.known_workers,
                if resumed.known_workers == 1 { "" } else { "s" },
                resumed.new_workers,
            );
        }
        say!("accord: {}", fit_summary(fit));
        if let Some(calibration) = &fit.calibration {
            say!("accord: {}", calibration_summary(calibration));
        }
        let target = args
            .out
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string());
        say!(
            "accord: wrote {} to {target} in {:.3} s",
            count(data.n_items(), "label"),
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.len(), path);
        }
    }
    let mut gold_score_s = 0.0;
    if let (Some(gold), false) = (&gold, args.quiet) {
        let t = Instant::now();
        let (correct, scored) = accord::eval::gold_accuracy(data, &fit.labels, gold);
        gold_score_s = t.elapsed().as_secs_f64();
        let accuracy = if scored == 0 {
            f64::NAN
        } else {
            correct as f64 / scored as f64
        };
        say!("accord: accuracy on gold: {accuracy:.4} ({correct} of {scored} gold items)");
    }
    if verbose {
        let gold_s = if gold.is_some() {
            format!(", gold {:.3} s", gold_read_s + gold_score_s)
        } else {
            String::new()
        };
        say!(
            "accord: phases: read {read_s:.3} s, pack {pack_s:.3} s, fit {fit_s:.3} s, write {write_s:.3} s{gold_s}; peak memory {:.0} MiB",
            peak_memory_mib()
        );
    }
    Ok(())
}

/// `1 item`, `2 items`; `3 classes`.
pub fn count(n: usize, noun: &str) -> String {
    let plural = if noun.ends_with("ss") || noun.ends_with('x') {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    };
    format!("{n} {}", if n == 1 { noun } else { plural.as_str() })
}

/// `the host` for host-side methods, else the backend's name.
fn place(ran_on: &str) -> &str {
    if ran_on == "host" {
        "the host"
    } else {
        ran_on
    }
}

/// `hds on cpu (2 threads): 15 iterations, converged, log-likelihood ...`:
/// where the fit ran, how long, and whether it settled.
pub fn fit_summary(fit: &accord::classification::Consolidation) -> String {
    let ll = fit
        .log_likelihood
        .last()
        .map_or(String::new(), |ll| format!(", log-likelihood {ll:.6e}"));
    let start = match fit.start {
        StartUsed::Default => "",
        StartUsed::Spectral => " from the spectral start",
        StartUsed::VotesBetter => " from majority vote (it ended with the higher log-likelihood)",
        StartUsed::SpectralUnavailable => {
            " from majority vote (the spectral start cannot run on this data)"
        }
    };
    let chose = fit.choice.as_ref().map_or(String::new(), choice_summary);
    let ran = fit.choice.as_ref().map_or(fit.method, |c| c.method);
    if ran.info().max_iter.is_none() {
        return format!("{chose}{} on {}: one pass", ran.name(), place(&fit.ran_on));
    }
    let (unit, settled) = if !fit.has_stopping_test {
        ("round", "a fixed number (the method has no stopping test)")
    } else if fit.converged {
        ("iteration", "converged")
    } else {
        ("iteration", "not converged (raise --max-iter?)")
    };
    format!(
        "{chose}{} on {}: {} {unit}{}{start}, {settled}{ll}",
        ran.name(),
        place(&fit.ran_on),
        fit.iterations,
        if fit.iterations == 1 { "" } else { "s" },
    )
}

/// `auto chose hds by held-out log-likelihood per answer (5 folds over
/// 8070 answers): ds -0.61, ...; ` ahead of the chosen fit's summary.
fn choice_summary(choice: &accord::classification::chooser::Choice) -> String {
    let scores: Vec<String> = choice
        .scores
        .iter()
        .map(|(name, score)| format!("{name} {score:.4}"))
        .collect();
    format!(
        "auto chose {} by held-out log-likelihood per answer ({} folds over {}: {}); ",
        choice.chosen,
        choice.folds,
        count(choice.annotations, "annotation"),
        scores.join(", ")
    )
}

/// `confidence calibrated on 5,242 held-out answers (5 folds): agreement
/// 0.40 → 0.55, ...` : the map from an item's agreement to its confidence.
pub fn calibration_summary(c: &accord::classification::Calibration) -> String {
    let points: Vec<String> = c
        .bins
        .iter()
        .map(|b| {
            format!(
                "{:.2}: {:.2} → {:.2} (T {:.2})",
                b.share, b.posterior, b.accuracy, b.temperature
            )
        })
        .collect();
    let known = if c.known > 0 {
        format!(" and {} known-item labels", c.known)
    } else {
        String::new()
    };
    format!(
        "confidence calibrated on {}{known} ({} folds); by share of answers agreeing, the fold fits' mean label probability → how often the held-out answers say it is right: {} (--confidence raw gives the model's posterior)",
        count(c.answers, "held-out answer"),
        c.folds,
        points.join(", ")
    )
}

/// This process's peak resident memory (VmHWM), in MiB; 0 where unknown.
pub fn peak_memory_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn progress_bar(size: u64, quiet: bool) -> ProgressBar {
    if quiet || size < PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "accord: reading {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {wide_bar}",
        )
        .expect("valid template"),
    );
    bar
}
