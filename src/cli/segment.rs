//! `accord consolidate --task segmentation`: masks in, consolidated masks,
//! confidence and Ground Truth's manifest out.

use std::path::PathBuf;
use std::time::Instant;

use accord::engine::backend::cpu::seg::Smoothing;
use accord::segmentation::read::{
    read_gt_segmentation_request, read_mask_manifest_with, MaskPaths,
};
use accord::segmentation::write::{write_segmentation, SegWriteOptions};
use accord::segmentation::{SegConsolidator, SegMethod, SegParams};
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

    // Read.
    let t = Instant::now();
    let format = match args.format {
        Some(f) => f,
        None => accord::classification::read::detect_format(&args.input)?,
    };
    let categories = args.categories.as_deref();
    let mut rejects = Rejects::new(args.skip_invalid);
    let input = match format {
        InputFormat::Jsonl => {
            let paths = MaskPaths {
                allowed_outside: args.allow_paths_outside.clone(),
                output_folder: Some(out.clone()),
            };
            read_mask_manifest_with(
                &args.input,
                categories,
                args.max_pixels,
                &paths,
                &mut rejects,
            )?
        }
        InputFormat::GtRequest => read_gt_segmentation_request(
            &args.input,
            categories,
            args.max_pixels,
            &mut rejects,
        )?,
        other => {
            return Err(Error::Usage(format!(
                "segmentation reads a JSON Lines manifest of masks or a Ground Truth request, not {other:?}"
            ))
            .into())
        }
    };
    let read_s = t.elapsed().as_secs_f64();
    let batch = &input.batch;
    if !args.quiet {
        say!(
            "accord: {} masks of {} images by {} workers, {} classes",
            batch.mask_worker.len(),
            batch.images.len(),
            batch.n_workers(),
            batch.n_classes()
        );
        if !input.without_masks.is_empty() {
            say!(
                "accord: {} images have no mask and are left out of the output: {}",
                input.without_masks.len(),
                input.without_masks.join(", ")
            );
        }
    }

    // Fit, retrying on the CPU when an automatically chosen GPU fails.
    let t = Instant::now();
    let selected = select_backend(args.backend, args.quiet)?;
    let result = SegConsolidator::with_params(params).fit_on(selected, batch)?;
    if let (Some(e), false) = (&result.gpu_failure, args.quiet) {
        say!(
            "accord: warning: the GPU backend failed ({}); finished on the CPU",
            super::flags(e)
        );
    }
    let fit = &result.fit;
    let fit_s = t.elapsed().as_secs_f64();

    // Write.
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
    let manifest: PathBuf = write_segmentation(&out, batch, input.colours.as_ref(), fit, &options)?;
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
            "accord: wrote {} masks and {} in {:.3} s",
            batch.images.len(),
            manifest.display(),
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.records.len(), path);
        }
        if args.verbose {
            say!(
                "accord: phases: read and decode {read_s:.3} s, fit {fit_s:.3} s, write {write_s:.3} s; peak memory {:.0} MiB",
                peak_memory_mib()
            );
        }
    }
    Ok(())
}
