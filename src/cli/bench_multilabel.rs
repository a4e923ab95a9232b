//! `accord bench --task multilabel`: generated selections of `--classes`
//! labels at each `--sizes` count of (item, worker, label) selections, run
//! end to end (`accord consolidate --task multilabel` in a child process:
//! read, pack, EM, calibration, write) on each backend and method.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use accord::multilabel::MultiMethod;
use accord::synth::multilabel::{write_multilabel_dataset, MultiSpec};

use super::bench::{line_after, run_timed, Args, BenchBackend, BenchHost};

#[derive(Debug, serde::Serialize)]
struct Row {
    selections: usize,
    answers: usize,
    items: usize,
    workers: usize,
    labels: usize,
    backend: BenchBackend,
    method: String,
    end_to_end_s: Option<f64>,
    phases: Option<String>,
    summary: Option<String>,
    note: Option<String>,
}

/// A spec whose expected number of ticks is about `selections`.
fn spec_for(selections: usize, labels: usize, per_item: usize) -> MultiSpec {
    let base = MultiSpec::new(1, 1, labels, 1, 1);
    let (p0, p1) = base.prevalence;
    let mean_sens = (base.sensitivity.0 + base.sensitivity.1) / 2.0;
    let mean_false = (base.false_ticks.0 + base.false_ticks.1) / 2.0;
    let ticks_per_answer: f64 = (0..labels)
        .map(|l| {
            let t = if labels == 1 {
                0.0
            } else {
                l as f64 / (labels - 1) as f64
            };
            let p = p0 * (p1 / p0).powf(t);
            p * mean_sens + (1.0 - p) * mean_false
        })
        .sum();
    let items =
        ((selections as f64 / (per_item as f64 * ticks_per_answer)).round() as usize).max(1);
    let workers = (items / 50).clamp(per_item.max(20), 200_000);
    MultiSpec::new(items, workers, labels, per_item, 1)
}

fn end_to_end(
    dir: &Path,
    backend: BenchBackend,
    method: MultiMethod,
) -> anyhow::Result<(f64, String, String)> {
    let (seconds, stderr) = run_timed(
        Command::new(std::env::current_exe()?)
            .arg("consolidate")
            .arg(dir.join("selections.csv"))
            .arg("--responses")
            .arg(dir.join("responses.csv"))
            .args([
                "--task",
                "multilabel",
                "--method",
                method.name(),
                "--backend",
            ])
            .arg(if backend == BenchBackend::Cpu {
                "cpu"
            } else {
                "gpu"
            })
            .args(["--verbose", "-o"])
            .arg(dir.join(format!("out-{}.csv", method.name()))),
    )?;
    let find = |prefix: &str| line_after(&stderr, prefix);
    Ok((
        seconds,
        find("accord: phases: "),
        find(&format!("accord: {} ", method.name())),
    ))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        Some(names) => names
            .iter()
            .map(|m| {
                MultiMethod::from_name(m.name()).ok_or_else(|| {
                    accord::Error::Usage(format!(
                        "--methods {}: multi-label takes hds, ds or mv",
                        m.name()
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![MultiMethod::default()],
    };
    let mut out = std::io::stdout().lock();
    let tmp = tempfile::tempdir()?;
    let root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let host = BenchHost::new(&args.backends);
    if !args.json {
        writeln!(out, "{}", host.title())?;
        writeln!(
            out,
            "data: generated multi-label, {} labels, {} workers per item, workers = items / 50; e2e = accord consolidate --task multilabel in a child process (read, pack, EM, calibration, write CSV)",
            args.classes, args.per_item()
        )?;
    }
    let mut rows = Vec::new();
    for &size in args.sizes() {
        let spec = spec_for(size, args.classes, args.per_item());
        let dir = root.join(format!("multilabel-{size}-{}", args.classes));
        if !dir.join("selections.csv").is_file() {
            std::fs::create_dir_all(&dir)?;
            write_multilabel_dataset(&spec, &dir)?;
        }
        let selections = std::fs::read(dir.join("selections.csv"))?
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            - 1;
        for &backend in &args.backends {
            for &method in &methods {
                let mut row = Row {
                    selections,
                    answers: spec.items * spec.per_item,
                    items: spec.items,
                    workers: spec.workers,
                    labels: spec.labels,
                    backend,
                    method: method.name().into(),
                    end_to_end_s: None,
                    phases: None,
                    summary: None,
                    note: None,
                };
                if let (BenchBackend::Gpu, Some(Err(e))) = (backend, &host.gpu) {
                    row.note = Some(format!("skipped: {e}"));
                } else {
                    match end_to_end(&dir, backend, method) {
                        Ok((s, phases, summary)) => {
                            row.end_to_end_s = Some(s);
                            row.phases = Some(phases);
                            row.summary = Some(summary);
                        }
                        Err(e) => row.note = Some(e.to_string()),
                    }
                }
                if !args.json {
                    writeln!(
                        out,
                        "{} selections ({} answers, {} items, {} workers, {} labels) {:?} {}: e2e {} — {}{}",
                        row.selections,
                        row.answers,
                        row.items,
                        row.workers,
                        row.labels,
                        row.backend,
                        row.method,
                        row.end_to_end_s
                            .map_or("-".into(), |s| format!("{s:.2} s")),
                        row.phases.clone().unwrap_or_default(),
                        row.note.clone().map_or(String::new(), |n| format!(" ({n})")),
                    )?;
                }
                rows.push(row);
            }
        }
    }
    if args.json {
        writeln!(out, "{}", host.report(serde_json::json!({ "rows": rows })))?;
    }
    Ok(())
}
