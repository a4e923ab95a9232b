//! `accord bench`: the CPU/GPU × method × size matrix on generated data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use accord::classification::Method;

use super::consolidate::{MethodArg, Task};
use accord::bench::time_steps;
use accord::classification::read::ReadOptions;
use accord::engine::backend::cpu::CpuBackend;
use accord::engine::backend::gpu::GpuBackend;
use accord::engine::backend::Backend;
use accord::engine::pack::{self, DuplicatePolicy};
use accord::synth::{write_dataset, SynthFormat};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BenchBackend {
    Cpu,
    Gpu,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to benchmark: classification EM, or segmentation of generated masks.
    #[arg(long, value_enum, default_value_t = Task::Classification)]
    pub task: Task,
    /// Segmentation and boxes: images to generate.
    #[arg(long, default_value_t = 100)]
    pub images: usize,
    /// Segmentation: image size, WIDTHxHEIGHT.
    #[arg(long, value_parser = super::generate::parse_size, default_value = "512x512")]
    pub size: (u32, u32),
    /// Segmentation and boxes: workers (masks, answers) per image.
    #[arg(long, default_value_t = 5)]
    pub workers: usize,
    /// Annotation counts to run (e.g. 1e5,1e6,1e7); multi-label: (item, worker, label) selections;
    /// spans: texts.
    #[arg(long, value_delimiter = ',', value_parser = parse_count, default_value = "1e5,1e6")]
    pub sizes: Vec<usize>,
    /// Backends to run; a GPU row is skipped with the reason when there is no adapter.
    #[arg(long, value_delimiter = ',', value_enum, default_value = "cpu,gpu")]
    pub backends: Vec<BenchBackend>,
    /// Methods to run [default: auto, as consolidate; segmentation: smooth-mv].
    #[arg(long, value_delimiter = ',', value_enum)]
    pub methods: Option<Vec<MethodArg>>,
    /// Classes K of the generated data (for segmentation, background included).
    #[arg(long, default_value_t = 5)]
    pub classes: usize,
    /// Annotations per item of the generated data.
    #[arg(long, default_value_t = 5)]
    pub per_item: usize,
    /// EM iterations timed per kernel measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub iterations: usize,
    /// Skip the end-to-end runs (read, pack, fit, write in a child process).
    #[arg(long)]
    kernels_only: bool,
    /// Keep the generated data in this folder (default: a temporary folder).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The machine a benchmark runs on: the GPU backend when `backends` asks
/// for it (or why there is none), the adapter's and CPU's names, for the
/// report's title and JSON.
pub struct BenchHost {
    pub gpu: Option<Result<GpuBackend, String>>,
    pub adapter: String,
    cpu: String,
    threads: usize,
}

impl BenchHost {
    pub fn new(backends: &[BenchBackend]) -> Self {
        let gpu = backends
            .contains(&BenchBackend::Gpu)
            .then(|| GpuBackend::new().map_err(|e| e.to_string()));
        let adapter = match &gpu {
            Some(Ok(g)) => format!(
                "{} ({:?}, {:?})",
                g.context().adapter_info.name,
                g.context().adapter_info.backend,
                g.context().adapter_info.device_type
            ),
            Some(Err(e)) => format!("none ({})", super::flags(e)),
            None => "not used".into(),
        };
        BenchHost {
            gpu,
            adapter,
            cpu: accord::bench::cpu_model(),
            threads: rayon::current_num_threads(),
        }
    }

    /// The first line of a table.
    pub fn title(&self) -> String {
        format!(
            "accord {} bench — cpu: {} ({} threads); gpu adapter: {}",
            env!("CARGO_PKG_VERSION"),
            self.cpu,
            self.threads,
            self.adapter
        )
    }

    /// The JSON report: the host's fields, then `fields`' (an object).
    pub fn report(&self, fields: serde_json::Value) -> serde_json::Value {
        let mut report = serde_json::json!({
            "accord": env!("CARGO_PKG_VERSION"),
            "cpu": self.cpu,
            "threads": self.threads,
            "gpu_adapter": self.adapter,
        });
        if let (Some(r), serde_json::Value::Object(f)) = (report.as_object_mut(), fields) {
            r.extend(f);
        }
        report
    }
}

impl Args {
    /// `--sizes`: annotation counts (multi-label: selections).
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// `--per-item`.
    pub fn per_item(&self) -> usize {
        self.per_item
    }
}

fn parse_count(s: &str) -> Result<usize, String> {
    let v: f64 = s.trim().parse().map_err(|e| format!("{s:?}: {e}"))?;
    if !(v >= 1.0 && v.is_finite()) {
        return Err(format!("{s:?} is not a positive count"));
    }
    Ok(v as usize)
}

#[derive(Debug, serde::Serialize)]
struct Row {
    annotations: usize,
    items: usize,
    workers: usize,
    classes: usize,
    backend: BenchBackend,
    method: String,
    iteration_ms: Option<f64>,
    e_step_ms: Option<f64>,
    m_step_ms: Option<f64>,
    annotations_per_s: Option<f64>,
    end_to_end_s: Option<f64>,
    phases: Option<String>,
    iterations: Option<usize>,
    peak_mib: Option<f64>,
    note: Option<String>,
    /// GPU rows: one iteration's modelled bytes, dispatches and readbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    traffic: Option<super::bench_traffic::IterationTraffic>,
}

/// Runs `command` (a child `accord consolidate`), timed: its wall seconds
/// and its stderr; an error carrying the stderr when it fails.
pub fn run_timed(command: &mut Command) -> anyhow::Result<(f64, String)> {
    let started = Instant::now();
    let output = command.output()?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        anyhow::bail!("accord consolidate failed: {stderr}");
    }
    Ok((seconds, stderr))
}

