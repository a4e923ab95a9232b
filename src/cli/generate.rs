use std::path::PathBuf;

use accord::synth::boxes::{write_box_dataset, BoxSpec};
use accord::synth::segmentation::{write_seg_dataset, SegSpec};
use accord::synth::spans::{write_span_dataset, SpanSpec};
use accord::synth::{write_dataset, AccuracyDist, SynthFormat, SynthSpec};

use super::consolidate::Task;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write labels.csv (or labels.jsonl) and gold.csv (item,label) into;
    /// for segmentation, annotations.jsonl, gold.jsonl and the PNG masks.
    #[arg(short, long)]
    out: PathBuf,
    /// What to generate: classification labels, segmentation scenes with worker masks, or
    /// multi-label selections (selections.csv, responses.csv, gold.csv item,label,present).
    #[arg(long, value_enum, default_value_t = Task::Classification)]
    task: Task,
    /// Segmentation and boxes: number of images.
    #[arg(long, default_value_t = 100)]
    images: usize,
    /// Segmentation and boxes: image size, WIDTHxHEIGHT [default: segmentation 256x256, boxes 1280x720].
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Boxes: mean objects per image (Poisson, so some images have none).
    #[arg(long, default_value_t = 5.0)]
    objects: f64,
    /// Segmentation: shapes per image.
    #[arg(long, default_value_t = 6)]
    shapes: usize,
    /// Number of items (for spans: texts).
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    /// Spans: words per text.
    #[arg(long, default_value_t = 12)]
    words: usize,
    /// Number of workers [default: 100; segmentation: 5, each labelling every image,
    /// skills spread from 0.95 down to 0.25].
    #[arg(long)]
    workers: Option<usize>,
    /// Number of classes K (named 0..K; for segmentation, class 0 is the background) [default: 5;
    /// boxes 1].
    #[arg(long)]
    classes: Option<usize>,
    /// Distinct workers per item.
    #[arg(long, default_value_t = 5)]
    per_item: usize,
    /// Worker accuracy distribution: `uniform:LO,HI` or `beta:A,B` (a bare LO,HI means uniform).
    #[arg(long, value_parser = parse_accuracy, default_value = "uniform:0.55,0.95")]
    accuracy: AccuracyDist,
    /// Share of workers who answer uniformly at random.
    #[arg(long, default_value_t = 0.0)]
    spammers: f64,
    /// Share of workers who give the class after the true one, with their accuracy's probability.
    #[arg(long, default_value_t = 0.0)]
    adversarial: f64,
    /// Skewed class priors: P(class c) ∝ 1/(c+1)^S (0 = uniform).
    #[arg(long, default_value_t = 0.0)]
    class_skew: f64,
    /// Skewed worker loads: worker w is picked with weight 1/(w+1)^S, so a few label most items (0 = uniform).
    #[arg(long, default_value_t = 0.0)]
    load_skew: f64,
    /// Output format of the labels.
    #[arg(long, value_enum, default_value_t = SynthFormat::Csv)]
    format: SynthFormat,
    /// Seed of the generator: the same seed and options give the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Generate a named preset instead: `birds` is the demo set in datasets/birds.
    #[arg(long, value_parser = ["birds"])]
    preset: Option<String>,
}

pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 512x512")?;
    let parse = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    Ok((parse(w)?, parse(h)?))
}

