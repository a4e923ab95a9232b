//! `accord consolidate --task multilabel`: flags to a
//! [`MultiLabelConsolidator`], then the outputs.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use accord::classification::write::OutputFormat;
use accord::io;
use accord::multilabel::read::{read, MultiReadOptions};
use accord::multilabel::write::{now_iso8601, write_labels, write_workers, MultiWriteOptions};
use accord::multilabel::{Decision, MultiLabelConsolidator, MultiMethod, MultiParams};
use accord::Error;

use super::consolidate::{
    count, open_outputs, peak_memory_mib, report_rejects, select_backend, Args, Decide,
};

/// Flags that mean nothing for multi-label input, refused rather than ignored.
fn refuse_other_tasks_flags(args: &Args) -> Result<(), Error> {
    let unused = [
        (args.columns.is_some(), "--columns"),
        (
            args.posteriors,
            "--posteriors (the confidence column is the posterior)",
        ),
        (args.review_out.is_some(), "--review-out"),
        (
            args.gold.is_some(),
            "--gold (use accord evaluate --task multilabel)",
        ),
    ];
    match unused.iter().find(|(given, _)| *given) {
        Some((_, flag)) => Err(Error::Usage(format!(
            "{flag} does not apply to --task multilabel"
        ))),
        None => Ok(()),
    }
}

/// The library's parameters from the flags.
pub fn params_of(args: &Args) -> anyhow::Result<MultiParams> {
    let mut p = MultiParams::default();
    if let Some(m) = args.method {
        p.method = MultiMethod::from_name(m.name()).ok_or_else(|| {
            Error::Usage(format!(
                "--method {} is not a multi-label method; --task multilabel takes hds, ds or mv",
                m.name()
            ))
        })?;
    }
    if let Some(m) = args.max_iter {
        p.max_iter = m;
    }
    if let Some(t) = args.tol {
        p.tol = t;
    }
    if let Some(c) = args.prior_correct {
        p.prior_correct = c;
    }
    p.prior_strength = args.prior_strength;
    p.decision = match args.decide {
        Decide::Threshold => Decision::Threshold(args.threshold),
        Decide::ExpectedF1 => Decision::ExpectedF1,
    };
    p.validate()?;
    Ok(p)
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    refuse_other_tasks_flags(&args)?;
    if args.out.as_deref() == Some(Path::new("-")) {
        args.out = None;
    }
    if args.input == Path::new("-") || args.input.is_dir() {
        return Err(Error::Usage(format!(
            "--task multilabel reads a file: name the selections CSV or the Ground Truth request, not {}",
            args.input.display()
        ))
        .into());
    }
    let params = params_of(&args)?;
    let (mut outputs, rejects_path) = open_outputs(&args, &[], &[args.responses.as_ref()])?;
    let selected = select_backend(args.backend, args.quiet || !args.verbose)?;

    let t = Instant::now();
    let input = read(
        &args.input,
        &MultiReadOptions {
            format: None,
            categories: args.categories.clone(),
            responses: args.responses.clone(),
            skip_invalid: args.skip_invalid,
        },
    )?;
    let read_s = t.elapsed().as_secs_f64();
    let (answers, rejects) = (input.answers, input.rejects);
    let s = answers.stats;
    if !args.quiet {
        say!(
            "accord: {} ticking {} of {} by {}, {} ({}); {} with no label (a \"no\" to every label), {} repeated label{} counted once, {} repeated (item, worker) answer{} ({})",
            count(s.responses, "answer"),
            count(s.selections, "label"),
            count(answers.n_items(), "item"),
            count(answers.n_workers(), "worker"),
            count(answers.n_labels(), "label"),
            if args.categories.is_some() { "in --categories order" } else { "sorted: no category order given" },
            s.empty_responses,
            s.repeated_labels,
            if s.repeated_labels == 1 { "" } else { "s" },
            s.repeated_responses,
            if s.repeated_responses == 1 { "" } else { "s" },
            "a request keeps a worker's first answer, a responses table counts a repeat once",
        );
    }

    let t = Instant::now();
    let verbose = args.verbose && !args.quiet;
    let mut on_iteration = |iteration: usize, ll: f64| {
        if verbose {
            say!("accord: iteration {iteration}: log-likelihood {ll:.10e}");
        }
    };
    let result =
        MultiLabelConsolidator::with_params(params).fit_on(selected, answers, &mut on_iteration)?;
    let fit_s = t.elapsed().as_secs_f64();
    if let (Some(e), false) = (&result.gpu_failure, args.quiet) {
        say!(
            "accord: warning: the GPU backend failed ({}); finished on the CPU",
            super::flags(e)
        );
    }

    let t = Instant::now();
    let options = MultiWriteOptions {
        format: args.out_format.unwrap_or(OutputFormat::Csv),
        label_attribute: args
            .label_attribute
            .clone()
            .unwrap_or_else(|| "label".into()),
        data_type: args.data_type,
        job_name: args.job_name.clone().unwrap_or_else(|| "accord".into()),
        creation_date: args.creation_date.clone().unwrap_or_else(now_iso8601),
    };
    let fill = |out: &mut dyn Write| write_labels(out, &result, &options);
    if let Some(path) = &args.out {
        outputs.write(path, fill)?;
    }
    if let Some(path) = &args.workers_out {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        outputs.write(path, |out| write_workers(out, &result, json))?;
    }
    if let Some(path) = &rejects_path {
        outputs.write(path, |out| io::write_rejects_to(out, &rejects))?;
    }
    outputs.commit()?;
    if args.out.is_none() {
        let mut lock = std::io::BufWriter::new(std::io::stdout().lock());
        fill(&mut lock)?;
        lock.flush()?;
    }
    let write_s = t.elapsed().as_secs_f64();

    if !args.quiet {
        let p = &result.params;
        let how = if p.method == MultiMethod::Mv {
            "on the host: one pass".to_string()
        } else {
            format!(
                "on {}: {} iteration{}, {}{}",
                result.backend,
                result.fit.iterations,
                if result.fit.iterations == 1 { "" } else { "s" },
                if result.fit.converged {
                    "converged"
                } else {
                    "not converged (raise --max-iter?)"
                },
                result
                    .fit
                    .log_likelihood
                    .last()
                    .map_or(String::new(), |ll| format!(", log-likelihood {ll:.6e}"))
            )
        };
        let strength = if result.fit.prior_strength.is_nan() {
            String::new()
        } else {
            format!(
                "; prior strength {}{}",
                result.fit.prior_strength,
                if p.prior_strength.is_none() {
                    " (chosen by the data)"
                } else {
                    ""
                }
            )
        };
        say!("accord: {} {how}{strength}", p.method.name());
        if verbose && p.method.uses_em() {
            let temperatures: Vec<String> = result
                .answers
                .labels
                .iter()
                .zip(&result.fit.temperature)
                .map(|(l, t)| format!("{l} {t}"))
                .collect();
            say!(
                "accord: calibration temperatures: {}",
                temperatures.join(", ")
            );
        }
        let chosen = result.selected.iter().filter(|&&s| s).count();
        let target = args
            .out
            .as_ref()
            .map_or("stdout".to_string(), |p| p.display().to_string());
        say!(
            "accord: wrote {} confidences ({} selected) to {target} in {:.3} s",
            result.answers.n_items() * result.answers.n_labels(),
            chosen,
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.len(), path);
        }
    }
    if verbose {
        say!(
            "accord: phases: read {read_s:.3} s, fit (pack and EM) {fit_s:.3} s, write {write_s:.3} s; peak memory {:.0} MiB",
            peak_memory_mib()
        );
    }
    Ok(())
}
