//! Flag parsing and printing; all work is done by the library.

/// Writes a line to stderr, ignoring failure: a log that cannot be written
/// (a full disk, `2>/dev/full`, a closed pipe) must not stop or change the
/// run, where `eprintln!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod agreement;
mod bench;
mod bench_boxes;
mod bench_multilabel;
mod bench_seg;
mod bench_spans;
mod bench_traffic;
mod boxes;
mod consolidate;
mod consolidate_known;
mod evaluate;
mod evaluate_boxes;
mod evaluate_class;
mod evaluate_multilabel;
mod evaluate_spans;
mod generate;
mod info;
mod multilabel;
mod progress;
mod report;
mod report_seg;
mod report_spans;
mod segment;
mod simulate;
mod spans;

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
    Consolidate(Box<consolidate::Args>),
    /// Generate a synthetic labelled dataset (with gold) from the Dawid-Skene model.
    Generate(generate::Args),
    /// Score consolidated labels against gold (accuracy, per-class scores, confusion, calibration), or masks with --task segmentation (IoU, pixel accuracy).
    Evaluate(evaluate::Args),
    /// Print the GPU adapters, the backend `--backend auto` picks, and its limits.
    Info(info::Args),
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
        Command::Consolidate(args) => consolidate::run(*args),
        Command::Generate(args) => generate::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Info(args) => info::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Agreement(args) => agreement::run(args),
        Command::Report(args) => report::run(args),
    }
}

/// An error as the user reads it: the library names its parameters in
/// backticks (`max_iter`); on the command line they are flags (--max-iter).
pub fn describe(err: &anyhow::Error) -> String {
    // accord's own errors already say their cause once ("cannot read x: Is
    // a directory"); printing the chain would repeat it.
    match err.downcast_ref::<accord::Error>() {
        Some(e) => flags(&e.to_string()),
        None => flags(&format!("{err:#}")),
    }
}

/// Turns each backticked parameter name (`max_pixels`) into its flag
/// (--max-pixels).
pub fn flags(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close)
                if close > 0
                    && after[..close]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
            {
                out.push_str(&rest[..open]);
                out.push_str("--");
                out.push_str(&after[..close].replace('_', "-"));
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..open + 1]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn backticked_parameters_become_flags() {
        assert_eq!(
            super::flags("`max_iter` must be at least 1; use `backend` cpu"),
            "--max-iter must be at least 1; use --backend cpu"
        );
        assert_eq!(
            super::flags("a `Not A Param` and a lone ` tick"),
            "a `Not A Param` and a lone ` tick"
        );
    }
}
