//! `accord consolidate --task boxes`: worker boxes in, consolidated boxes,
//! Ground Truth's object-detection manifest and a worker report out.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use accord::boxes::{
    read_boxes, write_box_workers, write_boxes, BoxConsolidator, BoxMethod, BoxOutputFormat,
    BoxParams, BoxReadOptions, BoxWriteOptions,
};
use accord::classification::write::OutputFormat;
use accord::io::{self, Rejects};
use accord::Error;

use super::consolidate::{count, open_outputs, peak_memory_mib, report_rejects, Args};

/// The box parameters the flags set.
pub fn box_params(args: &Args, method: BoxMethod) -> BoxParams {
    let mut params = BoxParams::new(method);
    params.iou = args.iou;
    if let Some(q) = args.quorum {
        params.quorum = q;
    }
    if let Some(c) = args.min_confidence {
        params.min_confidence = c;
    }
    if let Some(m) = args.max_iter {
        params.max_iter = m;
    }
    if let Some(t) = args.tol {
        params.tol = t;
    }
    params.seed = args.seed as u32;
    params
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let method = args.method.map_or(
        Ok(BoxMethod::default()),
        super::consolidate::MethodArg::boxes,
    )?;
    if args.out.as_deref() == Some(Path::new("-")) {
        args.out = None;
    }
    if args.input == Path::new("-") || args.input.is_dir() {
        return Err(Error::Usage(format!(
            "{}: name the file of boxes (CSV, TSV, JSON Lines) or the Ground Truth request",
            args.input.display()
        ))
        .into());
    }
    let params = box_params(&args, method);
    params.validate()?;
    let (mut outputs, rejects_path) =
        open_outputs(&args, &[], &[args.responses.as_ref(), args.images.as_ref()])?;

    // Read.
    let t = Instant::now();
    let mut rejects = Rejects::new(args.skip_invalid);
    let options = BoxReadOptions {
        categories: args.categories.clone(),
    };
    let input = read_boxes(
        &args.input,
        args.responses.as_deref(),
        args.images.as_deref(),
        &options,
        &mut rejects,
    )?;
    let read_s = t.elapsed().as_secs_f64();
    let data = &input.data;
    if data.n_answers() == 0 {
        return Err(Error::Usage(format!(
            "{}: no answers to consolidate{}",
            args.input.display(),
            if rejects.records.is_empty() {
                ""
            } else {
                " (every record was rejected)"
            }
        ))
        .into());
    }
    if !args.quiet {
        say!(
            "accord: {} in {} of {} by {}, {}; {} clipped to the image",
            count(data.boxes.len(), "box"),
            count(data.n_answers(), "answer"),
            count(data.n_images(), "image"),
            count(data.workers.len(), "worker"),
            count(data.classes.len(), "class"),
            count(data.clipped, "box"),
        );
        for note in &input.notes {
            say!("accord: note: {note}");
        }
        let without_size = data.image_sizes.iter().filter(|s| s.is_none()).count();
        if without_size > 0
            && matches!(
                args.out_format,
                Some(OutputFormat::Manifest | OutputFormat::GtResponse)
            )
        {
            say!(
                "accord: note: {} no size (inputImageProperties, or --images): IoU needs none, but their boxes are not clipped and the manifest has no image_size for them",
                if without_size == 1 { "1 image has".to_string() } else { format!("{without_size} images have") }
            );
        }
    }

    // Fit.
    let t = Instant::now();
    let labels = BoxConsolidator::new(method).params(params).fit(data)?;
    let fit_s = t.elapsed().as_secs_f64();

    // Write: every output to its temporary, then all renamed together.
    let t = Instant::now();
    let write_options = BoxWriteOptions {
        format: match args.out_format.unwrap_or(OutputFormat::Csv) {
            OutputFormat::Csv => BoxOutputFormat::Csv,
            OutputFormat::Manifest => BoxOutputFormat::Manifest,
            OutputFormat::GtResponse => BoxOutputFormat::GtResponse,
            OutputFormat::Parquet => unreachable!("refused by consolidate::run"),
        },
        label_attribute: args
            .label_attribute
            .clone()
            .unwrap_or_else(|| "bounding-box".into()),
        job_name: args.job_name.clone().unwrap_or_else(|| "accord".into()),
        creation_date: args
            .creation_date
            .clone()
            .unwrap_or_else(accord::classification::write::now_iso8601),
        depth: 3,
    };
    let fill = |out: &mut dyn Write| write_boxes(out, data, &labels, &write_options);
    if let Some(path) = &args.out {
        outputs.write(path, fill)?;
    }
    if let Some(path) = &args.workers_out {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        outputs.write(path, |out| write_box_workers(out, data, &labels, json))?;
    }
    if let Some(path) = &rejects_path {
        outputs.write(path, |out| io::write_rejects_to(out, &rejects.records))?;
    }
    outputs.commit()?;
    if args.out.is_none() {
        let stdout = std::io::stdout();
        let mut lock = std::io::BufWriter::new(stdout.lock());
        fill(&mut lock)?;
        lock.flush()?;
    }
    let write_s = t.elapsed().as_secs_f64();

    if !args.quiet {
        let kept: usize = labels.objects.iter().map(Vec::len).sum();
        let empty = labels.objects.iter().filter(|o| o.is_empty()).count();
        let em = match labels.log_likelihood {
            Some(ll) => format!(
                ": {} EM iterations, {}, log-likelihood {ll:.6e}",
                labels.iterations,
                if labels.converged {
                    "converged"
                } else {
                    "not converged (raise --max-iter?)"
                }
            ),
            None => String::new(),
        };
        say!("accord: {}{em}", method.name());
        let target = args
            .out
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string());
        say!(
            "accord: wrote {} on {} ({} with none) to {target} in {:.3} s",
            count(kept, "box"),
            count(data.n_images(), "image"),
            empty,
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.records.len(), path);
        }
        if args.verbose {
            say!(
                "accord: phases: read {read_s:.3} s, fit {fit_s:.3} s, write {write_s:.3} s; peak memory {:.0} MiB",
                peak_memory_mib()
            );
        }
    }
    Ok(())
}
