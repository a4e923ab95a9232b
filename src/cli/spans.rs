//! `accord consolidate --task spans`: a Ground Truth named-entity request,
//! or spans.csv with --responses and --texts, to consolidated spans.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use accord::classification::read::InputFormat;
use accord::classification::write::OutputFormat;
use accord::io;
use accord::spans::read::{read_gt_request, read_tables, SpanInput, SpanReadOptions};
use accord::spans::write::{write_spans, write_workers, SpanOutputFormat, SpanWriteOptions};
use accord::spans::{SpanConsolidator, SpanMethod, SpanParams};
use accord::Error;

use super::consolidate::{count, open_outputs, peak_memory_mib, report_rejects, Args, MethodArg};

/// Flags to the library's parameters.
pub fn params_of(args: &Args) -> anyhow::Result<SpanParams> {
    let method = args
        .method
        .map_or(Ok(SpanMethod::default()), MethodArg::spans)?;
    let mut params = SpanParams::new(method);
    if let Some(m) = args.max_iter {
        params.max_iter = m;
    }
    if let Some(t) = args.tol {
        params.tol = t;
    }
    if let Some(q) = args.quorum {
        params.quorum = q;
    }
    params.jaccard_threshold = args.jaccard_threshold;
    params.seed = args.seed;
    params.tokens = args.tokens;
    params.strict_bio = args.strict_bio;
    params.patience = args.patience;
    params.validate()?;
    Ok(params)
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    if args.out.as_deref() == Some(Path::new("-")) {
        args.out = None;
    }
    let params = params_of(&args)?;
    for (given, flag, instead) in [
        (
            args.gold.is_some(),
            "--gold",
            "score spans with accord evaluate --task spans",
        ),
        (
            args.review_out.is_some(),
            "--review-out",
            "the report lists the least settled texts: accord report --task spans",
        ),
        (
            args.posteriors,
            "--posteriors",
            "each span's confidence is its posterior",
        ),
    ] {
        if given {
            return Err(Error::Usage(format!("{flag} is for classification; {instead}")).into());
        }
    }
    if args.input == Path::new("-") {
        return Err(Error::Usage(
            "--task spans reads files (a request, or spans.csv with --responses and --texts), not standard input".into(),
        )
        .into());
    }
    for input in [
        Some(&args.input),
        args.responses.as_ref(),
        args.texts.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if input.is_dir() {
            return Err(
                Error::Usage(format!("{} is a folder: name a file", input.display())).into(),
            );
        }
    }
    let format = match args.format {
        Some(f) => f,
        None => accord::classification::read::detect_format(&args.input)?,
    };
    let (mut outputs, rejects_path) =
        open_outputs(&args, &[], &[args.responses.as_ref(), args.texts.as_ref()])?;

    // Read.
    let t = Instant::now();
    let options = SpanReadOptions {
        categories: args.categories.clone(),
        offsets: args.offsets,
        skip_invalid: args.skip_invalid,
    };
    let input = match format {
        InputFormat::GtRequest => {
            if args.responses.is_some() || args.texts.is_some() {
                return Err(Error::Usage(
                    "a Ground Truth request holds the texts and every answer: drop --responses and --texts".into(),
                )
                .into());
            }
            read_gt_request(&args.input, &options)?
        }
        InputFormat::Csv => {
            let Some(texts) = &args.texts else {
                return Err(Error::Usage(format!(
                    "{} is a table of spans: name the texts with --texts texts.jsonl (and the answers with --responses responses.csv)",
                    args.input.display()
                ))
                .into());
            };
            if args.responses.is_none() && !args.quiet {
                say!("accord: warning: no --responses: only workers with at least one span count as having answered a text");
            }
            read_tables(&args.input, args.responses.as_deref(), texts, &options)?
        }
        other => {
            return Err(Error::Usage(format!(
                "--task spans reads a Ground Truth request (JSON array) or spans.csv, not {other:?}"
            ))
            .into())
        }
    };
    let read_s = t.elapsed().as_secs_f64();
    let batch = &input.batch;
    if !args.quiet {
        say!(
            "accord: {} by {} on {} ({} answers), {}{}",
            count(batch.n_spans(), "span"),
            count(batch.n_workers(), "worker"),
            count(batch.n_items(), "text"),
            batch.n_responses(),
            count(batch.n_labels(), "label"),
            if batch.repeated_spans > 0 {
                format!("; {} repeated spans counted once", batch.repeated_spans)
            } else {
                String::new()
            }
        );
    }

    // Fit.
    let t = Instant::now();
    let SpanInput {
        batch,
        data_objects,
        rejects,
        offsets,
    } = input;
    let labels = SpanConsolidator::with_params(params.clone()).fit_batch(batch)?;
    let fit_s = t.elapsed().as_secs_f64();

    // Write.
    let t = Instant::now();
    let write_options = SpanWriteOptions {
        format: match args.out_format {
            None | Some(OutputFormat::Csv) => SpanOutputFormat::Csv,
            Some(OutputFormat::Manifest) => SpanOutputFormat::Manifest,
            Some(OutputFormat::GtResponse) => SpanOutputFormat::GtResponse,
            Some(OutputFormat::Parquet) => unreachable!("refused by consolidate::run"),
        },
        label_attribute: args
            .label_attribute
            .clone()
            .unwrap_or_else(|| "label".into()),
        job_name: args.job_name.clone().unwrap_or_else(|| "accord".into()),
        creation_date: args
            .creation_date
            .clone()
            .unwrap_or_else(accord::classification::write::now_iso8601),
    };
    let fill =
        |out: &mut dyn Write| write_spans(out, &labels, &data_objects, &offsets, &write_options);
    if let Some(path) = &args.out {
        outputs.write(path, fill)?;
    }
    if let Some(path) = &args.workers_out {
        let json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        outputs.write(path, |out| write_workers(out, &labels, json))?;
    }
    if let Some(path) = &rejects_path {
        outputs.write(path, |out| io::write_rejects_to(out, &rejects))?;
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
        let fit = &labels.fit;
        let em = if fit.method == SpanMethod::Seq {
            format!(
                ": {} iteration{}, {}{}",
                fit.iterations,
                if fit.iterations == 1 { "" } else { "s" },
                if fit.converged {
                    "converged".to_string()
                } else if fit.settled {
                    settled_note(&fit.changed)
                } else if args.strict_bio {
                    "not converged (raise --max-iter?)".to_string()
                } else {
                    // Measured: on generated crowds the likelihood keeps
                    // rising toward spurious spans (README, Spans).
                    "not converged (more iterations can add spurious spans; --strict-bio settles sooner)".to_string()
                },
                fit.log_likelihood
                    .last()
                    .map_or(String::new(), |ll| format!(", log-likelihood {ll:.6e}"))
            )
        } else {
            ": one pass".into()
        };
        say!("accord: {} on the host{em}", fit.method.name());
        say!(
            "accord: wrote {} on {} to {} in {:.3} s",
            count(fit.n_spans(), "span"),
            count(labels.batch.n_items(), "text"),
            args.out
                .as_ref()
                .map_or("stdout".to_string(), |p| p.display().to_string()),
            started.elapsed().as_secs_f64()
        );
        if let Some(path) = &rejects_path {
            report_rejects(rejects.len(), path);
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

/// Why `seq` stopped under `--patience`: where its decisions settled most.
fn settled_note(changed: &[u64]) -> String {
    let (at, fewest) = changed
        .iter()
        .enumerate()
        .min_by_key(|&(i, &c)| (c, i))
        .map_or((0, 0), |(i, &c)| (i + 1, c));
    format!(
        "decisions settled (fewest tokens changing their most probable tag: {fewest} at iteration {at}, none fewer in the {} since; --patience)",
        changed.len() - at
    )
}
