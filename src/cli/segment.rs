//! `accord consolidate --task segmentation`: masks in, consolidated masks,
//! confidence and Ground Truth's manifest out.

use std::path::PathBuf;
use std::time::Instant;

use accord::engine::backend::cpu::seg::Smoothing;
use accord::segmentation::manifest::MaskManifest;
use accord::segmentation::read::{read_gt_segmentation_request, MaskPaths};
use accord::segmentation::write::{SegWriteOptions, SegWriter};
use accord::segmentation::{MaskSource, SegConsolidator, SegMethod, SegParams, SegProgress};
use accord::Error;
use accord::{
    classification::read::InputFormat,
    io::{self, Rejects},
};

use super::consolidate::{
    peak_memory_mib, rejects_path, report_rejects, same_file, select_backend, Args, MethodArg,
};

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let method = args
        .method
        .map_or(Ok(SegMethod::default()), MethodArg::segmentation)?;
    let Some(out) = args.out.clone() else {
        return Err(Error::Usage(
            "segmentation writes a folder of masks and a manifest: name it with -o DIR".into(),
        )
        .into());
    };
    if out.as_os_str() == "-" {
        return Err(Error::Usage(
            "segmentation writes a folder of masks, not to stdout: name it with -o DIR".into(),
        )
        .into());
    }
    if args.input.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a folder: name the manifest of masks or the Ground Truth request",
            args.input.display()
        ))
        .into());
    }
    if same_file(&out, &args.input) {
        return Err(Error::Usage(format!("the output {} is the input file", out.display())).into());
    }
    let rejects_path = rejects_path(&args, Some(out.join("rejects.csv")))?;
    // Before any work: the output folder can be made, and a rejects file
    // outside it can be written.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !out.is_dir() && !parent.is_dir() {
        return Err(Error::Usage(format!(
            "cannot write {}: the folder {} does not exist",
            out.display(),
            parent.display()
        ))
        .into());
    }
    if let Some(path) = rejects_path.as_ref().filter(|p| !p.starts_with(&out)) {
        io::check_output_path(path)?;
    }
    // Writing into the folder the inputs come from would replace them (the
    // input manifest, the workers' masks).
    if let Some(out_dir) = io::file_identity(&out) {
        let inputs = std::iter::once(args.input.as_path())
            .chain(args.allow_paths_outside.iter().map(PathBuf::as_path));
        for input in inputs {
            if io::file_identity(input).is_some_and(|i| i.starts_with(&out_dir)) {
                return Err(Error::Usage(format!(
                    "the output folder {} holds the input {}: choose another folder",
                    out.display(),
                    input.display()
                ))
                .into());
            }
        }
    }
    let mut params = SegParams::new(method);
    params.seed = args.seed as u32;
    params.ties = args.ties;
    params.scope = args.staple_scope;
    if let Some(m) = args.max_iter {
        params.max_iter = m as u32;
    }
    params.smoothing = match (args.sigma, args.radius) {
        (_, Some(radius)) => Smoothing::Box { radius },
        (Some(sigma), None) if sigma.is_finite() && sigma >= 0.0 => Smoothing::Gaussian { sigma },
        (Some(sigma), None) => {
            return Err(Error::Usage(format!("--sigma {sigma}: give a number ≥ 0")).into())
        }
        (None, None) => params.smoothing,
    };
    params.validate()?;

    // Read: a manifest is checked (every mask decoded once) and kept only
    // if it fits the budget; a request is read whole.
    let t = Instant::now();
    let format = match args.format {
        Some(f) => f,
        None => accord::classification::read::detect_format(&args.input)?,
    };
    let categories = args.categories.as_deref();
    let mut rejects = Rejects::new(args.skip_invalid);
    let checking = super::progress::spinner(args.quiet);
    checking.set_message(format!("checking the masks of {}", args.input.display()));
    let (source, colours, without_masks): (Box<dyn MaskSource>, _, _) = match format {
        InputFormat::Jsonl => {
            let paths = MaskPaths {
                allowed_outside: args.allow_paths_outside.clone(),
                output_folder: Some(out.clone()),
            };
            let manifest = MaskManifest::open(
                &args.input,
                categories,
                args.max_pixels,
                &paths,
                args.memory_budget,
                &mut rejects,
            )?;
            let colours = manifest.colours().cloned();
            (Box::new(manifest), colours, Vec::new())
        }
        InputFormat::GtRequest => {
            let input = read_gt_segmentation_request(
                &args.input,
                categories,
                args.max_pixels,
                &mut rejects,
            )?;
            (Box::new(input.batch), input.colours, input.without_masks)
        }
        other => {
            return Err(Error::Usage(format!(
                "segmentation reads a JSON Lines manifest of masks or a Ground Truth request, not {other:?}"
            ))
            .into())
        }
    };
    checking.finish_and_clear();
    let read_s = t.elapsed().as_secs_f64();
    let n_images = source.n_images();
    if !args.quiet {
        let masks: u64 = (0..n_images).map(|i| source.image_size(i).2 as u64).sum();
        say!(
            "accord: {masks} masks of {n_images} images by {} workers, {} classes",
            source.worker_names().len(),
            source.class_names().len()
        );
        if !without_masks.is_empty() {
            say!(
                "accord: {} images have no mask and are left out of the output: {}",
                without_masks.len(),
                without_masks.join(", ")
            );
        }
    }

    // Fit batch by batch, each batch's masks written as it is done;
    // retrying on the CPU when an automatically chosen GPU fails.
    let t = Instant::now();
    let options = SegWriteOptions {
        label_attribute: args
            .label_attribute
            .clone()
            .unwrap_or_else(|| "label".into()),
        job_name: args.job_name.clone().unwrap_or_else(|| "accord".into()),
        creation_date: args
            .creation_date
            .clone()
            .unwrap_or_else(accord::classification::write::now_iso8601),
        confidence_maps: args.confidence_maps,
    };
    let mut writer = SegWriter::create(&out, source.class_names(), colours.as_ref(), &options)?;
    let selected = select_backend(args.backend, args.quiet)?;
    let bar = super::progress::images_bar(n_images as u64, args.quiet);
    let mut on_pass = |p: &SegProgress| {
        bar.set_message(format!(
            "{} pass {} (at most {}){}",
            method.name(),
            p.pass,
            p.max_passes,
            if p.writes { ", writing" } else { "" }
        ));
        if p.images_done == 0 {
            bar.reset();
        }
        bar.set_position(p.images_done as u64);
    };
    let result = SegConsolidator::with_params(params)
        .memory_budget(args.memory_budget)
        .fit_source_on(selected, source.as_ref(), &mut writer, &mut on_pass)?;
    bar.finish_and_clear();
    if let (Some(e), false) = (&result.gpu_failure, args.quiet) {
        say!(
            "accord: warning: the GPU backend failed ({}); finished on the CPU",
            super::flags(e)
        );
    }
    let fit = &result.summary;
    let fit_s = t.elapsed().as_secs_f64();

    // Commit the masks, manifest and table together.
    let t = Instant::now();
    let manifest: PathBuf = writer.finish()?;
    if let Some(path) = &rejects_path {
        io::write_rejects(path, &rejects.records)?;
    }
    let write_s = t.elapsed().as_secs_f64();
    if !args.quiet {
        let mean =
            fit.image_confidence.iter().sum::<f64>() / fit.image_confidence.len().max(1) as f64;
        say!(
            "accord: {} on {}: {} round{}{}, mean image confidence {mean:.4}",
            method.name(),
            result.backend,
            fit.iterations,
            if fit.iterations == 1 { "" } else { "s" },
            if fit.converged {
                ""
            } else {
                " (not settled: raise --max-iter?)"
            },
        );
        say!(
            "accord: wrote {n_images} masks and {} in {:.3} s",
            manifest.display(),
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.records.len(), path);
        }
        if args.verbose {
            say!(
                "accord: phases: read and check {read_s:.3} s, fit and write masks {fit_s:.3} s ({} batch{} within --memory-budget {} MiB, {} pass{} over the masks), commit {write_s:.3} s; peak memory {:.0} MiB",
                fit.batches,
                if fit.batches == 1 { "" } else { "es" },
                args.memory_budget >> 20,
                fit.passes,
                if fit.passes == 1 { "" } else { "es" },
                peak_memory_mib()
            );
        }
    }
    Ok(())
}

/// A byte count: a number, optionally with K, M, G or T (powers of 1024;
/// `KiB`, `MB`... read the same), e.g. `512M`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: give a number of bytes, e.g. 512M or 2G"))?;
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{text:?}: the unit is K, M, G or T")),
    };
    let bytes = number * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?}: give at least 1 byte"));
    }
    Ok(bytes as u64)
}
