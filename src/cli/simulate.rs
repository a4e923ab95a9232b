//! `accord simulate`: the annotator-count experiment on a labelled set.

use std::io::Write;
use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::classification::Method;
use accord::engine::pack::{pack, DuplicatePolicy};
use accord::eval::simulate::{run as run_experiment, Design};
use accord::Error;
use indicatif::{ProgressBar, ProgressStyle};

use super::consolidate::select_backend;
use accord::engine::select::BackendChoice;

/// Most subsamples per annotator count: each is a full fit.
pub const MAX_REPEATS: usize = 1_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Annotations (CSV/TSV, JSON Lines or a Ground Truth request).
    pub input: PathBuf,
    /// Gold labels, CSV item,label.
    #[arg(long)]
    gold: PathBuf,
    /// Annotations per item to try, from 1 to this [default: the most any item has, at most
    /// 10]; capped at the most any item has.
    #[arg(long)]
    max_annotators: Option<usize>,
    /// Random subsamples per number of annotators.
    #[arg(long, default_value_t = 10)]
    repeats: usize,
    /// Methods to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "mv,hds")]
    methods: Vec<Method>,
    /// Seed of the subsampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the fits run (CPU fits run in parallel across subsamples).
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Also draw the error against the number of annotators, with error bars and the
    /// single-worker line, SVG or PNG by the extension.
    #[arg(long, value_name = "FILE.svg|png")]
    plot: Option<PathBuf>,
    /// Print the results as JSON (single_worker_error, gold_items, points: annotators, method,
    /// mean_error, standard_error, errors).
    #[arg(long)]
    json: bool,
    /// Print nothing but the results.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let methods = args.methods.clone();
    if args.repeats > MAX_REPEATS {
        return Err(Error::Usage(format!(
            "--repeats {} is more than {MAX_REPEATS}",
            args.repeats
        ))
        .into());
    }
    if args.max_annotators == Some(0) || args.repeats == 0 {
        return Err(
            Error::Usage("--max-annotators and --repeats must be at least 1".into()).into(),
        );
    }
    if let Some(path) = &args.plot {
        accord::report::plot::check_figure_path(path)?;
        super::consolidate::refuse_clashes(&[path], &[&args.input, &args.gold])?;
    }
    let gold = accord::eval::read_gold(&args.gold)?;
    let bar = super::progress::reading_bar(&args.input, args.quiet)?;
    let input = accord::classification::read::read(&args.input, &ReadOptions::default(), &|n| {
        bar.set_position(n)
    })?;
    bar.finish_and_clear();
    let data = pack(input.annotations, DuplicatePolicy::Keep)?;
    let gold = gold.for_packed(&data);
    let selected = select_backend(args.backend, args.quiet)?;
    let backend: &dyn accord::engine::backend::Backend = selected.backend.as_ref();
    // Beyond the most annotations any item has, every line would be flat.
    let most = (0..data.n_items())
        .map(|i| data.item_range(i).len())
        .max()
        .unwrap_or(1)
        .max(1);
    let max_annotators = args.max_annotators.unwrap_or(10).min(most);
    if args.max_annotators.is_some_and(|m| m > most) && !args.quiet {
        say!("accord: --max-annotators capped at {most}: no item has more annotations");
    }
    let design = Design {
        methods: methods.clone(),
        max_annotators,
        repeats: args.repeats,
        seed: args.seed,
    };
    let jobs = (max_annotators * args.repeats) as u64;
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(jobs).with_style(
            ProgressStyle::with_template(
                "accord: {bar:30} {pos}/{len} subsamples fitted, {eta} left",
            )
            .expect("template"),
        )
    };
    let experiment = run_experiment(&data, &gold, &design, backend, !selected.is_gpu, &|| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    if let Some(path) = &args.plot {
        let name = args
            .input
            .parent()
            .and_then(|p| p.file_name())
            .map_or(String::new(), |n| format!("{}: ", n.to_string_lossy()));
        accord::report::plot::write_error_vs_annotators(
            path,
            &experiment,
            &format!("{name}error against gold by annotators per item"),
        )?;
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&experiment)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "error against gold on {} items, mean ± standard error over {} subsamples; backend {}",
        experiment.gold_items,
        args.repeats,
        backend.name()
    )?;
    write!(out, "annotators")?;
    for m in &methods {
        write!(out, " {:>17}", m.name())?;
    }
    writeln!(out)?;
    for r in 1..=max_annotators {
        write!(out, "{r:>10}")?;
        for p in experiment.points.iter().filter(|p| p.annotators == r) {
            write!(out, " {:>8.4} ± {:<6.4}", p.mean_error, p.standard_error)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "single worker (every annotation against gold): {:.4}",
        experiment.single_worker_error
    )?;
    Ok(())
}
