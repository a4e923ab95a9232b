//! `accord bench --task boxes`: a generated box job written to files, then
//! read, consolidated and written, each phase timed (the median of three
//! runs), per method, on the CPU (the box methods run on the host).

use std::io::Write;
use std::time::Instant;

use accord::boxes::{
    read_boxes, write_boxes, BoxConsolidator, BoxMethod, BoxReadOptions, BoxWriteOptions,
};
use accord::io::Rejects;
use accord::synth::boxes::{write_box_dataset, BoxSpec};

use super::bench::{Args, BenchHost};
use super::consolidate::peak_memory_mib;

#[derive(Debug, serde::Serialize)]
struct Row {
    method: String,
    read_s: f64,
    fit_s: f64,
    write_s: f64,
    total_s: f64,
    boxes_per_s: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let methods = match &args.methods {
        Some(names) => names
            .iter()
            .map(|m| m.boxes())
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![BoxMethod::default()],
    };
    let mut out = std::io::stdout().lock();
    let tmp = tempfile::tempdir()?;
    let spec = BoxSpec {
        images: args.images,
        workers: (args.workers * 4).max(20),
        per_image: args.workers,
        seed: 1,
        ..BoxSpec::default()
    };
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf())
        .join(format!("boxes-{}-{}", spec.images, spec.per_image));
    if !dir.join("gold_images.csv").is_file() {
        std::fs::create_dir_all(&dir)?;
        write_box_dataset(&spec, &dir)?;
    }
    let host = BenchHost::new(&[]);
    let (boxes, responses, images) = (
        dir.join("boxes.csv"),
        dir.join("responses.csv"),
        dir.join("images.csv"),
    );
    let bytes: u64 = [&boxes, &responses, &images]
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    let mut rows = Vec::new();
    let mut n_boxes = 0usize;
    for method in &methods {
        let (mut read, mut fit, mut write) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            let t = Instant::now();
            let input = read_boxes(
                &boxes,
                Some(&responses),
                Some(&images),
                &BoxReadOptions::default(),
                &mut Rejects::strict(),
            )?;
            read.push(t.elapsed().as_secs_f64());
            n_boxes = input.data.boxes.len();
            let t = Instant::now();
            let labels = BoxConsolidator::new(*method).fit(&input.data)?;
            fit.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let path = tmp.path().join("out.csv");
            let mut file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            write_boxes(&mut file, &input.data, &labels, &BoxWriteOptions::default())?;
            file.flush()?;
            write.push(t.elapsed().as_secs_f64());
        }
        let totals: Vec<f64> = (0..3).map(|i| read[i] + fit[i] + write[i]).collect();
        let total = median(totals);
        rows.push(Row {
            method: method.name().into(),
            read_s: median(read),
            fit_s: median(fit),
            write_s: median(write),
            total_s: total,
            boxes_per_s: n_boxes as f64 / total,
        });
    }
    if args.json {
        let value = host.report(serde_json::json!({
            "task": "boxes",
            "images": spec.images,
            "workers_per_image": spec.per_image,
            "boxes": n_boxes,
            "input_bytes": bytes,
            "rows": rows,
            "peak_memory_mib": peak_memory_mib(),
        }));
        writeln!(out, "{value}")?;
        return Ok(());
    }
    writeln!(out, "{}", host.title())?;
    writeln!(
        out,
        "data: {} generated images × {} workers, {} boxes ({:.0} MiB of CSV: boxes, responses, images); median of 3 runs, in-process",
        spec.images,
        spec.per_image,
        n_boxes,
        bytes as f64 / (1 << 20) as f64
    )?;
    writeln!(
        out,
        "{:<10} {:>9} {:>9} {:>9} {:>9} {:>12}",
        "method", "read s", "fit s", "write s", "total s", "boxes/s"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<10} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>12.0}",
            r.method, r.read_s, r.fit_s, r.write_s, r.total_s, r.boxes_per_s
        )?;
    }
    writeln!(out, "peak memory {:.0} MiB", peak_memory_mib())?;
    Ok(())
}