fn run_segmentation(args: Args) -> anyhow::Result<()> {
    let spec = SegSpec {
        images: args.images,
        width: args.size.unwrap_or((256, 256)).0,
        height: args.size.unwrap_or((256, 256)).1,
        workers: args.workers.unwrap_or(5),
        classes: args.classes.unwrap_or(5),
        shapes: args.shapes,
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    let path = write_seg_dataset(&spec, &args.out)?;
    say!(
        "accord: wrote {} images ({}×{}, {} classes) with {} worker masks each to {} and gold.jsonl in {:.1} s",
        spec.images,
        spec.width,
        spec.height,
        spec.classes,
        spec.workers,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Multi-label: selections.csv, responses.csv and gold.csv (every label of
/// every item), `--classes` labels, `--per-item` workers per item.
fn run_multilabel(args: &Args) -> anyhow::Result<()> {
    use accord::synth::multilabel::{write_multilabel_dataset, MultiSpec};
    let spec = MultiSpec {
        spammers: args.spammers,
        ..MultiSpec::new(
            args.items,
            args.workers.unwrap_or(100),
            args.classes.unwrap_or(5),
            args.per_item,
            args.seed,
        )
    };
    let started = std::time::Instant::now();
    let path = write_multilabel_dataset(&spec, &args.out)?;
    say!(
        "accord: wrote {} answers ({} items × {}, {} workers, {} labels) to {}, responses.csv and gold.csv in {:.1} s",
        spec.items * spec.per_item,
        spec.items,
        spec.per_item,
        spec.workers,
        spec.labels,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_boxes(args: Args) -> anyhow::Result<()> {
    let (width, height) = args.size.unwrap_or((1280, 720));
    let spec = BoxSpec {
        images: args.images,
        width,
        height,
        workers: args.workers.unwrap_or(20),
        per_image: args.per_item,
        objects: args.objects,
        classes: args.classes.unwrap_or(1),
        seed: args.seed,
    };
    let started = std::time::Instant::now();
    std::fs::create_dir_all(&args.out).map_err(|e| accord::Error::Write {
        path: args.out.clone(),
        source: e,
    })?;
    write_box_dataset(&spec, &args.out)?;
    say!(
        "accord: wrote {} images ({width}×{height}, about {} objects each, {} workers of {} per image) to {} (boxes.csv, responses.csv, images.csv, gold.csv, gold_images.csv) in {:.1} s",
        spec.images,
        spec.objects,
        spec.per_image,
        spec.workers,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run_spans(args: Args) -> anyhow::Result<()> {
    let mut spec = SpanSpec::new(args.items, args.seed);
    if let Some(w) = args.workers {
        spec.workers = w;
    }
    spec.per_text = args.per_item;
    spec.labels = args.classes.unwrap_or(spec.labels);
    spec.words = args.words;
    let started = std::time::Instant::now();
    let path = write_span_dataset(&spec, &args.out)?;
    say!(
        "accord: wrote {} texts of {} words, {} workers each from {}, {} labels, to {} (with texts.jsonl, responses.csv, gold.csv) in {:.1} s",
        spec.texts,
        spec.words,
        spec.per_text,
        spec.workers,
        spec.labels,
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn parse_accuracy(s: &str) -> Result<AccuracyDist, String> {
    let (kind, values) = s.split_once(':').unwrap_or(("uniform", s));
    let (a, b) = values
        .split_once(',')
        .ok_or("expected two numbers, e.g. uniform:0.55,0.95 or beta:8,2")?;
    let parse = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    match kind {
        "uniform" => Ok(AccuracyDist::Uniform(parse(a)?, parse(b)?)),
        "beta" => Ok(AccuracyDist::Beta(parse(a)?, parse(b)?)),
        other => Err(format!(
            "unknown distribution {other:?}: use uniform:LO,HI or beta:A,B"
        )),
    }
}

/// The largest counts `generate` accepts: beyond them a set would not fit
/// in memory or on a disk, and a typo (`--workers 1e12`) should say so
/// rather than abort.
const MAX_ITEMS: usize = 10_000_000_000;
const MAX_WORKERS: usize = 100_000_000;
const MAX_CLASSES: usize = 65_536;
const MAX_SHAPES: usize = 10_000;
const MAX_IMAGES: usize = 10_000_000;

/// Refuses counts beyond the bounds above, naming the flag.
fn check_counts(args: &Args) -> Result<(), accord::Error> {
    let checks = [
        ("items", args.items, MAX_ITEMS),
        ("workers", args.workers.unwrap_or(0), MAX_WORKERS),
        ("classes", args.classes.unwrap_or(0), MAX_CLASSES),
        ("shapes", args.shapes, MAX_SHAPES),
        ("images", args.images, MAX_IMAGES),
        ("words", args.words, MAX_SHAPES),
    ];
    for (flag, value, max) in checks {
        if value > max {
            return Err(accord::Error::Usage(format!(
                "--{flag} {value} is more than {max}"
            )));
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    check_counts(&args)?;
    if args.out.exists() && !args.out.is_dir() {
        return Err(accord::Error::Usage(format!(
            "{} is a file: -o names the folder to write the dataset into",
            args.out.display()
        ))
        .into());
    }
    if args.task == Task::Segmentation {
        return run_segmentation(args);
    }
    if args.task == Task::Multilabel {
        return run_multilabel(&args);
    }
    if args.task == Task::Boxes {
        return run_boxes(args);
    }
    if args.task == Task::Spans {
        return run_spans(args);
    }
    let spec = match args.preset.as_deref() {
        Some("birds") => SynthSpec::birds(),
        _ => SynthSpec {
            accuracy: args.accuracy,
            spammers: args.spammers,
            adversarial: args.adversarial,
            class_skew: args.class_skew,
            load_skew: args.load_skew,
            ..SynthSpec::numbered(
                args.items,
                args.workers.unwrap_or(100),
                args.classes.unwrap_or(5),
                args.per_item,
                args.seed,
            )
        },
    };
    let started = std::time::Instant::now();
    let path = write_dataset(
        &spec,
        &args.out,
        if args.preset.is_some() {
            SynthFormat::Csv
        } else {
            args.format
        },
    )?;
    say!(
        "accord: wrote {} annotations ({} items × {}, {} workers, {} classes) to {} and gold.csv in {:.1} s",
        spec.items * spec.per_item,
        spec.items,
        spec.per_item,
        spec.workers,
        spec.classes.len(),
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
