//! `accord bench --task spans`: generated texts (workers per text from
//! --per-item, labels from --classes), then `accord consolidate --task
//! spans` end to end in a child process per method, and its F1 on gold.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use accord::eval::spans::{read_span_table, score_spans};
use accord::spans::SpanMethod;
use accord::synth::spans::{write_span_dataset, SpanSpec};

use super::bench::{line_after, run_timed, Args, BenchHost};

#[derive(Debug, serde::Serialize)]
struct Row {
    texts: usize,
    per_text: usize,
    workers: usize,
    labels: usize,
    method: String,
    end_to_end_s: f64,
    phases: String,
    iterations: String,
    peak_mib: f64,
    f1: f64,
}

/// Runs consolidate on the set in `dir`; (seconds, phases, summary, peak MiB).
fn end_to_end(dir: &Path, method: SpanMethod) -> anyhow::Result<(f64, String, String, f64)> {
    let (seconds, stderr) = run_timed(
        Command::new(std::env::current_exe()?)
            .args(["consolidate", "--task", "spans"])
            .arg(dir.join("spans.csv"))
            .arg("--responses")
            .arg(dir.join("responses.csv"))
            .arg("--texts")
            .arg(dir.join("texts.jsonl"))
            .args(["--method", method.name(), "--verbose", "-o"])
            .arg(dir.join(format!("out-{}.csv", method.name()))),
    )?;
    let find = |prefix: &str| line_after(&stderr, prefix);
    let phases = find("accord: phases: ");
    let (phase_text, peak) = phases
        .split_once("; peak memory ")
        .unwrap_or((&phases, "0 MiB"));
    let peak_mib = peak.trim_end_matches(" MiB").parse().unwrap_or(0.0);
    let summary = find(&format!("accord: {} on the host: ", method.name()));
    Ok((seconds, phase_text.to_string(), summary, peak_mib))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        Some(names) => names
            .iter()
            .map(|m| m.spans())
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![SpanMethod::default()],
    };
    let mut out = std::io::stdout().lock();
    let tmp = tempfile::tempdir()?;
    let root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let host = BenchHost::new(&[]);
    if !args.json {
        writeln!(out, "{}", host.title())?;
        writeln!(
            out,
            "data: generated texts of 12 words, {} workers per text, {} labels, pool = texts / 1000 (20..10000); e2e = accord consolidate --task spans in a child process (read, tokenise, fit, write); F1 = exact-span F1 on the generated gold",
            args.per_item, args.classes
        )?;
        writeln!(
            out,
            "{:>9} {:>9} {:>9} {:>8} {:>6}  {:<40} phases",
            "texts", "spans", "method", "e2e s", "F1", "fit"
        )?;
    }
    let mut rows = Vec::new();
    for &texts in &args.sizes {
        let mut spec = SpanSpec::new(texts, 1);
        spec.per_text = args.per_item;
        spec.labels = args.classes;
        let dir = root.join(format!("spans-{texts}-{}-{}", spec.per_text, spec.labels));
        if !dir.join("spans.csv").is_file() {
            write_span_dataset(&spec, &dir)?;
        }
        let gold: Vec<_> = read_span_table(&dir.join("gold.csv"))?
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        let spans = std::fs::read(dir.join("spans.csv"))?
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .saturating_sub(1);
        for &method in &methods {
            let (seconds, phases, summary, peak_mib) = end_to_end(&dir, method)?;
            let pred: Vec<_> = read_span_table(&dir.join(format!("out-{}.csv", method.name())))?
                .into_iter()
                .map(|(r, _)| r)
                .collect();
            let f1 = score_spans(&gold, &pred, None).micro.f1;
            if !args.json {
                writeln!(
                    out,
                    "{texts:>9} {spans:>9} {:>9} {seconds:>8.2} {f1:>6.4}  {summary:<40} {phases}; peak {peak_mib:.0} MiB",
                    method.name()
                )?;
            }
            rows.push(Row {
                texts,
                per_text: spec.per_text,
                workers: spec.workers,
                labels: spec.labels,
                method: method.name().into(),
                end_to_end_s: seconds,
                phases,
                iterations: summary,
                peak_mib,
                f1,
            });
        }
    }
    if args.json {
        let report = host.report(serde_json::json!({ "rows": rows }));
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