/// The rest of the first line of `stderr` that starts with `prefix`, or "".
pub fn line_after(stderr: &str, prefix: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or("")
        .to_string()
}

/// Runs `accord consolidate` on `labels` and reads its summary.
fn end_to_end(
    labels: &Path,
    out: &Path,
    backend: BenchBackend,
    method: Method,
) -> anyhow::Result<(f64, String, usize, f64)> {
    let (seconds, stderr) = run_timed(
        Command::new(std::env::current_exe()?)
            .arg("consolidate")
            .arg(labels)
            .args([
                "--backend",
                if backend == BenchBackend::Cpu {
                    "cpu"
                } else {
                    "gpu"
                },
            ])
            .args(["--method", method.name(), "--verbose", "-o"])
            .arg(out),
    )?;
    let phases = line_after(&stderr, "accord: phases: ");
    let (phase_text, peak) = phases
        .split_once("; peak memory ")
        .unwrap_or((&phases, "0 MiB"));
    let peak_mib: f64 = peak.trim_end_matches(" MiB").parse().unwrap_or(0.0);
    let summary = format!("accord: {} on ", method.name());
    let iterations = stderr
        .lines()
        .find(|l| l.starts_with(&summary))
        .and_then(|l| l.split("): ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Ok((seconds, phase_text.to_string(), iterations, peak_mib))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.task == Task::Segmentation {
        return super::bench_seg::run(args);
    }
    if args.task == Task::Multilabel {
        return super::bench_multilabel::run(args);
    }
    if args.task == Task::Boxes {
        return super::bench_boxes::run(args);
    }
    if args.task == Task::Spans {
        return super::bench_spans::run(args);
    }
    let methods = match &args.methods {
        Some(names) => names
            .iter()
            .map(|m| m.classification())
            .collect::<Result<Vec<Method>, _>>()?,
        None => vec![Method::default()],
    };
    // Through io::Write: a closed pipe is an io error main treats as success.
    let mut out = std::io::stdout().lock();
    let tmp = tempfile::tempdir()?;
    let root = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let host = BenchHost::new(&args.backends);
    let (gpu, adapter) = (&host.gpu, &host.adapter);
    if !args.json {
        writeln!(out, "{}", host.title())?;
        writeln!(
            out,
            "data: generated, K = {}, {} annotations per item, workers = items / 50 (20..200000)",
            args.classes, args.per_item
        )?;
        writeln!(out, "iter ms = one EM iteration (E + M; for mv: counting the votes), median of --iterations; e2e = accord consolidate in a child process")?;
        writeln!(
            out,
            "{:>11} {:>4} {:>8} {:>10} {:>9} {:>9} {:>12} {:>9} {:>5} {:>9}  phases",
            "annotations",
            "bknd",
            "method",
            "iter ms",
            "E ms",
            "M ms",
            "ann/s/iter",
            "e2e s",
            "iters",
            "peak MiB"
        )?;
    }
    let mut rows = Vec::new();
    for &size in &args.sizes {
        let spec = accord::bench::bench_spec(size, args.classes, args.per_item);
        let (items, workers) = (spec.items, spec.workers);
        let dir = root.join(format!("bench-{size}"));
        let labels = dir.join("labels.csv");
        if !labels.is_file() {
            write_dataset(&spec, &dir, SynthFormat::Csv)?;
        }
        let input = accord::classification::read::read(&labels, &ReadOptions::default(), &|_| {})?;
        let data = pack::pack(input.annotations, DuplicatePolicy::Keep)?;
        for &backend_kind in &args.backends {
            let backend: Box<dyn Backend> = match backend_kind {
                BenchBackend::Cpu => Box::new(CpuBackend),
                BenchBackend::Gpu => match gpu {
                    Some(Ok(g)) => Box::new(g.clone()),
                    _ => {
                        rows.push(Row {
                            annotations: data.n_annotations(),
                            items,
                            workers,
                            classes: args.classes,
                            backend: backend_kind,
                            method: "-".into(),
                            iteration_ms: None,
                            e_step_ms: None,
                            m_step_ms: None,
                            annotations_per_s: None,
                            end_to_end_s: None,
                            phases: None,
                            iterations: None,
                            peak_mib: None,
                            note: Some(format!("skipped: {adapter}")),
                            traffic: None,
                        });
                        if !args.json {
                            writeln!(
                                out,
                                "{:>11} {:>4} skipped: no GPU adapter ({adapter})",
                                data.n_annotations(),
                                "gpu"
                            )?;
                        }
                        continue;
                    }
                },
            };
            for &method in &methods {
                let steps = time_steps(&data, backend.as_ref(), method, args.iterations)?;
                let traffic = match (backend_kind, gpu) {
                    (BenchBackend::Gpu, Some(Ok(g))) => {
                        super::bench_traffic::measure(&data, g, method)?
                    }
                    _ => None,
                };
                let e2e = if args.kernels_only {
                    None
                } else {
                    Some(end_to_end(
                        &labels,
                        &dir.join("out.csv"),
                        backend_kind,
                        method,
                    )?)
                };
                let row = Row {
                    annotations: data.n_annotations(),
                    items,
                    workers,
                    classes: args.classes,
                    backend: backend_kind,
                    method: method.name().into(),
                    iteration_ms: Some(steps.iteration_s() * 1e3),
                    e_step_ms: Some(steps.e_step_s * 1e3),
                    m_step_ms: Some(steps.m_step_s * 1e3),
                    annotations_per_s: Some(data.n_annotations() as f64 / steps.iteration_s()),
                    end_to_end_s: e2e.as_ref().map(|e| e.0),
                    phases: e2e.as_ref().map(|e| e.1.clone()),
                    iterations: e2e.as_ref().map(|e| e.2),
                    peak_mib: e2e.as_ref().map(|e| e.3),
                    note: None,
                    traffic,
                };
                if !args.json {
                    let opt = |v: Option<f64>, p: usize| {
                        v.map_or("-".to_string(), |x| format!("{x:.p$}"))
                    };
                    writeln!(
                        out,
                        "{:>11} {:>4} {:>8} {:>10.2} {:>9.2} {:>9.2} {:>12.3e} {:>9} {:>5} {:>9}  {}",
                        row.annotations,
                        if backend_kind == BenchBackend::Cpu { "cpu" } else { "gpu" },
                        row.method,
                        row.iteration_ms.unwrap_or(0.0),
                        row.e_step_ms.unwrap_or(0.0),
                        row.m_step_ms.unwrap_or(0.0),
                        row.annotations_per_s.unwrap_or(0.0),
                        opt(row.end_to_end_s, 2),
                        row.iterations.map_or("-".into(), |i| i.to_string()),
                        opt(row.peak_mib, 0),
                        row.phases.clone().unwrap_or_default()
                    )?;
                    if let Some(t) = &row.traffic {
                        super::bench_traffic::print(&mut out, method, t)?;
                    }
                }
                rows.push(row);
            }
        }
    }
    if args.json {
        let report = host.report(serde_json::json!({
            "classes": args.classes,
            "per_item": args.per_item,
            "rows": rows,
        }));
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
