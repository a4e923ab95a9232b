//! `accord report --task segmentation`: the segmentation section on its own
//! page, from a mask manifest fitted with `smooth-mv` in batches within the
//! default memory budget (the page's figures are gathered batch by batch).

use accord::report::segmentation::{segmentation_section, SegFacts, SegGold, SegReportSink};
use accord::report::HtmlPage;
use accord::segmentation::manifest::MaskManifest;
use accord::segmentation::read::MaskPaths;
use accord::segmentation::{MaskSource, SegConsolidator, SegProgress, DEFAULT_MEMORY_BUDGET};
use accord::Error;

use super::report::Args;

/// Masks over this many pixels are refused, as `consolidate`'s default.
const MAX_PIXELS: u64 = 100_000_000;

pub fn run(args: &Args) -> anyhow::Result<()> {
    if args.method.is_some() {
        return Err(Error::Usage(
            "--method names a classification method; the segmentation report uses smooth-mv".into(),
        )
        .into());
    }
    let mut inputs: Vec<&std::path::Path> = vec![&args.input];
    inputs.extend(args.gold.as_deref());
    super::consolidate::refuse_clashes(&[&args.out], &inputs)?;
    accord::io::check_output_path(&args.out)?;
    let checking = super::progress::spinner(args.quiet);
    checking.set_message(format!("checking the masks of {}", args.input.display()));
    let manifest = MaskManifest::open(
        &args.input,
        None,
        MAX_PIXELS,
        &MaskPaths::default(),
        DEFAULT_MEMORY_BUDGET,
        &mut accord::io::Rejects::strict(),
    )?;
    checking.finish_and_clear();
    let gold = args
        .gold
        .as_deref()
        .map(|g| SegGold::read(g, MAX_PIXELS))
        .transpose()?;
    let mut sink = SegReportSink::new(manifest.class_names().len(), args.review_count, gold);
    let bar = super::progress::images_bar(manifest.n_images() as u64, args.quiet);
    let mut on_pass = |p: &SegProgress| {
        bar.set_message(format!("smooth-mv pass {}", p.pass));
        bar.set_position(p.images_done as u64);
    };
    let selected = super::consolidate::select_backend(args.backend, args.quiet)?;
    let run = SegConsolidator::new()
        .memory_budget(DEFAULT_MEMORY_BUDGET)
        .fit_source_on(selected, &manifest, &mut sink, &mut on_pass)?;
    bar.finish_and_clear();
    let mut page = HtmlPage::new();
    segmentation_section(
        &mut page,
        &run,
        &sink,
        SegFacts {
            classes: manifest.class_names(),
            workers: manifest.worker_names(),
            method: "smooth-mv",
        },
    );
    let html = page.finish(
        &format!("accord report: {}", args.input.display()),
        &format!(
            "accord {}, {}; method smooth-mv{}",
            env!("CARGO_PKG_VERSION"),
            chrono::Local::now().format("%Y-%m-%d %H:%M"),
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
