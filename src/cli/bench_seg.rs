//! `accord bench --task segmentation`: generated masks, PNG decoding timed
//! on its own, then each method on each backend.

use std::io::Write;
use std::time::Instant;

use accord::engine::backend::cpu::CpuBackend;
use accord::engine::backend::SegBackend;
use accord::segmentation::methods::{fit, SegParams};
use accord::segmentation::read::read_mask_manifest;
use accord::synth::segmentation::{write_seg_dataset, SegSpec};

use super::bench::{Args, BenchBackend, BenchHost};
use super::consolidate::peak_memory_mib;
use accord::segmentation::SegMethod;

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: BenchBackend,
    method: String,
    /// Median seconds of `fit` (upload, vote, smooth, decide, read back).
    fit_s: Option<f64>,
    images_per_s: Option<f64>,
    megapixels_per_s: Option<f64>,
    note: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        Some(names) => names
            .iter()
            .map(|m| m.segmentation())
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![SegMethod::default()],
    };
    let mut out = std::io::stdout().lock();
    let tmp = tempfile::tempdir()?;
    let (w, h) = args.size;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf())
        .join(format!("seg-{}-{w}x{h}-{}", args.images, args.workers));
    let spec = SegSpec {
        images: args.images,
        width: w,
        height: h,
        workers: args.workers,
        classes: args.classes,
        shapes: 6,
        seed: 1,
    };
    let manifest = dir.join("annotations.jsonl");
    if !manifest.is_file() {
        write_seg_dataset(&spec, &dir)?;
    }
    let t = Instant::now();
    let input = read_mask_manifest(
        &manifest,
        None,
        u64::MAX,
        &mut accord::io::Rejects::strict(),
    )?;
    let decode_s = t.elapsed().as_secs_f64();
    let batch = &input.batch;
    let pixels = batch.output_pixels() as f64;
    let host = BenchHost::new(&args.backends);
    let (gpu, adapter) = (&host.gpu, &host.adapter);
    if !args.json {
        writeln!(out, "{}", host.title())?;
        writeln!(
            out,
            "data: {} generated images of {w}×{h}, {} masks each, K = {}; PNG decoding of the {} masks: {decode_s:.2} s ({:.0} masks/s)",
            args.images,
            args.workers,
            args.classes,
            batch.mask_worker.len(),
            batch.mask_worker.len() as f64 / decode_s
        )?;
        writeln!(
            out,
            "fit s = median of --iterations runs of the fit alone (upload, vote, smoothing, decision, read-back), decoding excluded"
        )?;
        writeln!(
            out,
            "{:>4} {:>9} {:>9} {:>10} {:>10}",
            "bknd", "method", "fit s", "images/s", "Mpixel/s"
        )?;
    }
    let mut rows = Vec::new();
    for &kind in &args.backends {
        let backend: &dyn SegBackend = match (kind, gpu) {
            (BenchBackend::Cpu, _) => &CpuBackend,
            (BenchBackend::Gpu, Some(Ok(g))) => g,
            (BenchBackend::Gpu, _) => {
                if !args.json {
                    writeln!(out, "{:>4} skipped: no GPU adapter ({adapter})", "gpu")?;
                }
                rows.push(Row {
                    backend: kind,
                    method: "-".into(),
                    fit_s: None,
                    images_per_s: None,
                    megapixels_per_s: None,
                    note: Some(format!("skipped: {adapter}")),
                });
                continue;
            }
        };
        for &method in &methods {
            let params = SegParams::new(method);
            let mut times = Vec::new();
            for _ in 0..args.iterations.max(1) {
                let t = Instant::now();
                fit(batch, backend, &params)?;
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            let median = times[times.len() / 2];
            let row = Row {
                backend: kind,
                method: method.name().into(),
                fit_s: Some(median),
                images_per_s: Some(args.images as f64 / median),
                megapixels_per_s: Some(pixels / median / 1e6),
                note: None,
            };
            if !args.json {
                writeln!(
                    out,
                    "{:>4} {:>9} {:>9.3} {:>10.1} {:>10.1}",
                    if kind == BenchBackend::Cpu {
                        "cpu"
                    } else {
                        "gpu"
                    },
                    row.method,
                    median,
                    row.images_per_s.unwrap_or(0.0),
                    row.megapixels_per_s.unwrap_or(0.0)
                )?;
            }
            rows.push(row);
        }
    }
    if args.json {
        let report = host.report(serde_json::json!({
            "images": args.images,
            "size": [w, h],
            "workers": args.workers,
            "classes": args.classes,
            "decode_s": decode_s,
            "peak_mib": peak_memory_mib(),
            "rows": rows,
        }));
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        writeln!(out, "peak memory {:.0} MiB", peak_memory_mib())?;
    }
    Ok(())
}
