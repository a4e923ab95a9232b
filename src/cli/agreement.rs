//! `accord agreement`: how much the annotations agree, without gold.

use std::io::Write;
use std::path::PathBuf;

use accord::classification::read::ReadOptions;
use accord::engine::pack::{pack, DuplicatePolicy};
use accord::eval::metrics::{agreement, Agreement};
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Annotations (CSV/TSV, JSON Lines or a Ground Truth request).
    pub input: PathBuf,
    /// Print the figures as JSON (items, annotations, krippendorff_alpha, consistency, uncertainty).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let input = accord::classification::read::read(&args.input, &ReadOptions::default(), &|_| {})?;
    let data = pack(input.annotations, DuplicatePolicy::Keep)?;
    let Agreement {
        alpha,
        consistency,
        uncertainty,
    } = agreement(&data);
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "items": data.n_items(),
            "annotations": data.n_annotations(),
            "krippendorff_alpha": alpha,
            "consistency": consistency,
            "uncertainty": uncertainty,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "{} annotations of {} items, {} classes",
        data.n_annotations(),
        data.n_items(),
        data.n_classes()
    )?;
    match alpha {
        Some(a) => writeln!(out, "Krippendorff's alpha (nominal): {a:.4}")?,
        None => writeln!(
            out,
            "Krippendorff's alpha: undefined (too few pairable values, or one value only)"
        )?,
    }
    writeln!(
        out,
        "consistency (posterior of the majority label, one-coin skills from agreement with it): {consistency:.4}"
    )?;
    writeln!(
        out,
        "uncertainty (mean entropy of the vote shares, nats): {uncertainty:.4}"
    )?;
    Ok(())
}
