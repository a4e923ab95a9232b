use std::path::PathBuf;

use accord::synth::{write_csv_dataset, SynthSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write labels.csv (item,worker,label) and gold.csv (item,label) into.
    #[arg(long)]
    out: PathBuf,
    /// Number of items.
    #[arg(long, default_value_t = 10_000)]
    items: usize,
    /// Number of workers.
    #[arg(long, default_value_t = 100)]
    workers: usize,
    /// Number of classes K (named 0..K).
    #[arg(long, default_value_t = 5)]
    classes: usize,
    /// Distinct workers per item.
    #[arg(long, default_value_t = 5)]
    per_item: usize,
    /// Worker accuracies are drawn uniformly from LO,HI.
    #[arg(long, value_parser = parse_range, default_value = "0.55,0.95")]
    accuracy: (f64, f64),
    /// Seed of the generator: the same seed gives the same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Generate a named preset instead: `birds` is the demo set in datasets/birds.
    #[arg(long, value_parser = ["birds"])]
    preset: Option<String>,
}

fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (lo, hi) = s.split_once(',').ok_or("expected LO,HI, e.g. 0.55,0.95")?;
    let parse = |v: &str| v.trim().parse::<f64>().map_err(|e| format!("{v:?}: {e}"));
    Ok((parse(lo)?, parse(hi)?))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = match args.preset.as_deref() {
        Some("birds") => SynthSpec::birds(),
        _ => SynthSpec {
            accuracy_range: args.accuracy,
            ..SynthSpec::numbered(
                args.items,
                args.workers,
                args.classes,
                args.per_item,
                args.seed,
            )
        },
    };
    write_csv_dataset(&spec, &args.out)?;
    eprintln!(
        "accord: wrote {} items × {} annotations each ({} workers, {} classes) to {}",
        spec.items,
        spec.per_item,
        spec.workers,
        spec.classes.len(),
        args.out.display()
    );
    Ok(())
}
