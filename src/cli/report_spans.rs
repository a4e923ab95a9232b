//! `accord report --task spans`: the spans section on its own page, fitted
//! with the default span method.

use std::path::Path;

use accord::classification::read::{detect_format, InputFormat};
use accord::eval::spans::read_span_table;
use accord::report::spans::spans_section;
use accord::report::HtmlPage;
use accord::spans::read::{read_gt_request, read_tables, SpanReadOptions};
use accord::spans::SpanConsolidator;
use accord::Error;

use super::report::Args;

pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut inputs: Vec<&Path> = vec![&args.input];
    inputs.extend(args.responses.as_deref());
    inputs.extend(args.texts.as_deref());
    inputs.extend(args.gold.as_deref());
    super::consolidate::refuse_clashes(&[&args.out], &inputs)?;
    accord::io::check_output_path(&args.out)?;
    let options = SpanReadOptions::default();
    let input = match detect_format(&args.input)? {
        InputFormat::GtRequest => read_gt_request(&args.input, &options)?,
        _ => {
            let Some(texts) = &args.texts else {
                return Err(Error::Usage(
                    "a spans table needs its texts: add --texts texts.jsonl (and --responses responses.csv)".into(),
                )
                .into());
            };
            read_tables(&args.input, args.responses.as_deref(), texts, &options)?
        }
    };
    let gold = args
        .gold
        .as_deref()
        .map(read_span_table)
        .transpose()?
        .map(|rows| rows.into_iter().map(|(r, _)| r).collect::<Vec<_>>());
    let labels = SpanConsolidator::new().fit_batch(input.batch)?;
    let mut page = HtmlPage::new();
    spans_section(&mut page, &labels, gold.as_deref(), args.review_count);
    let html = page.finish(
        &format!("accord report: {}", args.input.display()),
        &format!(
            "accord {}, {}; method {}{}",
            env!("CARGO_PKG_VERSION"),
            chrono::Local::now().format("%Y-%m-%d %H:%M"),
            labels.fit.method.name(),
            args.gold
                .as_ref()
                .map_or(String::new(), |g| format!("; gold {}", g.display()))
        ),
    );
    accord::io::write_atomic(&args.out, |out| out.write_all(html.as_bytes()))?;
    if !args.quiet {
        say!("accord: wrote {}", args.out.display());
    }
    Ok(())
}
