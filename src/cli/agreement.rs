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
        annotated_items,
    } = agreement(&data);
    let without = data.n_items() - annotated_items;
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = json!({
            "items": annotated_items,
            "items_without_annotations": without,
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
        "{} of {}, {}",
        super::consolidate::count(data.n_annotations(), "annotation"),
        super::consolidate::count(annotated_items, "item"),
        super::consolidate::count(data.n_classes(), "class")
    )?;
    if without > 0 {
        writeln!(
            out,
            "{} without annotations left out of every figure",
            super::consolidate::count(without, "item")
        )?;
    }
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
