//! Flag parsing and printing; all work is done by the library.

mod agreement;
mod bench;
mod bench_seg;
mod consolidate;
mod evaluate;
mod evaluate_class;
mod generate;
mod info;
mod report;
mod segment;
mod simulate;

use clap::{Parser, Subcommand};

/// accord: consolidates noisy crowd annotations into one label per item.
#[derive(Debug, Parser)]
#[command(name = "accord", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consolidate annotations: one label per item (classification) or per pixel (--task segmentation).
    Consolidate(consolidate::Args),
    /// Generate a synthetic labelled dataset (with gold) from the Dawid-Skene model.
    Generate(generate::Args),
    /// Score consolidated segmentation masks against gold masks (mean IoU, pixel accuracy).
    Evaluate(evaluate::Args),
    /// Print the GPU adapters, the backend `--backend auto` picks, and its limits.
    Info,
    /// Time the methods on CPU and GPU over generated data of several sizes.
    Bench(bench::Args),
    /// How much annotations agree without gold: Krippendorff's alpha, consistency, uncertainty.
    Agreement(agreement::Args),
    /// Error against gold as annotations per item grow, per method (Ground Truth's notebook experiment).
    Simulate(simulate::Args),
    /// One self-contained HTML page about a labelled dataset: agreement, classes, workers, and with --gold the scores, confusion, calibration and the annotator-count experiment.
    Report(report::Args),
}

pub fn run() -> anyhow::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout (exit 0), usage errors to stderr (exit 2).
            e.exit();
        }
    };
    match cli.command {
        Command::Consolidate(args) => consolidate::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Info => info::run(),
        Command::Bench(args) => bench::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Agreement(args) => agreement::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// An error as the user reads it: library parameters named as their flags
/// (`max_iter` is `--max-iter`), other errors with their chain.
pub fn describe(err: &anyhow::Error) -> String {
    match err.downcast_ref::<accord::Error>() {
        Some(accord::Error::InvalidParam { name, problem }) => {
            format!("--{} {problem}", name.replace('_', "-"))
        }
        _ => format!("{err:#}"),
    }
}
